"""No database transaction is open while the shop waits on the bank, and money stays safe without one.

The fake bank takes SQLite's write lock from another connection during every call (fakes.assert_database_
writable), as another shopper's request would: a transaction left open across a call fails these tests. The
"second tab" tests act on the same order from another session while the first tab's call is in flight.
"""

from __future__ import annotations

import time

import pytest
import requests
import sqlalchemy as sa
from requests.adapters import BaseAdapter

from shop import issuer_client as ic
from shop.checkout import card_link as link_rules
from shop.checkout import delivery as delivery_rules
from shop.checkout import payment as payment_rules
from shop.checkout import points as points_rules
from shop.extensions import db
from shop.issuer_client import OutcomeUnknown
from shop.models import Order, OrderAdjustment, Product, PwpEvent, User
from shop.orders import cancellation as cancel_rules

from .fakes import FakeIssuerClient, LockHeldDuringIssuerCall, assert_database_writable
from .support import make_product, on_both_databases

HAPPY = "4966010000008741"
DELIVERY = delivery_rules.Delivery("Chan Tai Man", "91234567", "1 Harbour Road", "Wan Chai")
EVERY_CALL = {"pay", "find_payments", "enroll", "resend_otp", "verify_otp", "balance", "redeem"}
EVERY_CALL |= {"find_redemption", "refund", "reverse"}


class Line:
    def __init__(self, product: Product, quantity: int) -> None:
        self.product = product
        self.quantity = quantity


class Cart:
    delivery_fee_cents = 0

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines


def make_order(user: User, quantity: int = 2) -> Order:
    """A HK$520 order for two kettles (HK$260 each)."""
    product = make_product("T-LOCK", 26_000, name="Test kettle")
    return delivery_rules.create_order(user.id, Cart([Line(product, quantity)]), DELIVERY)


def card(number: str = HAPPY) -> payment_rules.CardDetails:
    return payment_rules.CardDetails(number, 12, 2030, "123", "CHAN TAI MAN")


def link_card(order: Order, fake: FakeIssuerClient) -> None:
    link_rules.send_code(order, "91234567", fake)
    link_rules.verify_code(order, fake.last_otp("91234567"), fake)


def stored(order_id: int) -> Order:
    """The order as committed, read afresh."""
    db.session.rollback()
    return db.session.get(Order, order_id, populate_existing=True)


def probed_every_call(fake: FakeIssuerClient) -> bool:
    return fake.lock_probes == [name for name, _kwargs in fake.calls]


# --- The probe itself ---------------------------------------------------------------------------


def test_the_probe_fails_while_a_transaction_holds_the_write_lock(ctx, fake):
    # A write not yet committed: SQLite's write lock, or PostgreSQL's row locks (the transaction has an id).
    db.session.execute(sa.update(Product).values(stock=Product.stock))
    with pytest.raises(LockHeldDuringIssuerCall, match="locked during the issuer call balance"):
        fake.balance("RL-any")
    db.session.rollback()
    assert assert_database_writable("balance")


def test_the_probe_checks_nothing_outside_an_app(fake):
    assert assert_database_writable("pay") is False


# --- Every call of a whole journey is made without a lock ---------------------------------------


