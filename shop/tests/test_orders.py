"""Order pages: confirmation with per-tender amounts, history, cancelling whole orders and some items."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.issuer_client import OutcomeUnknown
from shop.models import Order, Product


def text(response) -> str:
    return response.get_data(as_text=True)


def saved(app, reference: str) -> Order:
    with app.app_context():
        order = db.session.scalar(sa.select(Order).where(Order.reference == reference))
        db.session.expunge(order)
        return order


def stock(app, product_id: int) -> int:
    with app.app_context():
        return db.session.get(Product, product_id).stock


@pytest.fixture
def points_order(checkout, fake_issuer):
    """HK$520 paid by the happy card with 50,000 points (HK$200 credit)."""
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    checkout.use_points(reference, 50_000)
    return reference


def test_history_lists_the_shoppers_orders_newest_first(checkout, client, points_order):
    second = checkout.paid_order("4242 4242 4242 4242")
    page = text(client.get("/orders"))
    assert page.index(second) < page.index(points_order)
    assert "Paid with points" in page and "50,000 points" in page
    assert "HK$320.00" in page  # the net cost of the points order


def test_history_with_no_orders_invites_shopping(shopper, client):
    shopper.sign_in()
    assert "No orders yet" in text(client.get("/orders"))


def test_order_pages_need_sign_in(client):
    assert "/account/sign-in" in client.get("/orders").headers["Location"]


def test_the_confirmation_shows_each_tender_delivery_and_lines(client, points_order):
    page = text(client.get(f"/orders/{points_order}"))
    assert 'data-testid="order-status">Paid with points' in page
    assert "(VISA •••• 8741)" in page
    assert 'data-testid="card-charged">HK$520.00' in page
    assert 'data-testid="points-used">50,000' in page
    assert 'data-testid="statement-credit">− HK$200.00' in page
    assert 'data-testid="net-cost">HK$320.00' in page
    assert "1 Harbour Road" in page and "Wan Chai" in page
    assert 'data-testid="order-line"' in page


def test_another_shoppers_order_is_not_found(client, shopper, points_order):
    shopper.sign_out()
    shopper.sign_in("wong.siuming@example.com")
    assert client.get(f"/orders/{points_order}").status_code == 404
    assert client.post(f"/orders/{points_order}/cancel").status_code == 404


def test_cancelling_asks_for_confirmation_first(client, points_order, fake_issuer):
    page = text(client.get(f"/orders/{points_order}/cancel"))
    assert "We will refund HK$520.00 to your card ending 8741" in page
    assert "50,000 points will be returned" in page
    assert 'value="Yes, cancel order"' in page and "Keep my order" in page
    assert fake_issuer.calls_to("refund") == []


def test_cancelling_refunds_and_returns_points_visibly(app, client, checkout, points_order, fake_issuer):
    product_id = checkout.product()
    assert stock(app, product_id) == 9
    response = client.post(f"/orders/{points_order}/cancel", data={"submit": "Yes, cancel order"})
    page = text(client.get(response.headers["Location"]))
    assert "is cancelled" in page
    assert 'data-testid="order-status">Cancelled' in page
    assert 'data-testid="refunded">− HK$520.00' in page
    assert 'data-testid="points-reversed">50,000' in page
    assert 'data-testid="net-cost">HK$0.00' in page
    assert f"{points_order}-F1" in page and f"{points_order}-R1" in page
    assert "Cancel order" not in page
    assert fake_issuer.points_of("4966010000008741") == 120_000
    assert stock(app, product_id) == 10


def test_cancelling_twice_changes_nothing_more(client, points_order, fake_issuer):
    client.post(f"/orders/{points_order}/cancel")
    response = client.post(f"/orders/{points_order}/cancel")
    assert "already cancelled" in text(client.get(response.headers["Location"]))
    assert len(fake_issuer.calls_to("refund")) == 1 and len(fake_issuer.calls_to("reverse")) == 1


def test_cancelling_some_items_refunds_their_share_and_returns_points_in_proportion(app, client, checkout, fake_issuer):
    reference = checkout.paid_order(quantity=2)  # HK$1,040
    checkout.link_card(reference, fake_issuer)
    checkout.use_points(reference, 100_000)  # HK$400 credit
    with app.app_context():
        line_id = db.session.scalar(sa.select(Order).where(Order.reference == reference)).lines[0].id
    page = text(client.get(f"/orders/{reference}/lines/{line_id}/cancel"))
    assert ">Quantity to cancel</label>" in page and 'value="Yes, cancel these items"' in page
    response = client.post(f"/orders/{reference}/lines/{line_id}/cancel", data={"quantity": 1})
    page = text(client.get(response.headers["Location"]))
    assert "Cancelled 1 × Test T-CHECKOUT" in page
    assert 'data-testid="refunded">− HK$520.00' in page
    assert 'data-testid="points-reversed">50,000' in page
    assert 'data-testid="net-cost">HK$320.00' in page
    assert 'data-testid="line-cancelled">1 cancelled' in page
    assert saved(app, reference).status == "POINTS_APPLIED"


@pytest.mark.parametrize(("quantity", "message"), [("3", "You can cancel at most 2."), ("0", "At least 1.")])
def test_cancelling_more_items_than_remain_is_refused(app, client, checkout, quantity, message):
    reference = checkout.paid_order(quantity=2)
    with app.app_context():
        line_id = db.session.scalar(sa.select(Order).where(Order.reference == reference)).lines[0].id
    response = client.post(f"/orders/{reference}/lines/{line_id}/cancel", data={"quantity": quantity})
    assert message in text(response)
    assert saved(app, reference).refunded_cents == 0


def test_a_refund_that_cannot_be_confirmed_says_so_and_a_retry_finishes_it(client, points_order, fake_issuer):
    fake_issuer.fail_after("refund", OutcomeUnknown("outcomeUnknown", "dropped"))
    response = client.post(f"/orders/{points_order}/cancel")
    assert "could not confirm the refund yet" in text(client.get(response.headers["Location"]))
    client.post(f"/orders/{points_order}/cancel")
    page = text(client.get(f"/orders/{points_order}"))
    assert 'data-testid="order-status">Cancelled' in page
    assert sum(fake_issuer.refunded.values()) == 52_000


def test_points_left_unreturned_are_returned_by_check_again_not_by_opening_the_order_page(
    app, client, points_order, fake_issuer
):
    fake_issuer.fail_after("reverse", OutcomeUnknown("outcomeUnknown", "dropped"))
    response = client.post(f"/orders/{points_order}/cancel")
    assert "points are on their way back" in text(client.get(response.headers["Location"]))
    calls_before = len(fake_issuer.calls)
    page = text(client.get(f"/orders/{points_order}"))
    assert len(fake_issuer.calls) == calls_before  # a GET never calls the bank
    assert 'data-testid="confirming-with-bank"' in page and "Check again" in page
    response = client.post(f"/orders/{points_order}/check")
    assert response.headers["Location"].endswith(f"/orders/{points_order}")
    page = text(client.get(response.headers["Location"]))
    assert "Confirmed with Summit Bank" in page and 'data-testid="confirming-with-bank"' not in page
    assert 'data-testid="points-reversed">50,000' in page
    assert fake_issuer.points_of("4966010000008741") == 120_000
    assert [c["reference"] for c in fake_issuer.calls_to("reverse")] == [f"{points_order}-R1"] * 2


def test_an_unpaid_order_can_be_paid_or_cancelled_from_its_page(app, client, checkout, fake_issuer):
    reference = checkout.start_order()
    page = text(client.get(f"/orders/{reference}"))
    assert "waiting for payment" in page and f"/checkout/{reference}/payment" in page
    client.post(f"/orders/{reference}/cancel")
    assert saved(app, reference).status == "CANCELLED"
    assert fake_issuer.calls_to("refund") == []
