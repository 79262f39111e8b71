"""call_bank, the one way the shop calls the bank: intent committed first, no transaction during the call,
the order re-read under its row lock afterwards (answer or error)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from shop.checkout.delivery import Delivery, create_order
from shop.extensions import db
from shop.models import Order, User
from shop.orders.bank_call import BankRefused, call_bank

from .conftest import close_app, make_app
from .fakes import LockHeldDuringIssuerCall, assert_database_writable
from .support import make_product


class Line:
    def __init__(self, product, quantity: int) -> None:
        self.product = product
        self.quantity = quantity


class Cart:
    delivery_fee_cents = 0

    def __init__(self, lines) -> None:
        self.lines = lines


def an_order() -> Order:
    user = db.session.scalar(sa.select(User).where(User.email == "chan.taiman@example.com"))
    product = make_product("T-BANKCALL", 26_000)
    return create_order(user.id, Cart([Line(product, 1)]), Delivery("Chan", "91234567", "1 Road", "Wan Chai"))


def committed_attempts(order_id: int) -> int:
    """payment_attempts as another connection sees it (only what is committed)."""
    with db.engine.connect() as connection:
        return connection.scalar(sa.select(Order.payment_attempts).where(Order.id == order_id))


def test_the_intent_is_committed_and_no_transaction_is_open_during_the_call(ctx):
    order = an_order()
    order_id = order.id
    order.payment_attempts = 7  # the intent, not committed yet
    seen = {}

    def the_call():
        seen["in_transaction"] = db.session().in_transaction()
        seen["committed"] = committed_attempts(order_id)
        seen["writable"] = assert_database_writable("the_call")  # raises if the write lock is held
        return "answer"

    assert call_bank(order, the_call) == "answer"
    assert seen == {"in_transaction": False, "committed": 7, "writable": True}


def test_after_the_call_the_order_is_read_again_and_its_lock_is_held(ctx):
    order = an_order()
    order_id = order.id

    def another_tab_moves_on():
        db.session.rollback()
        with db.engine.begin() as other:  # another tab's own connection and transaction
            other.execute(sa.text("UPDATE orders SET payment_attempts = 3 WHERE id = :id"), {"id": order_id})

    call_bank(order, another_tab_moves_on)
    assert (
        db.session().in_transaction()
    )  # re-locked: the new transaction holds the write lock (SQLite) or the row's (PostgreSQL)
    assert "payment_attempts" in order.__dict__ and order.payment_attempts == 3  # loaded, not lazily later
    with pytest.raises(LockHeldDuringIssuerCall):
        assert_database_writable("after")
    db.session.rollback()


def test_an_error_from_the_bank_comes_back_unchanged_with_the_order_re_read(ctx):
    order = an_order()
    order.payment_check_needed = True
    refusal = RuntimeError("the bank said no")

    def refused():
        assert not db.session().in_transaction()
        raise refusal

    with pytest.raises(RuntimeError) as caught:
        call_bank(order, refused)
    assert caught.value is refusal
    assert db.session().in_transaction() and order.__dict__["payment_check_needed"] is True
    db.session.rollback()


def test_a_call_without_an_order_only_commits_first(ctx):
    order = an_order()
    order_id = order.id
    order.payment_attempts = 5
    assert call_bank(None, lambda: db.session().in_transaction()) is False
    assert not db.session().in_transaction()
    assert committed_attempts(order_id) == 5


def test_bank_refused_keeps_the_clients_code_class_and_attempts_left():
    from shop.issuer_client import InvalidOtp, IssuerUnavailable, OutcomeUnknown, RedemptionRejected

    wrong = BankRefused.from_issuer(InvalidOtp("invalidLinkageConfirmationCode", "No.", 422, {"attemptsRemaining": 2}))
    assert (wrong.code, wrong.error_class, wrong.attempts_remaining, wrong.unavailable) == (
        "invalidLinkageConfirmationCode",
        InvalidOtp,
        2,
        False,
    )
    assert BankRefused.from_issuer(IssuerUnavailable("issuerUnavailable")).unavailable
    assert BankRefused.from_issuer(OutcomeUnknown("outcomeUnknown")).unavailable
    rejected = BankRefused.from_issuer(RedemptionRejected("inSufficientPointBalance", "Not enough points."))
    assert (rejected.unavailable, rejected.attempts_remaining, rejected.details) == (False, None, "Not enough points.")


# --- PostgreSQL: the re-lock is a row lock ------------------------------------------------------


@pytest.fixture
def postgres_app(tmp_path, fresh_postgres_url):
    """The seeded shop on a fresh PostgreSQL database (dropped afterwards); skipped without TEST_POSTGRES_URL."""
    app = make_app(tmp_path, DATABASE_URL=fresh_postgres_url)
    yield app
    close_app(app)


def row_lock_free(order_id: int) -> bool:
    """Whether another connection can take the order's row lock right now (FOR UPDATE NOWAIT)."""
    other = sa.create_engine(db.engine.url, poolclass=NullPool)
    try:
        with other.connect() as connection:
            connection.execute(sa.select(Order.id).where(Order.id == order_id).with_for_update(nowait=True))
            connection.rollback()
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        other.dispose()


@pytest.mark.postgres
def test_on_postgresql_the_row_lock_is_let_go_for_the_call_and_taken_again_after(postgres_app):
    with postgres_app.app_context():
        order = an_order()
        order_id = order.id
        db.session.scalar(sa.select(Order).where(Order.id == order_id).with_for_update())  # as the views lock it
        assert not row_lock_free(order_id)
        free_during_call = call_bank(order, lambda: row_lock_free(order_id))
        assert free_during_call is True
        assert not row_lock_free(order_id)  # re-locked for recording the answer
        db.session.commit()
        assert row_lock_free(order_id)
