"""IssuerClient against the real Summit Bank sandbox app, served over real HTTP from a background thread.

The shop never imports the issuer; its tests may, to run the bank in-process. OTPs are read the way a tester
reads them: from the sandbox's SMS outbox (GET /sandbox/api/sms with X-Sandbox-Key).
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from shop import issuer_client as ic

CLIENT_ID = "harbour-mall"
CLIENT_SECRET = "harbour-mall-secret"
SANDBOX_KEY = "demo-sandbox-key"
HAPPY = "4966010000008741"


class PartnerHeadersHandler(WSGIRequestHandler):
    """Werkzeug's server drops header names with underscores; the partner API's `client_id` has one.

    The demo runs gunicorn with --header-map dangerous for the same reason (see the Makefile).
    """

    def make_environ(self):
        environ = super().make_environ()
        for key, value in self.headers.items():
            if "_" in key:
                environ.setdefault("HTTP_" + key.upper().replace("-", "_"), value)
        return environ


@pytest.fixture(scope="module")
def issuer_url(tmp_path_factory):
    from issuer_sandbox import create_app
    from issuer_sandbox.extensions import db
    from issuer_sandbox.seed import seed_database

    path = tmp_path_factory.mktemp("issuer") / "issuer.sqlite3"
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        db.create_all()
        seed_database()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=PartnerHeadersHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_bank(issuer_url):
    """Each test starts from the seed state, as the e2e suite does: no test uses up another's OTP limits."""
    response = requests.post(f"{issuer_url}/sandbox/api/reset", headers={"X-Sandbox-Key": SANDBOX_KEY}, timeout=10)
    response.raise_for_status()


@pytest.fixture
def api_url(issuer_url):
    """The bank's one API base URL, as the shop configures it (ISSUER_API_URL)."""
    return issuer_url + ic.API_BASE_PATH


@pytest.fixture
def bank(api_url):
    return ic.IssuerClient(api_url, CLIENT_ID, CLIENT_SECRET, timeout=10, connect_timeout=2)


def latest_otp(issuer_url: str, phone: str) -> str:
    response = requests.get(
        f"{issuer_url}/sandbox/api/sms", params={"phone": phone}, headers={"X-Sandbox-Key": SANDBOX_KEY}, timeout=5
    )
    response.raise_for_status()
    return response.json()[0]["otp"]


def new_customer() -> str:
    return "C-T" + uuid.uuid4().hex[:10]


def linked(bank, issuer_url, last4: str = "8741", phone: str = "91234567") -> str:
    enrollment = bank.enroll(last4, phone, new_customer())
    bank.verify_otp(enrollment.reward_link_code, latest_otp(issuer_url, phone))
    return enrollment.reward_link_code


def reference() -> str:
    return "HM-IT" + uuid.uuid4().hex[:8].upper()


def pay(bank, number: str = HAPPY, amount_cents: int = 52_000, ref: str | None = None, key: str | None = None):
    ref = ref or reference()
    return bank.pay(
        amount_cents=amount_cents,
        card_number=number,
        expiry_month=12,
        expiry_year=2030,
        cvc="123",
        holder_name="CHAN TAI MAN",
        merchant_reference=ref,
        idempotency_key=key or f"{ref}-P1",
    )


def test_a_token_is_issued_and_cached(bank):
    token = bank.access_token()
    assert token and bank.access_token() == token


def test_a_refused_token_is_replaced_transparently(bank, issuer_url):
    link = linked(bank, issuer_url)
    bank._token = ic._Token("not-a-real-token", time.monotonic() + 3600)  # as after a sandbox reset
    assert bank.balance(link).available_points > 0
    assert bank.access_token() != "not-a-real-token"


def test_wrong_client_secret_is_refused(api_url):
    wrong = ic.IssuerClient(api_url, CLIENT_ID, "wrong-secret", timeout=5)
    with pytest.raises(ic.IssuerError, match="invalidClient"):
        wrong.access_token()


