"""Nothing moves money on a GET; `flask --app shop reconcile` and "Check again" settle what the bank left unknown."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.issuer_client import IssuerUnavailable, NotFound, OutcomeUnknown
from shop.models import Order

HAPPY = "4966010000008741"


def text(response) -> str:
    return response.get_data(as_text=True)


def stored(app, reference: str) -> Order:
    with app.app_context():
        order = db.session.scalar(sa.select(Order).where(Order.reference == reference))
        db.session.expunge(order)
        return order


def reconcile(runner, *args: str):
    return runner.invoke(args=["reconcile", *args])


def changes(result, reference: str) -> list[str]:
    return [line.removeprefix(f"{reference} ") for line in result.output.splitlines() if line.startswith(reference)]


@pytest.fixture
def linked_order(checkout, fake_issuer):
    """HK$520 paid by the happy card, the card linked, no points used yet."""
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    return reference


@pytest.fixture
def points_order(checkout, linked_order):
    checkout.use_points(linked_order, 50_000)
    return linked_order


def leave_redemption_unknown(checkout, fake_issuer, reference: str, *, landed: bool) -> None:
    """Redeem 50,000 points with every answer lost: the bank took them (``landed``) or never got the request."""
    if landed:
        fake_issuer.fail_after("redeem", OutcomeUnknown("outcomeUnknown", "dropped"))
        fake_issuer.fail_before("find_redemption", IssuerUnavailable("issuerUnavailable", "down"))
    else:
        fake_issuer.fail_before("redeem", OutcomeUnknown("outcomeUnknown", "dropped"), times=2)
    response = checkout.use_points(reference, 50_000)
    assert response.status_code == 302


def late_redemption(fake_issuer, reference: str) -> None:
    """The bank commits the first request only now (it was slow; the shop had given up on it)."""
    code = next(link.code for link in fake_issuer.links.values() if link.status == "ACTIVE")
    fake_issuer.redeem(
        reward_link_code=code,
        reference=reference,
        amount_cents=52_000,
        points=50_000,
        description=f"Harbour Mall order {reference}",
        currency_code="HKD",
    )


# --- GET pages only read -------------------------------------------------------------------------


def test_opening_an_order_with_an_unconfirmed_redemption_calls_no_bank_and_offers_check_again(
    app, client, checkout, fake_issuer, linked_order
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    calls = len(fake_issuer.calls)
    page = text(client.get(f"/orders/{linked_order}"))
    assert len(fake_issuer.calls) == calls
    assert 'data-testid="confirming-with-bank"' in page and "Check again" in page
    assert stored(app, linked_order).points_check_needed  # a look-up on the GET used to clear it


def test_the_points_page_of_an_unconfirmed_redemption_sends_the_shopper_to_the_order_page(
    client, checkout, fake_issuer, linked_order
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    response = client.get(f"/checkout/{linked_order}/points")
    assert response.headers["Location"].endswith(f"/orders/{linked_order}")


def test_the_payment_page_of_an_unconfirmed_payment_calls_no_bank(app, client, checkout, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.fail_after("pay", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake_issuer.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    checkout.pay(reference)
    calls = len(fake_issuer.calls)
    page = text(client.get(f"/checkout/{reference}/payment"))
    assert len(fake_issuer.calls) == calls  # the GET used to look the payment up (and could refund a capture)
    assert 'data-testid="confirming-with-bank"' in page
    assert stored(app, reference).status == "PENDING_PAYMENT"


# --- Check again ---------------------------------------------------------------------------------


def test_check_again_finds_a_redemption_that_landed_after_a_look_up_found_nothing(
    app, client, checkout, fake_issuer, linked_order
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    client.get(f"/orders/{linked_order}")  # the look-up here used to find nothing and forget the redemption
    late_redemption(fake_issuer, linked_order)

    response = client.post(f"/orders/{linked_order}/check")

    assert "Confirmed with Summit Bank" in text(client.get(response.headers["Location"]))
    order = stored(app, linked_order)
    assert (order.status, order.points_used, order.points_check_needed) == ("POINTS_APPLIED", 50_000, False)


def test_check_again_leaves_a_recent_intent_unknown_when_the_bank_has_no_record(
    app, client, checkout, fake_issuer, linked_order
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    response = client.post(f"/orders/{linked_order}/check")
    assert "has not confirmed this yet" in text(client.get(response.headers["Location"]))
    assert stored(app, linked_order).points_check_needed
    assert fake_issuer.calls_to("find_redemption")[-1] == {"reference": linked_order}


def test_check_again_settles_a_stale_intent_the_bank_never_received_as_not_made(
    app, client, checkout, fake_issuer, linked_order
):
    app.config["RECONCILE_AFTER_SECONDS"] = 0
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    response = client.post(f"/orders/{linked_order}/check")
    assert "Confirmed with Summit Bank" in text(client.get(response.headers["Location"]))
    order = stored(app, linked_order)
    assert (order.status, order.points_used, order.points_check_needed) == ("PAID", 0, False)
    assert fake_issuer.points_of(HAPPY) == 120_000


def test_check_again_after_an_unconfirmed_payment_records_the_capture_and_moves_on(app, client, checkout, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.fail_after("pay", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake_issuer.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    checkout.pay(reference)
    response = client.post(f"/orders/{reference}/check")
    assert response.headers["Location"].endswith(f"/orders/{reference}")
    assert stored(app, reference).status == "PAID" and len(fake_issuer.payments) == 1


def test_cancelling_waits_while_a_recent_redemption_is_unconfirmed(app, client, checkout, fake_issuer, linked_order):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    response = client.post(f"/orders/{linked_order}/cancel")
    assert "still confirming your points" in text(client.get(response.headers["Location"]))
    assert fake_issuer.calls_to("refund") == []  # refunding now would leave a late redemption's points taken
    assert stored(app, linked_order).status == "PAID"


# --- flask --app shop reconcile ------------------------------------------------------------------


def test_reconcile_confirms_a_redemption_whose_answer_was_lost_and_a_second_run_changes_nothing(
    app, runner, checkout, fake_issuer, linked_order
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=True)

    first = reconcile(runner, "--stale-after", "0")
    second = reconcile(runner, "--stale-after", "0")

    assert first.exit_code == 0, first.output
    assert changes(first, linked_order) == ["redemption confirmed: 50,000 points"]
    assert "1 changed, 0 still unknown" in first.output
    assert second.exit_code == 0 and changes(second, linked_order) == []
    assert "Reconciled 0 order(s): 0 changed" in second.output
    assert stored(app, linked_order).status == "POINTS_APPLIED"
    assert fake_issuer.points_of(HAPPY) == 70_000


def test_reconcile_settles_a_stale_redemption_the_bank_never_received_as_not_made(
    app, runner, checkout, fake_issuer, linked_order
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    result = reconcile(runner, "--stale-after", "0")
    assert result.exit_code == 0, result.output
    assert changes(result, linked_order) == ["redemption not made: no points were taken"]
    order = stored(app, linked_order)
    assert (order.status, order.points_check_needed) == ("PAID", False)


def test_reconcile_leaves_a_recent_intent_to_the_worker_that_may_still_wait(
    app, runner, checkout, fake_issuer, linked_order
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    calls = len(fake_issuer.calls)
    result = reconcile(runner)  # the default: RECONCILE_AFTER_SECONDS (60)
    assert result.exit_code == 0, result.output
    assert changes(result, linked_order) == [
        "left for now: its intent is recent, a worker may still be waiting on the bank"
    ]
    assert len(fake_issuer.calls) == calls and stored(app, linked_order).points_check_needed


def test_reconcile_confirms_a_payment_whose_answer_was_lost(app, runner, checkout, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.fail_after("pay", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake_issuer.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    checkout.pay(reference)
    result = reconcile(runner, "--stale-after", "0")
    assert changes(result, reference) == ["payment confirmed: HK$520.00"]
    assert stored(app, reference).status == "PAID"


def test_reconcile_settles_a_stale_payment_the_gateway_never_received_as_not_made(app, runner, checkout, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.fail_before("pay", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake_issuer.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    checkout.pay(reference)
    result = reconcile(runner, "--stale-after", "0")
    assert changes(result, reference) == ["payment not made: the order waits for payment again"]
    order = stored(app, reference)
    assert (order.status, order.payment_check_needed) == ("PENDING_PAYMENT", False)
    assert reconcile(runner, "--stale-after", "0").output.count(reference) == 0


def test_reconcile_finishes_an_unconfirmed_refund_and_returns_the_points(
    app, runner, client, fake_issuer, points_order
):
    fake_issuer.fail_after("refund", OutcomeUnknown("outcomeUnknown", "dropped"))
    client.post(f"/orders/{points_order}/cancel")

    result = reconcile(runner, "--stale-after", "0")

    assert changes(result, points_order) == ["refund recorded: HK$520.00", "reversal recorded: 50,000 points"]
    order = stored(app, points_order)
    assert (order.status, order.refunded_cents, order.points_reversed) == ("CANCELLED", 52_000, 50_000)
    assert [call["idempotency_key"] for call in fake_issuer.calls_to("refund")] == [f"{points_order}-F1"] * 2
    assert sum(fake_issuer.refunded.values()) == 52_000 and fake_issuer.points_of(HAPPY) == 120_000
    assert changes(reconcile(runner, "--stale-after", "0"), points_order) == []


def test_reconcile_records_a_reversal_whose_answer_was_lost(app, runner, client, fake_issuer, points_order):
    fake_issuer.fail_after("reverse", OutcomeUnknown("outcomeUnknown", "dropped"))
    client.post(f"/orders/{points_order}/cancel")
    result = reconcile(runner, "--stale-after", "0")
    assert changes(result, points_order) == ["reversal recorded: 50,000 points"]
    assert stored(app, points_order).points_reversed == 50_000 and fake_issuer.points_of(HAPPY) == 120_000


def test_reconcile_exits_non_zero_listing_orders_the_bank_could_not_confirm_and_logs_them(
    app, runner, checkout, fake_issuer, linked_order, caplog
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=True)
    fake_issuer.down = True
    with caplog.at_level(logging.WARNING):
        result = reconcile(runner, "--stale-after", "0")
    assert result.exit_code == 1
    assert "1 still unknown" in result.output
    assert f"  {linked_order}: the bank has not confirmed the outcome yet" in result.stderr
    assert any(linked_order in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
    assert stored(app, linked_order).points_check_needed
    fake_issuer.down = False
    assert reconcile(runner, "--stale-after", "0").exit_code == 0
    assert stored(app, linked_order).points_used == 50_000


# --- Swallowed errors are logged with the order reference ---------------------------------------


def test_a_failed_payment_look_up_is_logged_with_the_order_reference(checkout, fake_issuer, caplog):
    reference = checkout.start_order()
    fake_issuer.fail_after("pay", OutcomeUnknown("outcomeUnknown", "dropped"))
    fake_issuer.fail_before("find_payments", IssuerUnavailable("issuerUnavailable", "down"))
    with caplog.at_level(logging.WARNING, logger="shop.checkout.payment"):
        checkout.pay(reference)
    assert [record.getMessage() for record in caplog.records] == [
        f"Payment look-up of {reference} failed (issuerUnavailable): outcome still unknown"
    ]


def test_a_failed_redemption_look_up_is_logged_with_the_order_reference(
    client, checkout, fake_issuer, linked_order, caplog
):
    leave_redemption_unknown(checkout, fake_issuer, linked_order, landed=False)
    fake_issuer.fail_before("find_redemption", IssuerUnavailable("issuerUnavailable", "down"))
    with caplog.at_level(logging.WARNING, logger="shop.checkout.points"):
        client.post(f"/orders/{linked_order}/check")
    assert [record.getMessage() for record in caplog.records] == [
        f"Redemption look-up of {linked_order} failed (issuerUnavailable): outcome still unknown"
    ]


def test_a_refused_cancellation_is_logged_with_the_order_reference(client, fake_issuer, points_order, caplog):
    fake_issuer.fail_before("refund", NotFound("paymentNotFound", "No such payment."))
    with caplog.at_level(logging.WARNING):
        response = client.post(f"/orders/{points_order}/cancel")
    assert "could not cancel this order" in text(client.get(response.headers["Location"]))
    assert any(f"Cancelling order {points_order} failed: paymentNotFound" in r.getMessage() for r in caplog.records)


def test_a_points_balance_the_bank_cannot_give_is_logged_with_the_order_reference(
    client, fake_issuer, linked_order, caplog
):
    fake_issuer.fail_before("balance", IssuerUnavailable("issuerUnavailable", "down"))
    with caplog.at_level(logging.WARNING):
        client.get(f"/checkout/{linked_order}/points")
    assert any(f"Points balance for {linked_order} unavailable" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", ["1.5", "-1", "soon"])
def test_reconcile_refuses_a_stale_after_that_is_not_whole_seconds(runner, value):
    result = reconcile(runner, "--stale-after", value)
    assert result.exit_code == 2
    assert "--stale-after" in result.output