def test_no_issuer_call_of_a_whole_order_journey_holds_the_lock(user, fake):
    order = make_order(user)
    order_id = order.id
    fake.fail_after("pay", OutcomeUnknown("outcomeUnknown", "timed out"))
    fake.fail_before("find_payments", ic.IssuerUnavailable("issuerUnavailable", "down"))
    with pytest.raises(payment_rules.PaymentOutcomeUnknown):
        payment_rules.pay_order(order, card(), fake)
    payment_rules.pay_order(stored(order_id), card(), fake)  # looks the first attempt up and records it
    order = stored(order_id)
    link_rules.send_code(order, "91234567", fake)
    fake.advance(seconds=31)
    link_rules.resend_code(order, fake)
    link_rules.verify_code(order, fake.last_otp("91234567"), fake)
    fake.fail_after("redeem", OutcomeUnknown("outcomeUnknown", "timed out"))
    points_rules.apply_points(order, 25_000, fake)
    fake.fail_after("refund", OutcomeUnknown("outcomeUnknown", "timed out"))
    with pytest.raises(cancel_rules.CancellationPending):
        cancel_rules.cancel_lines(order, {order.lines[0].id: 1}, fake)
    fake.fail_after("reverse", OutcomeUnknown("outcomeUnknown", "timed out"))
    with pytest.raises(cancel_rules.CancellationPending):
        cancel_rules.cancel_lines(stored(order_id), {}, fake)
    cancel_rules.cancel_order(stored(order_id), fake)

    order = stored(order_id)
    assert order.status == "CANCELLED" and order.points_reversed == 25_000
    assert {name for name, _kwargs in fake.calls} >= EVERY_CALL
    assert probed_every_call(fake)


