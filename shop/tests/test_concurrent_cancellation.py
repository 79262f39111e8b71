"""Two requests cancelling one order at the same moment, on SQLite and on PostgreSQL: one refund, one record.

Unlike the "second tab" tests (test_no_lock_during_issuer_calls.py), both cancellations here run in threads of
their own and meet at a barrier while both are inside the refund call, so both come back to record the same
answer at once. On PostgreSQL the re-read after the call holds the order's row lock (bank_call.call_bank); the
unique (order_id, reference) of order_adjustments catches what an unlocked re-read would let through.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest
import sqlalchemy as sa

from shop.checkout import delivery as delivery_rules
from shop.checkout import payment as payment_rules
from shop.extensions import db
from shop.issuer_client import OutcomeUnknown, Refund
from shop.models import Order, OrderAdjustment, Product
from shop.orders import bank_call
from shop.orders import cancellation as cancel_rules

from .fakes import FakeIssuerClient
from .support import make_product, on_both_databases, statements_during
from .test_no_lock_during_issuer_calls import DELIVERY, Cart, Line, card, make_order, stored

BARRIER_SECONDS = 10
only_postgres = pytest.mark.parametrize("app", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


class MeetingBank(FakeIssuerClient):
    """The fake bank, thread-safe, whose refunds wait until ``parties`` of them are in flight before answering."""

    def __init__(self, parties: int = 2) -> None:
        super().__init__()
        self.meeting = threading.Barrier(parties, timeout=BARRIER_SECONDS)
        self._lock = threading.Lock()

    def refund(self, payment_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        with self._lock:
            answer = super().refund(payment_id, amount_cents, idempotency_key)
        self.meeting.wait()
        return answer


def in_threads(app, order_id: int, action, count: int = 2) -> list[BaseException]:
    """Run ``action(order)`` in ``count`` threads, each with its own app context and session; return their errors."""
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                action(db.session.get(Order, order_id))
            except BaseException as error:  # noqa: BLE001 - handed back to the test, which asserts on it
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BARRIER_SECONDS * 3)
    return errors


def stock_of_kettles() -> int:
    return db.session.scalar(sa.select(Product.stock).where(Product.sku == "T-LOCK"))


def adjustments_of(order_id: int) -> list[tuple[str, str, int]]:
    rows = db.session.scalars(sa.select(OrderAdjustment).where(OrderAdjustment.order_id == order_id)).all()
    return [(row.kind, row.reference, row.amount_cents) for row in rows]


@on_both_databases
def test_two_cancellations_at_once_refund_once_and_record_it_once(app, user):
    bank = MeetingBank()
    order = payment_rules.pay_order(make_order(user), card(), bank)
    order_id, reference = order.id, order.reference
    stock_before = stock_of_kettles()
    db.session.commit()

    errors = in_threads(app, order_id, lambda other: cancel_rules.cancel_order(other, bank))

    assert errors == []
    order = stored(order_id)
    assert (order.status, order.refunded_cents, order.refund_count) == ("CANCELLED", 52_000, 1)
    assert adjustments_of(order_id) == [("refund", f"{reference}-F1", 52_000)]
    assert sum(bank.refunded.values()) == 52_000 and stock_of_kettles() == stock_before + 2


def unlocked_call_bank(meeting: threading.Barrier):
    """call_bank as it was before the re-lock: the re-read after the call takes no row lock (then both meet)."""

    def call(order, bank_call_function):
        db.session.commit()
        try:
            return bank_call_function()
        finally:
            if order is not None:
                db.session.refresh(order)
                meeting.wait()

    return call


@only_postgres
def test_an_unlocked_re_read_cannot_record_one_refund_twice_the_constraint_keeps_the_first(
    app, user, monkeypatch, caplog
):
    bank = MeetingBank()
    order = payment_rules.pay_order(make_order(user), card(), bank)
    order_id, reference = order.id, order.reference
    stock_before = stock_of_kettles()
    db.session.commit()
    monkeypatch.setattr(cancel_rules, "call_bank", unlocked_call_bank(threading.Barrier(2, timeout=BARRIER_SECONDS)))

    with caplog.at_level(logging.WARNING, logger="shop.orders.adjustments"):
        errors = in_threads(app, order_id, lambda other: cancel_rules.cancel_order(other, bank))

    assert errors == []
    order = stored(order_id)
    # Both threads read refund_count 0 and tried to record F1: the second insert met the unique constraint.
    assert adjustments_of(order_id) == [("refund", f"{reference}-F1", 52_000)]
    assert (order.status, order.refunded_cents, order.refund_count) == ("CANCELLED", 52_000, 1)
    assert stock_of_kettles() == stock_before + 2
    assert f"Adjustment {reference}-F1 of order id {order_id} was already recorded" in caplog.text


@only_postgres
def test_the_real_call_bank_re_reads_the_order_under_its_row_lock_on_postgresql(app, user, monkeypatch):
    order = make_order(user)
    order_id = order.id
    statements = statements_during(app, lambda: bank_call.call_bank(order, lambda: None))
    db.session.rollback()
    [re_read] = [statement for statement in statements if "FROM orders" in statement]
    assert re_read.rstrip().endswith("FOR UPDATE") and stored(order_id).id == order_id


def sixty_line_order(user) -> Order:
    products = [make_product(f"T-MANY-{number:02d}", 1_000 + number, stock=5) for number in range(60)]
    return delivery_rules.create_order(user.id, Cart([Line(product, 1) for product in products]), DELIVERY)


@on_both_databases
def test_a_cancellation_of_sixty_order_lines_is_kept_pending_and_finished(app, user):
    bank = FakeIssuerClient()
    order = payment_rules.pay_order(sixty_line_order(user), card(), bank)
    order_id = order.id
    every_line = {line.id: 1 for line in order.lines}
    bank.fail_after("refund", OutcomeUnknown("outcomeUnknown", "timed out"))

    with pytest.raises(cancel_rules.CancellationPending):
        cancel_rules.cancel_lines(order, every_line, bank)

    pending = stored(order_id).pending_cancellation
    assert len(pending) > 400  # more than the old String(400) column held
    assert {int(line_id): qty for line_id, qty in json.loads(pending).items()} == every_line
    cancel_rules.cancel_order(stored(order_id), bank)
    order = stored(order_id)
    assert (order.status, order.pending_cancellation, order.refunded_cents) == ("CANCELLED", "", order.total_cents)
    assert [call["idempotency_key"] for call in bank.calls_to("refund")] == [f"{order.reference}-F1"] * 2
