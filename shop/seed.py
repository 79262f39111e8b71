"""The catalogue and the demo shoppers (placeholder: the catalogue lands with the storefront)."""

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from .extensions import db
from .models import User


@dataclass(frozen=True)
class DemoShopper:
    email: str
    name: str
    password: str
    phone: str
    note: str


DEMO_SHOPPERS = (
    DemoShopper(
        "chan.taiman@example.com", "Chan Tai Man", "demo1234", "91234567", "owns the happy card 4966 0100 0000 8741"
    ),
    DemoShopper(
        "wong.siuming@example.com", "Wong Siu Ming", "demo1234", "92345678", "owns 4966 0100 0000 0102 (800 points)"
    ),
)


def seed_database() -> bool:
    """Create the demo shoppers if missing. Returns True when anything was created."""
    created = False
    now = datetime.now(UTC).replace(tzinfo=None)
    for shopper in DEMO_SHOPPERS:
        if db.session.scalar(sa.select(User).where(User.email == shopper.email)) is None:
            user = User(email=shopper.email, name=shopper.name, phone=shopper.phone, created_at=now)
            user.set_password(shopper.password)
            db.session.add(user)
            created = True
    db.session.commit()
    return created
