"""Shopper accounts as plain rules: register and authenticate. One call, one transaction; no Flask request here."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import User
from ..passwords import hash_password, needs_rehash, password_matches


@cache
def _dummy_hash() -> str:
    """Checked when no account matches, so a wrong email costs as long as a wrong password (no probing by timing).

    Made on first use, not at import: a hash at import cost every worker ~100 ms and the hash's memory at start.
    """
    return hash_password("not-a-real-password")


class EmailTaken(Exception):
    """An account with this email already exists."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register_shopper(*, name: str, email: str, password: str, phone: str = "") -> User:
    """Create a shopper with a hashed password; raises EmailTaken (also when another request won the race).

    The slow hash runs before the insert's transaction begins: on SQLite a write transaction holds the one
    write lock, and ~100 ms of scrypt inside it would stall every other shopper. Whatever the form's checks
    read is ended first, for the same reason.
    """
    db.session.rollback()
    user = User(
        email=normalise_email(email),
        name=name.strip(),
        phone=phone,
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    user.set_password(password)  # before the user joins the session: no transaction is open
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken(f"An account with {user.email} already exists.") from None
    return user


def authenticate(email: str, password: str) -> User | None:
    """The shopper these credentials belong to, or None.

    The slow password check runs after the look-up's transaction has ended: on SQLite every transaction
    holds the write lock, and ~100 ms of scrypt per sign-in would stall every other shopper meanwhile.
    """
    row = db.session.execute(sa.select(User.id, User.password_hash).where(User.email == normalise_email(email))).first()
    db.session.rollback()
    if row is None:
        password_matches(_dummy_hash(), password)
        return None
    if not password_matches(row.password_hash, password):
        return None
    _rehash_if_outdated(row.id, row.password_hash, password)
    return db.session.get(User, row.id)


def _rehash_if_outdated(user_id: int, stored_hash: str, password: str) -> None:
    """Store a hash made with today's settings in place of one made with older ones (e.g. 32 MiB scrypt).

    Only a sign-in knows the password to hash again. The hash runs with no transaction open; the update applies
    only if the stored hash is still the one checked (a password changed meanwhile wins).
    """
    method = User.password_hash_method()
    if not needs_rehash(stored_hash, method):
        return
    new_hash = hash_password(password, method=method)
    db.session.execute(
        sa.update(User)
        .where(User.id == user_id, User.password_hash == stored_hash)
        .values(password_hash=new_hash)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