def test_enrol_verify_balance_redeem_look_up_and_reverse(bank, issuer_url):
    enrollment = bank.enroll("8741", "91234567", new_customer())
    assert enrollment.link_status == "PENDING_ACTIVATION"
    assert enrollment.masked_phone.endswith("4567")
    assert bank.verify_otp(enrollment.reward_link_code, latest_otp(issuer_url, "91234567")) == "ACTIVE"
    link = enrollment.reward_link_code

    balance = bank.balance(link)
    assert (balance.conversion_rate, balance.increment, balance.minimum) == (ic.Decimal("0.004"), 25, 1000)
    before = balance.available_points

    ref = reference()
    redemption = bank.redeem(link, ref, 52_000, 50_000, f"Harbour Mall order {ref}")
    assert (redemption.points_redeemed, redemption.redeemed_amount_cents) == (50_000, 20_000)
    assert redemption.available_point_balance == before - 50_000
    assert not redemption.replayed

    replay = bank.redeem(link, ref, 52_000, 50_000, f"Harbour Mall order {ref}")
    assert replay.replayed and replay.order_id == redemption.order_id
    assert bank.balance(link).available_points == before - 50_000

    with pytest.raises(ic.AlreadyProcessed, match="transactionAlreadyRedeemed"):
        bank.redeem(link, ref, 52_000, 25_000, f"Harbour Mall order {ref}")

    assert bank.get_redemption(redemption.order_id).transaction_reference == ref
    assert bank.find_redemption(ref).order_id == redemption.order_id

    reversal = bank.reverse(redemption.order_id, f"{ref}-R1", 20_000)
    assert (reversal.points_reversed, reversal.amount_reversed_cents) == (20_000, 8_000)
    assert reversal.remaining_reversible_points == 30_000
    again = bank.reverse(redemption.order_id, f"{ref}-R1", 20_000)
    assert again.reversal_id == reversal.reversal_id
    with pytest.raises(ic.RedemptionRejected, match="exceedsReversiblePoints"):
        bank.reverse(redemption.order_id, f"{ref}-R2", 30_025)
    bank.reverse(redemption.order_id, f"{ref}-R2", 30_000)
    looked_up = bank.get_redemption(redemption.order_id)
    assert looked_up.points_reversed == 50_000
    assert [r.reference for r in looked_up.reversals] == [f"{ref}-R1", f"{ref}-R2"]
    assert bank.balance(link).available_points == before


def test_an_unknown_reference_is_not_found(bank):
    with pytest.raises(ic.NotFound):
        bank.find_redemption(reference())


def test_a_returning_customer_gets_the_active_link_without_a_code(bank, issuer_url):
    customer = new_customer()
    first = bank.enroll("8741", "91234567", customer)
    bank.verify_otp(first.reward_link_code, latest_otp(issuer_url, "91234567"))
    again = bank.enroll("8741", "91234567", customer)
    assert again.is_active and again.reward_link_code == first.reward_link_code


def test_a_wrong_code_reports_the_attempts_left(bank, issuer_url):
    enrollment = bank.enroll("8741", "91234567", new_customer())
    right = latest_otp(issuer_url, "91234567")
    with pytest.raises(ic.InvalidOtp) as caught:
        bank.verify_otp(enrollment.reward_link_code, "000000" if right != "000000" else "111111")
    assert caught.value.attempts_remaining == 4


def test_a_resend_inside_the_cooldown_is_refused(bank):
    enrollment = bank.enroll("8741", "91234567", new_customer())
    with pytest.raises(ic.OtpResendTooSoon):
        bank.resend_otp(enrollment.reward_link_code)


@pytest.mark.parametrize(
    ("last4", "phone", "error"),
    [
        ("8741", "98765432", ic.AccountNotFound),
        ("7404", "95678901", ic.NotEligibleToRedeem),
        ("7909", "90000000", ic.OtpDeliveryFailed),
    ],
)
def test_enrolment_refusals_are_named(bank, last4, phone, error):
    with pytest.raises(error):
        bank.enroll(last4, phone, new_customer())


def test_points_off_the_increment_are_refused(bank, issuer_url):
    link = linked(bank, issuer_url)
    with pytest.raises(ic.RedemptionRejected, match="invalidPointsAndAmountCombination"):
        bank.redeem(link, reference(), 52_000, 1_010, "x")


def test_unlink_forgets_the_link(bank, issuer_url):
    link = linked(bank, issuer_url)
    bank.unlink(link)
    with pytest.raises(ic.InvalidRewardLink):
        bank.balance(link)


