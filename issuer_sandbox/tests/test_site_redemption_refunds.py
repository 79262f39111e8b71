"""A refund of a purchase that was redeemed against on the bank's site: a full refund reverses the redemption
(points back, credit reversed on the statement, append-only ledger), a partial one reverses nothing, a replay
reverses nothing more, and a redemption at the merchant's checkout is left to the merchant."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from issuer_sandbox import ledger
from issuer_sandbox.extensions import db
from issuer_sandbox.models import CardStatementLine, LedgerTransaction, Redemption, RedemptionReversal

from .redemption_support import partner_api
from .rewards_support import PAYMENTS, page, pay, points_of, redeem_at_checkout, sign_in


def refund(api, payment_id: str, amount: int, key: str):
    return api.post(f"{PAYMENTS}/{payment_id}/refunds", json={"amount": amount}, headers={"Idempotency-Key": key})


def redeem_on_site(client, app, api, amount: int = 52000, points: int = 50000):
    paid, body = pay(api, app, amount=amount)
    sign_in(client, app)
    response = client.post("/rewards/purchases", data={"purchase": paid.json["paymentId"], "points": points})
    assert response.status_code == 302, page(response)
    return paid.json["paymentId"], body["merchantReference"]


def statement_lines(app) -> list[tuple[str, int, str]]:
    with app.app_context():
        return [
            (line.kind, line.amount_cents, line.description)
            for line in db.session.scalars(sa.select(CardStatementLine).order_by(CardStatementLine.id))
        ]


def test_a_full_refund_gives_the_points_back_and_reverses_the_credit_on_the_statement(backend_app):
    app, client = backend_app, backend_app.test_client()
    api = partner_api(app)
    payment_id, reference = redeem_on_site(client, app, api)
    assert points_of(app) == 70_000

    response = refund(api, payment_id, 52000, "full")

    assert response.status_code == 201 and response.json["status"] == "SUCCEEDED"
    assert points_of(app) == 120_000
    refund_id = response.json["refundId"]
    assert statement_lines(app) == [
        ("PURCHASE", 52000, f"Harbour Mall {reference}"),
        ("POINTS_CREDIT", -20000, f"Rewards site credit: Harbour Mall {reference}"),
        ("REFUND", -52000, f"Harbour Mall {reference} refund"),
        ("POINTS_CREDIT_REVERSAL", 20000, f"Pay with Points credit reversed: Harbour Mall {reference}"),
    ]
    with app.app_context():
        redemption = db.session.scalars(sa.select(Redemption)).one()
        assert (redemption.status, redemption.points, redemption.points_reversed) == ("REVERSED", 50000, 50000)
        [reversal] = db.session.scalars(sa.select(RedemptionReversal)).all()
        assert (reversal.reversal_reference, reversal.points, reversal.amount_cents) == (refund_id, 50000, 20000)
        kinds = list(db.session.scalars(sa.select(LedgerTransaction.kind).order_by(LedgerTransaction.id)))
        assert kinds[-2:] == ["REDEEM", "REVERSE"]  # a new transaction; the redemption's entries are untouched
        assert ledger.check_ledger() == []


def test_a_replayed_full_refund_reverses_nothing_more(backend_app):
    app, client = backend_app, backend_app.test_client()
    api = partner_api(app)
    payment_id, _ = redeem_on_site(client, app, api)
    first = refund(api, payment_id, 52000, "full")
    again = refund(api, payment_id, 52000, "full")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert points_of(app) == 120_000
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(RedemptionReversal.id))) == 1
        assert ledger.check_ledger() == []


def test_a_partial_refund_keeps_the_credit_and_the_refund_that_completes_it_reverses_it_all(client, app):
    api = partner_api(app)
    payment_id, _ = redeem_on_site(client, app, api)
    refund(api, payment_id, 12000, "part")
    assert points_of(app) == 70_000
    assert [kind for kind, _, _ in statement_lines(app)] == ["PURCHASE", "POINTS_CREDIT", "REFUND"]

    refund(api, payment_id, 40000, "rest")

    assert points_of(app) == 120_000
    assert [kind for kind, _, _ in statement_lines(app)][-2:] == ["REFUND", "POINTS_CREDIT_REVERSAL"]
    with app.app_context():
        assert db.session.scalars(sa.select(Redemption.status)).one() == "REVERSED"
        assert ledger.check_ledger() == []


def test_a_refund_of_a_purchase_redeemed_at_checkout_leaves_the_reversal_to_the_merchant(client, app):
    api = partner_api(app)
    paid, body = pay(api, app, flow="native")
    assert redeem_at_checkout(api, app, body["merchantReference"], 25000).status_code == 200
    refund(api, paid.json["paymentId"], 52000, "full")
    assert points_of(app) == 95_000
    with app.app_context():
        assert db.session.scalars(sa.select(Redemption.status)).one() == "COMPLETED"


def test_a_refund_of_a_purchase_with_no_redemption_moves_no_points(client, app):
    api = partner_api(app)
    paid, _ = pay(api, app)
    refund(api, paid.json["paymentId"], 52000, "full")
    assert points_of(app) == 120_000
    assert [kind for kind, _, _ in statement_lines(app)] == ["PURCHASE", "REFUND"]


def test_the_site_does_not_offer_a_refunded_purchase(client, app):
    api = partner_api(app)
    kept, kept_body = pay(api, app)
    refunded, refunded_body = pay(api, app)
    refund(api, refunded.json["paymentId"], 52000, "full")
    sign_in(client, app)
    text = page(client.get("/rewards/purchases"))
    assert kept_body["merchantReference"] in text and refunded_body["merchantReference"] not in text
    response = client.post("/rewards/purchases", data={"purchase": refunded.json["paymentId"], "points": 25000})
    assert response.status_code == 422 and "That purchase cannot take points here. Pick one from the list." in page(
        response
    )
    assert points_of(app) == 120_000


def test_a_refund_racing_a_site_redemption_never_leaves_a_credit_on_a_refunded_purchase(backend_app):
    """Either the site's redemption comes first and the refund reverses it, or the refund does and the site
    refuses the purchase; never a deadlock, never points kept against a refunded purchase."""
    app, site = backend_app, backend_app.test_client()
    api = partner_api(app)
    sign_in(site, app)
    outcomes = []
    for round_number in range(6):
        paid, _ = pay(api, app)
        payment_id = paid.json["paymentId"]
        barrier = threading.Barrier(2, timeout=60)

        def refund_it(payment_id=payment_id, key=f"race-{round_number}", barrier=barrier):
            barrier.wait()
            return refund(api, payment_id, 52000, key).status_code

        def redeem_it(payment_id=payment_id, barrier=barrier):
            barrier.wait()
            return site.post("/rewards/purchases", data={"purchase": payment_id, "points": 50000}).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            refunded, redeemed = pool.submit(refund_it), pool.submit(redeem_it)
            outcomes.append((refunded.result(timeout=120), redeemed.result(timeout=120)))
        assert points_of(app) == 120_000, outcomes
    assert all(refunded == 201 and redeemed in (302, 422) for refunded, redeemed in outcomes), outcomes
    with app.app_context():
        assert set(db.session.scalars(sa.select(Redemption.status))) <= {"REVERSED"}
        assert ledger.check_ledger() == []
