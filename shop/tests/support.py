"""Test data builders shared by the shop's tests (call inside an app context)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.issuer_client import IssuerError
from shop.models import Category, Product
from shop.orders.bank_call import BankRefused

# The test runs on SQLite, and again on a fresh PostgreSQL database when TEST_POSTGRES_URL is set.
on_both_databases = pytest.mark.parametrize(
    "app", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def make_product(sku: str, price_cents: int, stock: int = 10, name: str | None = None) -> Product:
    """The test product with this SKU, created (and committed) in the first category if it is not there yet."""
    existing = db.session.scalar(sa.select(Product).where(Product.sku == sku))
    if existing is not None:
        return existing
    product = Product(
        sku=sku,
        slug=sku.lower(),
        name=name or f"Test {sku}",
        description="A test product.",
        category_id=db.session.scalar(sa.select(Category.id).order_by(Category.id)),
        price_cents=price_cents,
        stock=stock,
        image="shop/products/test.svg",
        created_at=datetime(2026, 11, 26),
    )
    db.session.add(product)
    db.session.commit()
    return product


@contextmanager
def bank_refusal(error_class: type[IssuerError]) -> Iterator[pytest.ExceptionInfo[BankRefused]]:
    """Expect a rule to raise the shop's BankRefused for the issuer client's ``error_class`` (kept as its cause)."""
    with pytest.raises(BankRefused) as caught:
        yield caught
    assert caught.value.error_class is error_class
    assert type(caught.value.__cause__) is error_class
    assert caught.value.code == caught.value.__cause__.code


def fresh_interpreter_output(code: str) -> str:
    """What ``code`` prints in a new Python process: for import checks, which a test process cannot make."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.strip()


def statements_during(app, call: Callable[[], object]) -> list[str]:
    """The SQL the app's engine ran (SQLAlchemy's ``before_cursor_execute``) while ``call()`` ran."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return statements
