"""The catalogue (shop/data/catalogue.toml) and the demo shoppers, seeded idempotently."""

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from .catalog_data import CATEGORIES, PRODUCTS, ProductData
from .extensions import db
from .models import Category, Product, User


@dataclass(frozen=True)
class DemoShopper:
    email: str
    name: str
    password: str
    phone: str
    note: str
    is_staff: bool = False


DEMO_SHOPPERS = (
    DemoShopper(
        "chan.taiman@example.com", "Chan Tai Man", "demo1234", "91234567", "owns the happy card 4966 0100 0000 8741"
    ),
    DemoShopper(
        "wong.siuming@example.com", "Wong Siu Ming", "demo1234", "92345678", "owns 4966 0100 0000 0102 (800 points)"
    ),
    DemoShopper(
        "ops@harbourmall.example", "Harbour Mall Ops", "demo1234", "", "shop staff: opens /insights", is_staff=True
    ),
)


def seed_catalogue(now: datetime) -> bool:
    """Create missing categories and products; existing rows (and their stock) are left alone, except that
    Chinese text still empty (a database from before the Chinese catalogue) is filled in from the file."""
    created = False
    categories = {category.slug: category for category in db.session.scalars(sa.select(Category))}
    for position, data in enumerate(CATEGORIES):
        if data.slug not in categories:
            categories[data.slug] = Category(slug=data.slug, name=data.name, name_zh=data.name_zh, position=position)
            db.session.add(categories[data.slug])
            created = True
        elif not categories[data.slug].name_zh:
            categories[data.slug].name_zh = data.name_zh
            created = True
    existing = {product.sku: product for product in db.session.scalars(sa.select(Product))}
    for data in PRODUCTS:
        if data.sku in existing:
            created = _fill_in_chinese(existing[data.sku], data) or created
            continue
        db.session.add(
            Product(
                sku=data.sku,
                slug=data.slug,
                name=data.name,
                name_zh=data.name_zh,
                description=data.description,
                description_zh=data.description_zh,
                category=categories[data.category],
                price_cents=data.price_cents,
                stock=data.stock,
                image=data.image,
                created_at=now,
            )
        )
        created = True
    return created


def _fill_in_chinese(product: Product, data: ProductData) -> bool:
    """Back-fill a product's empty Chinese name or description; text already there is the merchant's."""
    changed = False
    if not product.name_zh:
        product.name_zh, changed = data.name_zh, True
    if not product.description_zh:
        product.description_zh, changed = data.description_zh, True
    return changed


def seed_database() -> bool:
    """Create the catalogue and the demo shoppers if missing. Returns True when anything was created."""
    now = datetime.now(UTC).replace(tzinfo=None)
    created = seed_catalogue(now)
    for shopper in DEMO_SHOPPERS:
        if db.session.scalar(sa.select(User).where(User.email == shopper.email)) is None:
            user = User(
                email=shopper.email, name=shopper.name, phone=shopper.phone, created_at=now, is_staff=shopper.is_staff
            )
            user.set_password(shopper.password)
            db.session.add(user)
            created = True
    db.session.commit()
    return created