def test_no_issuer_call_made_by_the_checkout_and_order_pages_holds_the_lock(checkout, client, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.fail_after("pay", OutcomeUnknown("outcomeUnknown", "timed out"))
    checkout.pay(reference)
    assert client.get(f"/checkout/{reference}/payment").status_code == 302  # resolved by the look-up
    checkout.send_code(reference)
    fake_issuer.advance(seconds=31)
    client.post(f"/checkout/{reference}/points/resend")
    checkout.verify(reference, fake_issuer.last_otp("91234567"))
    assert client.get(f"/checkout/{reference}/points").status_code == 200
    fake_issuer.fail_after("redeem", OutcomeUnknown("outcomeUnknown", "timed out"))
    fake_issuer.fail_before("find_redemption", ic.IssuerUnavailable("issuerUnavailable", "down"))
    checkout.use_points(reference, 25_000)
    assert client.get(f"/orders/{reference}").status_code == 200  # settles the redemption by look-up
    fake_issuer.fail_after("reverse", OutcomeUnknown("outcomeUnknown", "timed out"))
    client.post(f"/orders/{reference}/cancel")
    assert client.get(f"/orders/{reference}").status_code == 200  # reverses the points still due

    assert {name for name, _kwargs in fake_issuer.calls} >= EVERY_CALL
    assert probed_every_call(fake_issuer)


def test_another_shopper_browses_and_signs_in_while_a_payment_waits_on_the_bank(app, checkout, fake_issuer):
    reference = checkout.start_order()
    seen = {}

    def another_shopper() -> None:
        visitor = app.test_client()
        started = time.monotonic()
        seen["product"] = visitor.get("/product/t-checkout").status_code
        seen["sign_in"] = visitor.post(
            "/account/sign-in", data={"email": "chan.taiman@example.com", "password": "demo1234"}
        ).status_code
        seen["seconds"] = time.monotonic() - started

    fake_issuer.during("pay", another_shopper)
    assert checkout.pay(reference).status_code == 302
    # Not a speed check: a held write lock would make the sign-in wait out SQLite's 30 s busy timeout (or the
    # shop's 30 s writer gate), so anything well under that proves no lock; 10 s leaves room for a loaded machine.
    assert seen["product"] == 200 and seen["sign_in"] == 302 and seen["seconds"] < 10


# --- Intent is committed before each money call -------------------------------------------------


def _read(order_id: int, column: str):
    """A column as another connection sees it: what survives if this process dies now."""
    with db.engine.connect() as connection:  # a connection of its own, not the session's
        return connection.execute(sa.text(f"SELECT {column} FROM orders WHERE id = :id"), {"id": order_id}).scalar_one()


def test_a_payment_attempt_is_on_record_before_the_card_is_charged(user, fake):
    order = make_order(user)
    order_id = order.id
    seen = {}

    def look() -> None:
        seen.update(attempts=_read(order_id, "payment_attempts"), check=_read(order_id, "payment_check_needed"))

    fake.during("pay", look)
    payment_rules.pay_order(order, card(), fake)
    assert seen == {"attempts": 1, "check": 1}
    assert stored(order_id).payment_check_needed is False


def test_a_worker_dying_mid_payment_is_settled_by_the_look_up_without_a_second_charge(user, fake):
    order = make_order(user)
    order_id = order.id
    fake.fail_after("pay", RuntimeError("worker killed"))
    with pytest.raises(RuntimeError, match="worker killed"):
        payment_rules.pay_order(order, card(), fake)
    order = stored(order_id)
    assert order.status == "PENDING_PAYMENT" and order.payment_check_needed
    assert payment_rules.confirm_payment(order, fake, stale=False) == "captured"
    assert stored(order_id).status == "PAID" and len(fake.payments) == 1


def test_a_redemption_is_flagged_for_look_up_before_it_is_sent(user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id = order.id
    link_card(order, fake)
    seen = {}
    fake.during("redeem", lambda: seen.update(check=_read(order_id, "points_check_needed")))
    points_rules.apply_points(stored(order_id), 25_000, fake)
    assert seen == {"check": 1}
    assert stored(order_id).points_check_needed is False


def test_a_worker_dying_mid_redemption_is_settled_by_the_look_up(user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id = order.id
    link_card(order, fake)
    fake.fail_after("redeem", RuntimeError("worker killed"))
    with pytest.raises(RuntimeError, match="worker killed"):
        points_rules.apply_points(stored(order_id), 25_000, fake)
    assert stored(order_id).points_check_needed
    assert points_rules.reconcile_points(stored(order_id), fake) is True
    order = stored(order_id)
    assert (order.status, order.points_used) == ("POINTS_APPLIED", 25_000)


def test_a_cancellation_is_on_record_before_the_refund_is_sent(user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id = order.id
    line_id = order.lines[0].id
    seen = {}
    fake.during("refund", lambda: seen.update(pending=_read(order_id, "pending_cancellation")))
    cancel_rules.cancel_lines(order, {line_id: 1}, fake)
    assert seen == {"pending": f'{{"{line_id}": 1}}'}
    assert stored(order_id).pending_cancellation == ""


def test_a_worker_dying_mid_refund_is_finished_with_the_same_key(user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id = order.id
    fake.fail_after("refund", RuntimeError("worker killed"))
    with pytest.raises(RuntimeError, match="worker killed"):
        cancel_rules.cancel_order(order, fake)
    assert stored(order_id).pending_cancellation
    cancel_rules.cancel_order(stored(order_id), fake)
    order = stored(order_id)
    keys = [call["idempotency_key"] for call in fake.calls_to("refund")]
    assert order.status == "CANCELLED" and keys == [f"{order.reference}-F1"] * 2
    assert order.refunded_cents == 52_000 and sum(fake.refunded.values()) == 52_000


# --- A second tab acting while the first tab's call is in flight -------------------------------


def second_tab(app, action):
    """Run ``action(order)`` on the order in a separate session, as another request of the same shopper."""

    def run(order_id: int):
        def act():
            with app.app_context():
                action(db.session.get(Order, order_id))

        return act

    return run


@on_both_databases
def test_two_tabs_paying_at_once_charge_the_card_once_and_record_it_once(app, user, fake):
    order = make_order(user)
    order_id = order.id
    fake.during("pay", second_tab(app, lambda other: payment_rules.pay_order(other, card(), fake))(order_id))
    payment_rules.pay_order(order, card(), fake)
    order = stored(order_id)
    events = db.session.scalars(sa.select(PwpEvent.kind).where(PwpEvent.order_id == order_id)).all()
    assert order.status == "PAID" and len(fake.payments) == 1 and order.payment_attempts == 1
    assert events == ["card_paid_eligible"]


@on_both_databases
def test_two_tabs_redeeming_at_once_take_the_points_once(app, user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id = order.id
    link_card(order, fake)
    fake.during("redeem", second_tab(app, lambda other: points_rules.apply_points(other, 25_000, fake))(order_id))
    points_rules.apply_points(stored(order_id), 25_000, fake)
    order = stored(order_id)
    events = db.session.scalars(
        sa.select(PwpEvent.kind).where(PwpEvent.order_id == order_id, PwpEvent.kind == "points_redeemed")
    ).all()
    assert (order.status, order.points_used) == ("POINTS_APPLIED", 25_000)
    assert fake.points_of(HAPPY) == 120_000 - 25_000 and events == ["points_redeemed"]


@on_both_databases
def test_two_tabs_cancelling_at_once_refund_and_restock_once(app, user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id = order.id
    stock_before = db.session.scalar(sa.select(Product.stock).where(Product.sku == "T-LOCK"))
    fake.during("refund", second_tab(app, lambda other: cancel_rules.cancel_order(other, fake))(order_id))
    cancel_rules.cancel_order(order, fake)  # the other tab finished this very cancellation meanwhile
    order = stored(order_id)
    refunds = db.session.scalars(sa.select(OrderAdjustment).where(OrderAdjustment.order_id == order_id)).all()
    stock_after = db.session.scalar(sa.select(Product.stock).where(Product.sku == "T-LOCK"))
    assert order.status == "CANCELLED" and order.refunded_cents == 52_000 and len(refunds) == 1
    assert sum(fake.refunded.values()) == 52_000 and stock_after == stock_before + 2


@on_both_databases
def test_two_tabs_returning_points_at_once_record_the_reversal_once(app, user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id = order.id
    link_card(order, fake)
    points_rules.apply_points(stored(order_id), 25_000, fake)
    fake.fail_after("reverse", OutcomeUnknown("outcomeUnknown", "timed out"))
    with pytest.raises(cancel_rules.CancellationPending):
        cancel_rules.cancel_order(stored(order_id), fake)
    fake.during("reverse", second_tab(app, lambda other: cancel_rules.settle_points(other, fake))(order_id))
    cancel_rules.settle_points(stored(order_id), fake)
    order = stored(order_id)
    assert (order.points_reversed, order.reversal_count) == (25_000, 1)
    assert fake.points_of(HAPPY) == 120_000


# --- The real client's safety net ---------------------------------------------------------------


class RecordingTransport(BaseAdapter):
    """Answers every request with a balance (or a token), recording what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, request, **_kwargs):
        self.sent.append(request.path_url)
        response = requests.Response()
        response.status_code = 200
        response.url = request.url
        if request.path_url.startswith(ic.TOKEN_PATH):
            response._content = b'{"access_token": "t", "expires_in": 300}'
        else:
            response._content = (
                b'{"isRedemptionEligible": true, "availablePointBalance": 1000, "programConversionRate": "0.004",'
                b' "currencyCode": "HKD", "redemptionPointIncrement": 25, "minimumPointsToRedeem": 1000,'
                b' "maximumPointsToRedeem": 1000}'
            )  # a whole balance: the client reads answers strictly
        return response

    def close(self) -> None:
        pass


def recording_client(before_request) -> tuple[ic.IssuerClient, RecordingTransport]:
    transport = RecordingTransport()
    session = requests.Session()
    session.mount("http://", transport)
    client = ic.IssuerClient("http://bank.test", "harbour-mall", "s", session=session, before_request=before_request)
    return client, transport


def test_the_client_asks_the_hook_before_every_request_it_sends():
    seen: list[tuple[str, str]] = []
    client, transport = recording_client(lambda method, path: seen.append((method, path)))
    client.balance("RL-1")
    assert seen == [("POST", ic.TOKEN_PATH), ("GET", f"{ic.REWARDS_PATH}/RL-1/pointBalance")]
    assert len(transport.sent) == 2


def test_a_refusing_hook_stops_the_request_from_being_sent():
    def refuse(method: str, path: str) -> None:
        raise ic.TransactionOpenDuringIssuerCall(f"{method} {path}")

    client, transport = recording_client(refuse)
    with pytest.raises(ic.TransactionOpenDuringIssuerCall, match="POST"):
        client.balance("RL-1")
    assert transport.sent == []


def test_the_apps_client_refuses_to_call_the_bank_inside_a_transaction_under_test(app):
    with app.app_context():
        client = ic.get_issuer_client()
        assert client.before_request is ic.no_transaction_open
        ic.no_transaction_open("GET", "/v1/x")  # no transaction: fine
        db.session.scalar(sa.select(Order.id))
        with pytest.raises(ic.TransactionOpenDuringIssuerCall, match="GET /v1/x"):
            ic.no_transaction_open("GET", "/v1/x")
        db.session.rollback()


def test_a_running_shop_logs_a_transaction_open_during_a_call_instead_of_failing(app, caplog):
    app.testing = False
    with app.app_context():
        db.session.scalar(sa.select(Order.id))
        ic.no_transaction_open("GET", "/v1/x")
        db.session.rollback()
    assert "transaction is open during the issuer call GET /v1/x" in caplog.text


def test_a_second_click_that_finds_the_points_already_applied_shows_the_order(app, checkout, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    with app.app_context():
        order_id = db.session.scalar(sa.select(Order.id).where(Order.reference == reference))
    # The first click applies the points while the second waits on the balance.
    first_click = second_tab(app, lambda other: points_rules.apply_points(other, 25_000, fake_issuer))(order_id)
    fake_issuer.during("balance", first_click)
    response = checkout.use_points(reference, 25_000)
    assert response.status_code == 302 and response.headers["Location"] == f"/orders/{reference}"
    assert len(fake_issuer.calls_to("redeem")) == 1 and fake_issuer.points_of(HAPPY) == 120_000 - 25_000


# --- A capture the order cannot keep is given back ------------------------------------------------


def test_a_capture_that_lands_after_the_order_was_cancelled_is_refunded_in_full(user, fake):
    order = make_order(user)
    order_id, total = order.id, order.total_cents

    def cancelled_by_another_tab() -> None:
        with db.engine.begin() as connection:  # another tab's own connection and transaction
            connection.execute(
                sa.text("UPDATE orders SET status = 'CANCELLED', payment_check_needed = :no WHERE id = :id"),
                {"no": False, "id": order_id},
            )

    fake.during("pay", cancelled_by_another_tab)
    payment_rules.pay_order(order, card(), fake)

    order = stored(order_id)
    assert order.status == "CANCELLED"
    [refund] = fake.calls_to("refund")
    assert refund["amount_cents"] == total
    assert refund["idempotency_key"].startswith(f"{order.reference}-V-")
    assert [(adjustment.kind, adjustment.amount_cents) for adjustment in order.adjustments] == [("refund", total)]


def test_a_second_capture_of_a_paid_order_found_by_look_up_is_refunded_and_the_first_kept(user, fake):
    order = payment_rules.pay_order(make_order(user), card(), fake)
    order_id, reference, total, kept = order.id, order.reference, order.total_cents, order.payment_id
    # Another attempt captured too (e.g. a tab that raced with another key): the gateway holds two captures.
    db.session.rollback()
    fake.pay(
        amount_cents=total,
        card_number=HAPPY,
        expiry_month=12,
        expiry_year=2030,
        cvc="123",
        holder_name="CHAN TAI MAN",
        merchant_reference=reference,
        idempotency_key=f"{reference}-P9",
    )
    order = stored(order_id)
    order.payment_check_needed = True
    db.session.commit()

    assert payment_rules.confirm_payment(order, fake, stale=False) == "captured"
    assert payment_rules.confirm_payment(stored(order_id), fake, stale=False) == "captured"  # refunds nothing more

    order = stored(order_id)
    assert (order.status, order.payment_id, order.refunded_cents) == ("PAID", kept, 0)
    [refund] = fake.calls_to("refund")
    assert refund["payment_id"] != kept and refund["amount_cents"] == total
    assert [(adjustment.kind, adjustment.amount_cents) for adjustment in order.adjustments] == [("refund", total)]
