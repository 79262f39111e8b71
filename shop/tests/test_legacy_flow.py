"""The two Pay with Points flows at the shop: native offers points at checkout; legacy offers nothing and tells the
bank's gateway so, which then texts its own offer (the fake bank records what the shop sent)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shop.checkout import card_link as link_rules
from shop.checkout.flow import SESSION_KEY
from shop.extensions import db
from shop.models import Order, PwpEvent

from .conftest import close_app, make_app

HAPPY = "4966 0100 0000 8741"


def saved(app, reference: str) -> Order:
    with app.app_context():
        found = db.session.scalar(sa.select(Order).where(Order.reference == reference))
        db.session.expunge(found)
        return found


def event_kinds(app, reference: str) -> list[str]:
    with app.app_context():
        order_id = db.session.scalar(sa.select(Order.id).where(Order.reference == reference))
        return list(db.session.scalars(sa.select(PwpEvent.kind).where(PwpEvent.order_id == order_id)))


def choose_flow(client, flow: str) -> None:
    with client.session_transaction() as session:
        session[SESSION_KEY] = flow


def test_a_native_order_records_its_flow_and_pays_without_the_flow_field(checkout, app, fake_issuer):
    reference = checkout.start_order()
    assert saved(app, reference).pwp_flow == "native"
    response = checkout.pay(reference)
    assert response.headers["Location"] == f"/checkout/{reference}/points"
    assert fake_issuer.calls_to("pay")[0]["pwp_flow"] == "native"


def test_a_legacy_order_pays_as_legacy_and_goes_straight_to_a_plain_confirmation(checkout, app, client, fake_issuer):
    choose_flow(client, "legacy")
    reference = checkout.start_order()
    assert saved(app, reference).pwp_flow == "legacy"
    assert "After payment you can turn reward points" not in client.get(f"/checkout/{reference}/payment").get_data(True)
    response = checkout.pay(reference)
    assert response.headers["Location"] == f"/orders/{reference}"
    assert fake_issuer.calls_to("pay")[0]["pwp_flow"] == "legacy"
    order = saved(app, reference)
    assert (order.status, order.card_points_eligible, order.points_used) == ("PAID", True, 0)
    page = client.get(f"/orders/{reference}").get_data(as_text=True)
    assert "Your order is confirmed" in page and f"/checkout/{reference}/points" not in page
    # Insights still count the eligible purchase; nothing else of Pay with Points happened at the shop.
    assert event_kinds(app, reference) == ["card_paid_eligible"]


def test_a_legacy_order_offers_no_points_step_even_when_asked_for_it(checkout, app, client, fake_issuer):
    choose_flow(client, "legacy")
    reference = checkout.start_order()
    checkout.pay(reference)
    assert client.get(f"/checkout/{reference}/points").headers["Location"] == f"/orders/{reference}"
    response = client.post(f"/checkout/{reference}/points/send-code", data={"mobile": "91234567"})
    assert response.headers["Location"] == f"/orders/{reference}"
    assert fake_issuer.calls_to("enroll") == [] and fake_issuer.calls_to("redeem") == []
    with app.app_context():
        order = db.session.scalar(sa.select(Order).where(Order.reference == reference))
        with pytest.raises(link_rules.PointsNotOffered, match="cannot be used"):
            link_rules.ensure_points_possible(order)
    assert event_kinds(app, reference) == ["card_paid_eligible"]


def test_the_flow_is_the_orders_own_once_it_is_created(checkout, app, client, fake_issuer):
    """A stakeholder flipping the switch mid-checkout changes the next order, not the one being paid."""
    reference = checkout.start_order()
    choose_flow(client, "legacy")
    response = checkout.pay(reference)
    assert response.headers["Location"] == f"/checkout/{reference}/points"
    assert fake_issuer.calls_to("pay")[0]["pwp_flow"] == "native"


def test_a_payment_retried_after_an_unknown_outcome_repeats_the_same_flow(checkout, app, client, fake_issuer):
    from shop.issuer_client import OutcomeUnknown

    choose_flow(client, "legacy")
    reference = checkout.start_order()
    fake_issuer.fail_before("pay", OutcomeUnknown("outcomeUnknown", "timeout"))  # the bank may have it or not
    checkout.pay(reference)
    response = checkout.pay(reference)
    assert response.headers["Location"] == f"/orders/{reference}"
    first, second = fake_issuer.calls_to("pay")
    assert (first["idempotency_key"], first["pwp_flow"]) == (second["idempotency_key"], second["pwp_flow"])
    assert second["pwp_flow"] == "legacy" and saved(app, reference).status == "PAID"


def test_the_configured_flow_applies_when_the_session_chose_none(tmp_path):
    from .fakes import FakeIssuerClient

    app = make_app(tmp_path, PWP_FLOW="legacy")
    try:
        app.extensions["issuer_client"] = FakeIssuerClient()
        from .conftest import CheckoutActions

        client = app.test_client()
        client.post("/account/sign-in", data={"email": "chan.taiman@example.com", "password": "demo1234"})
        reference = CheckoutActions(app, client).start_order()
        assert saved(app, reference).pwp_flow == "legacy"
    finally:
        close_app(app)
