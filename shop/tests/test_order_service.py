"""Order rules with the fake bank: create, pay, apply points, cancel, and retries that never charge twice."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from shop.checkout import card_link as link_rules
from shop.checkout import delivery as delivery_rules
from shop.checkout import offer as offer_rules
from shop.checkout import payment as payment_rules
from shop.checkout import points as points_rules
from shop.extensions import db
from shop.issuer_client import IssuerUnavailable, OutcomeUnknown, RedemptionRejected
from shop.models import Order, OrderAdjustment, Product, PwpEvent, User
from shop.orders import cancellation as cancel_rules
from shop.orders import rules as order_rules

from .fakes import FakeIssuerClient
from .support import bank_refusal, make_product

HAPPY = "4966010000008741"
PREMIER = "4966020000001190"
DEBIT = "4966030000004300"
OTHER_BANK = "4242424242424242"
FROZEN = "4966010000007404"
LOW_LIMIT = "4966010000005051"


@dataclass
class Line:
    product: Product
    quantity: int


@dataclass
class Cart:
    lines: list[Line]
    delivery_fee_cents: int = 0

    @property
    def subtotal_cents(self) -> int:
        return sum(line.product.price_cents * line.quantity for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.delivery_fee_cents


DELIVERY = delivery_rules.Delivery("Chan Tai Man", "91234567", "1 Harbour Road", "Wan Chai")


def card(number: str = HAPPY) -> payment_rules.CardDetails:
    return payment_rules.CardDetails(number, 12, 2030, "123", "CHAN TAI MAN")


@pytest.fixture
def cart(ctx):
    """HK$520: a HK$200 rice cooker and two HK$160 kettles, free delivery."""
    return Cart([Line(make_product("T-RICE", 20_000), 1), Line(make_product("T-KETTLE", 16_000), 2)])


def make_order(user, cart) -> Order:
    return delivery_rules.create_order(user.id, cart, DELIVERY)


def paid_order(user, cart, fake, number: str = HAPPY) -> Order:
    order = make_order(user, cart)
    return payment_rules.pay_order(order, card(number), fake)


def link_card(order: Order, fake: FakeIssuerClient, phone: str = "91234567") -> None:
    link_rules.send_code(order, phone, fake)
    link_rules.verify_code(order, fake.last_otp(phone), fake)


def kinds(order: Order) -> list[str]:
    return [e.kind for e in db.session.scalars(sa.select(PwpEvent).where(PwpEvent.order_id == order.id))]


# --- Creating -----------------------------------------------------------------------------------


def test_an_order_is_created_from_the_cart_with_a_price_snapshot_and_reserved_stock(user, cart):
    order = make_order(user, cart)
    assert order.reference.startswith("HM-") and len(order.reference) == 9 and order.reference[3:].isdigit()
    assert order.status == "PENDING_PAYMENT"
    assert order.total_cents == 52_000
    assert [(line.product_name, line.unit_price_cents, line.quantity) for line in order.lines] == [
        ("Test T-RICE", 20_000, 1),
        ("Test T-KETTLE", 16_000, 2),
    ]
    assert [line.product.stock for line in cart.lines] == [9, 8]


def test_the_delivery_fee_is_added_to_the_total(user, ctx):
    order = make_order(user, Cart([Line(make_product("T-SOAP", 3_000), 1)], delivery_fee_cents=4_000))
    assert (order.subtotal_cents, order.delivery_fee_cents, order.total_cents) == (3_000, 4_000, 7_000)


def test_an_order_beyond_stock_is_refused_and_reserves_nothing(user, ctx):
    plenty = make_product("T-PLENTY", 1_000, stock=5)
    scarce = make_product("T-SCARCE", 1_000, stock=1)
    with pytest.raises(delivery_rules.OutOfStock, match="Test T-SCARCE"):
        make_order(user, Cart([Line(plenty, 2), Line(scarce, 2)]))
    db.session.expire_all()
    assert (plenty.stock, scarce.stock) == (5, 1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_an_empty_cart_cannot_be_ordered(user):
    with pytest.raises(delivery_rules.EmptyCart, match="empty"):
        make_order(user, Cart([]))


def test_references_are_unique(user, ctx):
    item = make_product("T-MANY", 100, stock=100)
    references = {make_order(user, Cart([Line(item, 1)])).reference for _ in range(20)}
    assert len(references) == 20


# --- Paying -------------------------------------------------------------------------------------


def test_a_captured_payment_marks_the_order_paid_with_the_card_tender(user, cart, fake):
    order = paid_order(user, cart, fake)
    assert order.status == "PAID"
    assert (order.card_last4, order.card_brand, order.card_points_eligible) == ("8741", "VISA", True)
    assert order.payment_id.startswith("PAY-")
    call = fake.calls_to("pay")[0]
    assert call["idempotency_key"] == f"{order.reference}-P1"
    assert call["merchant_reference"] == order.reference
    assert call["amount_cents"] == 52_000
    assert kinds(order) == ["card_paid_eligible"]


@pytest.mark.parametrize(("number", "eligible"), [(DEBIT, False), (OTHER_BANK, False), (PREMIER, True)])
def test_only_summit_points_cards_are_points_eligible(user, cart, fake, number, eligible):
    order = paid_order(user, cart, fake, number)
    assert order.status == "PAID"
    assert order.card_points_eligible is eligible
    assert ("card_paid_eligible" in kinds(order)) is eligible


@pytest.mark.parametrize(("number", "code"), [(FROZEN, "cardFrozen"), (LOW_LIMIT, "insufficientCredit")])
def test_a_declined_card_leaves_the_order_payable_with_another_card(user, cart, fake, number, code):
    order = make_order(user, cart)
    with pytest.raises(payment_rules.PaymentDeclined, match=code):
        payment_rules.pay_order(order, card(number), fake)
    assert (order.status, order.decline_code) == ("PAYMENT_DECLINED", code)
    payment_rules.pay_order(order, card(HAPPY), fake)
    assert order.status == "PAID"
    assert [c["idempotency_key"] for c in fake.calls_to("pay")] == [f"{order.reference}-P1", f"{order.reference}-P2"]


def test_a_paid_order_cannot_be_paid_again(user, cart, fake):
    order = paid_order(user, cart, fake)
    with pytest.raises(payment_rules.NotPayable, match="already paid"):
        payment_rules.pay_order(order, card(), fake)
    assert len(fake.calls_to("pay")) == 1


def test_a_payment_timeout_that_did_charge_is_found_by_reference_and_not_charged_again(user, cart, fake):
    order = make_order(user, cart)
    fake.fail_after("pay", OutcomeUnknown("outcomeUnknown", "read timeout"))
    payment_rules.pay_order(order, card(), fake)
    assert order.status == "PAID"
    assert fake.calls_to("find_payments") == [{"merchant_reference": order.reference}]
    assert len(fake.payments) == 1


def test_a_payment_timeout_that_did_not_charge_reuses_the_same_key_next_time(user, cart, fake):
    order = make_order(user, cart)
    fake.fail_before("pay", OutcomeUnknown("outcomeUnknown", "read timeout"))
    with pytest.raises(payment_rules.PaymentOutcomeUnknown):
        payment_rules.pay_order(order, card(), fake)
    assert order.status == "PENDING_PAYMENT" and order.payment_check_needed
    payment_rules.pay_order(order, card(), fake)
    assert order.status == "PAID"
    keys = [c["idempotency_key"] for c in fake.calls_to("pay")]
    assert keys == [f"{order.reference}-P1", f"{order.reference}-P1"]


def test_a_retry_after_an_unknown_outcome_that_did_charge_replays_instead_of_charging_twice(user, cart, fake):
    order = make_order(user, cart)
    fake.fail_after("pay", OutcomeUnknown("outcomeUnknown", "connection dropped"))
    fake.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    with pytest.raises(payment_rules.PaymentOutcomeUnknown):
        payment_rules.pay_order(order, card(), fake)
    # The next attempt looks up first and finds the capture.
    payment_rules.pay_order(order, card(), fake)
    assert order.status == "PAID"
    assert len(fake.payments) == 1
    assert len(fake.calls_to("pay")) == 1


def test_the_gateway_down_charges_nothing_and_keeps_the_order_payable(user, cart, fake):
    order = make_order(user, cart)
    fake.down = True
    with pytest.raises(payment_rules.PaymentUnavailable, match="not been charged"):
        payment_rules.pay_order(order, card(), fake)
    db.session.expire_all()
    assert order.status == "PENDING_PAYMENT" and order.payment_attempts == 0


def test_card_details_never_show_in_their_repr():
    assert "4966" not in repr(card()) and "123" not in str(card())


# --- Points -------------------------------------------------------------------------------------


def test_points_are_redeemed_with_the_order_reference_and_recorded(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    points_rules.apply_points(order, 50_000, fake)
    assert order.status == "POINTS_APPLIED"
    assert (order.points_used, order.statement_credit_cents, order.net_cost_cents) == (50_000, 20_000, 32_000)
    assert order.redemption_order_id.startswith("RDM-")
    call = fake.calls_to("redeem")[0]
    assert (call["reference"], call["amount_cents"], call["points"]) == (order.reference, 52_000, 50_000)
    assert fake.points_of(HAPPY) == 70_000
    assert kinds(order)[-1] == "points_redeemed"


def test_points_beyond_the_order_are_refused_by_the_shop_before_the_bank(user, ctx, fake):
    order = paid_order(user, Cart([Line(make_product("T-CHEAP", 10_000), 1)]), fake)
    link_card(order, fake)
    with pytest.raises(offer_rules.InvalidPoints, match="at most 25,000"):
        points_rules.apply_points(order, 25_025, fake)
    assert fake.calls_to("redeem") == []


def test_points_need_an_active_link(user, cart, fake):
    order = paid_order(user, cart, fake)
    with pytest.raises(link_rules.NoActiveLink):
        points_rules.apply_points(order, 50_000, fake)


def test_a_redemption_timeout_is_looked_up_exactly_once_and_recorded_when_it_happened(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    fake.fail_after("redeem", OutcomeUnknown("outcomeUnknown", "read timeout"))
    points_rules.apply_points(order, 50_000, fake)
    assert order.status == "POINTS_APPLIED" and order.points_used == 50_000
    assert fake.calls_to("find_redemption") == [{"reference": order.reference}]
    assert len(fake.calls_to("redeem")) == 1
    assert fake.points_of(HAPPY) == 70_000


def test_a_redemption_timeout_that_did_not_happen_repeats_the_same_request_once(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    fake.fail_before("redeem", OutcomeUnknown("outcomeUnknown", "read timeout"))
    points_rules.apply_points(order, 50_000, fake)
    assert order.status == "POINTS_APPLIED"
    assert len(fake.calls_to("find_redemption")) == 1
    first, second = fake.calls_to("redeem")
    assert first == second
    assert fake.points_of(HAPPY) == 70_000


def test_an_unresolved_redemption_is_flagged_and_settled_by_the_next_look_up(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    fake.fail_after("redeem", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake.fail_before("find_redemption", IssuerUnavailable("issuerUnavailable", "down"))
    with pytest.raises(points_rules.PointsOutcomeUnknown):
        points_rules.apply_points(order, 50_000, fake)
    assert order.points_check_needed and order.status == "PAID"
    assert kinds(order)[-1] == "failed"
    assert points_rules.reconcile_points(order, fake)
    assert (order.status, order.points_used) == ("POINTS_APPLIED", 50_000)


def test_a_replayed_redemption_debits_once(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    fake.fail_after("redeem", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake.fail_before("find_redemption", IssuerUnavailable("issuerUnavailable", "down"))
    with pytest.raises(points_rules.PointsOutcomeUnknown):
        points_rules.apply_points(order, 50_000, fake)
    order.points_check_needed = False  # pretend the flag was lost: the bank's idempotency still protects
    points_rules.apply_points(order, 50_000, fake)
    assert fake.points_of(HAPPY) == 70_000


def test_a_business_rule_refusal_is_recorded_with_the_bank_code(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    fake.fail_before("redeem", RedemptionRejected("inSufficientPointBalance", "Not enough points.", 422))
    with bank_refusal(RedemptionRejected):
        points_rules.apply_points(order, 50_000, fake)
    event = db.session.scalars(sa.select(PwpEvent).where(PwpEvent.kind == "failed")).one()
    assert event.code == "inSufficientPointBalance"
    assert order.status == "PAID"


def test_premier_points_use_their_own_rate(user, cart, fake):
    order = paid_order(user, cart, fake, PREMIER)
    order.user.phone = "93456789"
    link_card(order, fake, "93456789")
    points_rules.apply_points(order, 20_000, fake)
    assert order.statement_credit_cents == 10_000


# --- Cancelling ---------------------------------------------------------------------------------


def test_cancelling_refunds_the_card_reverses_the_points_and_restocks(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    points_rules.apply_points(order, 50_000, fake)
    cancel_rules.cancel_order(order, fake)
    assert order.status == "CANCELLED" and order.cancelled_at is not None
    assert order.refunded_cents == 52_000
    assert (order.points_reversed, order.credit_reversed_cents) == (50_000, 20_000)
    assert order.net_cost_cents == 0
    assert fake.points_of(HAPPY) == 120_000
    assert fake.calls_to("refund")[0]["idempotency_key"] == f"{order.reference}-F1"
    assert fake.calls_to("reverse")[0]["reference"] == f"{order.reference}-R1"
    assert [line.product.stock for line in cart.lines] == [10, 10]
    adjustments = db.session.scalars(sa.select(OrderAdjustment).order_by(OrderAdjustment.id)).all()
    assert [(a.kind, a.amount_cents, a.points) for a in adjustments] == [
        ("refund", 52_000, 0),
        ("points_reversal", 20_000, 50_000),
    ]


def test_cancelling_a_card_only_order_refunds_and_reverses_nothing(user, cart, fake):
    order = paid_order(user, cart, fake, OTHER_BANK)
    cancel_rules.cancel_order(order, fake)
    assert (order.status, order.refunded_cents) == ("CANCELLED", 52_000)
    assert fake.calls_to("reverse") == []


def test_cancelling_an_unpaid_order_only_restocks(user, cart, fake):
    order = make_order(user, cart)
    cancel_rules.cancel_order(order, fake)
    assert order.status == "CANCELLED"
    assert fake.calls_to("refund") == []
    assert [line.product.stock for line in cart.lines] == [10, 10]


def test_a_cancelled_order_cannot_be_cancelled_again(user, cart, fake):
    order = paid_order(user, cart, fake)
    cancel_rules.cancel_order(order, fake)
    with pytest.raises(cancel_rules.CancelNotAllowed, match="already cancelled"):
        cancel_rules.cancel_order(order, fake)
    assert len(fake.calls_to("refund")) == 1


def test_a_partial_cancel_refunds_the_line_share_and_reverses_points_in_proportion(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    points_rules.apply_points(order, 50_000, fake)
    rice = order.lines[0]
    cancel_rules.cancel_lines(order, {rice.id: 1}, fake)  # HK$200 of HK$520
    assert order.status == "POINTS_APPLIED"
    assert order.refunded_cents == 20_000
    # Kept: floor(50,000 x 320/520) = 30,769 -> 30,750 in steps of 25; reversed 19,250 points = HK$77.
    assert (order.points_reversed, order.credit_reversed_cents) == (19_250, 7_700)
    assert order.net_cost_cents == 52_000 - 20_000 - (20_000 - 7_700)
    assert rice.cancelled_quantity == 1 and rice.product.stock == 10
    # Cancelling the rest refunds what is left and gives back every remaining point.
    cancel_rules.cancel_order(order, fake)
    assert order.status == "CANCELLED"
    assert (order.refunded_cents, order.points_reversed, order.net_cost_cents) == (52_000, 50_000, 0)
    assert [c["reference"] for c in fake.calls_to("reverse")] == [f"{order.reference}-R1", f"{order.reference}-R2"]
    assert fake.points_of(HAPPY) == 120_000


def test_a_partial_cancel_beyond_the_remaining_quantity_is_refused(user, cart, fake):
    order = paid_order(user, cart, fake)
    kettle = order.lines[1]
    cancel_rules.cancel_lines(order, {kettle.id: 1}, fake)
    with pytest.raises(cancel_rules.CancelNotAllowed, match="quantity"):
        cancel_rules.cancel_lines(order, {kettle.id: 2}, fake)
    assert order.refunded_cents == 16_000


def test_cancelling_the_last_item_refunds_the_delivery_fee_too(user, ctx, fake):
    order = paid_order(user, Cart([Line(make_product("T-TEA", 3_000), 2)], delivery_fee_cents=4_000), fake)
    line = order.lines[0]
    cancel_rules.cancel_lines(order, {line.id: 1}, fake)
    assert order.refunded_cents == 3_000
    cancel_rules.cancel_lines(order, {line.id: 1}, fake)
    assert order.refunded_cents == 10_000 and order.status == "CANCELLED"


def test_a_refund_timeout_is_finished_with_the_same_key_on_retry(user, cart, fake):
    order = paid_order(user, cart, fake)
    fake.fail_after("refund", OutcomeUnknown("outcomeUnknown", "dropped"))
    with pytest.raises(cancel_rules.CancellationPending):
        cancel_rules.cancel_order(order, fake)
    assert order.status == "PAID" and order.pending_cancellation
    cancel_rules.cancel_order(order, fake)
    assert order.status == "CANCELLED" and order.refunded_cents == 52_000
    keys = [c["idempotency_key"] for c in fake.calls_to("refund")]
    assert keys == [f"{order.reference}-F1", f"{order.reference}-F1"]
    assert sum(fake.refunded.values()) == 52_000


def test_a_reversal_timeout_is_retried_with_the_same_reference(user, cart, fake):
    order = paid_order(user, cart, fake)
    link_card(order, fake)
    points_rules.apply_points(order, 50_000, fake)
    fake.fail_after("reverse", OutcomeUnknown("outcomeUnknown", "dropped"))
    with pytest.raises(cancel_rules.CancellationPending, match="points are on their way back"):
        cancel_rules.cancel_order(order, fake)
    assert order.status == "CANCELLED" and order.refunded_cents == 52_000
    assert cancel_rules.points_due_back(order) == 50_000
    assert cancel_rules.settle_points(order, fake) == 50_000
    assert [c["reference"] for c in fake.calls_to("reverse")] == [f"{order.reference}-R1"] * 2
    assert fake.points_of(HAPPY) == 120_000 and order.net_cost_cents == 0


def test_cancel_waits_for_an_unknown_payment_to_be_confirmed(user, cart, fake):
    order = make_order(user, cart)
    fake.fail_after("pay", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    with pytest.raises(payment_rules.PaymentOutcomeUnknown):
        payment_rules.pay_order(order, card(), fake)
    fake.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    with pytest.raises(cancel_rules.CancellationPending, match="confirming your payment"):
        cancel_rules.cancel_order(order, fake)
    # Once the bank answers, the capture is found and cancelling refunds it.
    cancel_rules.cancel_order(order, fake)
    assert order.status == "CANCELLED" and order.refunded_cents == 52_000


def test_orders_of_other_shoppers_are_not_found(user, cart, fake):
    order = make_order(user, cart)
    other = db.session.scalar(sa.select(User).where(User.email == "wong.siuming@example.com"))
    with pytest.raises(order_rules.OrderNotFound):
        order_rules.get_order(other.id, order.reference)
    assert order_rules.get_order(user.id, order.reference) is order