def test_pay_replay_look_up_and_refund(bank):
    ref = reference()
    payment = pay(bank, ref=ref)
    assert payment.status == "CAPTURED"
    assert (payment.last4, payment.issued_by_summit, payment.points_eligible) == ("8741", True, True)
    replay = pay(bank, ref=ref)
    assert replay.payment_id == payment.payment_id
    assert [p.payment_id for p in bank.find_payments(ref)] == [payment.payment_id]
    assert bank.get_payment(payment.payment_id).amount_cents == 52_000

    refund = bank.refund(payment.payment_id, 20_000, f"{ref}-F1")
    assert refund.refund_id
    assert bank.refund(payment.payment_id, 20_000, f"{ref}-F1").refund_id == refund.refund_id
    assert bank.get_payment(payment.payment_id).refunded_cents == 20_000
    with pytest.raises(ic.IssuerError):
        bank.refund(payment.payment_id, 40_000, f"{ref}-F2")


@pytest.mark.parametrize(
    ("number", "status", "decline", "eligible"),
    [
        ("4242424242424242", "CAPTURED", None, False),
        ("4966030000004300", "CAPTURED", None, False),
        ("4966010000007404", "DECLINED", "cardFrozen", False),
        ("4966010000005051", "DECLINED", "insufficientCredit", False),
    ],
)
def test_gateway_outcomes_by_test_card(bank, number, status, decline, eligible):
    payment = pay(bank, number)
    assert (payment.status, payment.decline_code) == (status, decline)
    if status == "CAPTURED":
        assert payment.points_eligible is eligible


def test_nothing_listening_is_unavailable_not_unknown():
    closed = ic.IssuerClient("http://127.0.0.1:9", CLIENT_ID, CLIENT_SECRET, timeout=2, connect_timeout=1)
    with pytest.raises(ic.IssuerUnavailable):
        closed.redeem("LINK", reference(), 100, 1000, "x")


# --- The whole checkout, against the real bank --------------------------------------------------


def test_the_shop_checkout_pays_links_redeems_and_cancels_against_the_real_bank(app, client, shopper, issuer_url):
    from .conftest import CheckoutActions

    bank = ic.IssuerClient(issuer_url + ic.API_BASE_PATH, CLIENT_ID, CLIENT_SECRET, timeout=10, connect_timeout=2)
    app.extensions["issuer_client"] = bank
    shopper.sign_in()
    checkout = CheckoutActions(app, client)
    ref = checkout.start_order()
    assert checkout.pay(ref).headers["Location"] == f"/checkout/{ref}/points"
    response = checkout.send_code(ref)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    if ">One-time password</label>" in page:  # a link from an earlier run would already be ACTIVE
        checkout.verify(ref, latest_otp(issuer_url, "91234567"))
    page = client.get(f"/checkout/{ref}/points").get_data(as_text=True)
    assert ">Points to use</label>" in page
    assert checkout.use_points(ref, 50_000).headers["Location"] == f"/orders/{ref}"
    page = client.get(f"/orders/{ref}").get_data(as_text=True)
    assert 'data-testid="statement-credit">− HK$200.00' in page
    assert bank.find_redemption(ref).points_redeemed == 50_000

    client.post(f"/orders/{ref}/cancel")
    page = client.get(f"/orders/{ref}").get_data(as_text=True)
    assert 'data-testid="order-status">Cancelled' in page
    assert 'data-testid="points-reversed">50,000' in page
    assert bank.find_redemption(ref).points_reversed == 50_000
    assert bank.find_payments(ref)[0].refunded_cents == 52_000


def test_a_legacy_flow_payment_makes_the_real_bank_text_its_own_offer(bank, issuer_url):
    ref = reference()
    payment = bank.pay(
        amount_cents=52_000,
        card_number=HAPPY,
        expiry_month=12,
        expiry_year=2030,
        cvc="123",
        holder_name="CHAN TAI MAN",
        merchant_reference=ref,
        idempotency_key=f"{ref}-P1",
        pwp_flow="legacy",
    )
    assert payment.captured and payment.points_eligible
    response = requests.get(
        f"{issuer_url}/sandbox/api/sms", params={"phone": "91234567"}, headers={"X-Sandbox-Key": SANDBOX_KEY}, timeout=5
    )
    assert f"/rewards/?purchase={payment.payment_id}" in response.json()[0]["body"]
