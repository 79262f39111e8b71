"""IssuerClient over a scripted transport: headers, tokens, money on the wire, errors and timeouts."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from shop import issuer_client as ic

BASE = "http://issuer.test/gcb/api"  # the API base: every path is relative to it


class ScriptedTransport(BaseAdapter):
    """A requests transport that answers from a script and records each request (a fake, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []
        self.script: list[tuple[int, object, dict] | Exception] = []
        self.token_count = 0

    def reply(self, status: int, body: object = None, headers: dict | None = None) -> ScriptedTransport:
        self.script.append((status, body, headers or {}))
        return self

    def fail(self, error: Exception) -> ScriptedTransport:
        self.script.append(error)
        return self

    def send(self, request, **kwargs):
        self.requests.append(request)
        if is_token_request(request):
            self.token_count += 1
            token = {"access_token": f"token-{self.token_count}", "token_type": "Bearer", "expires_in": 1800}
            return self._response(request, 200, token, {})
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        status, body, headers = step
        return self._response(request, status, body, headers)

    @staticmethod
    def _response(request, status, body, headers):
        response = requests.Response()
        response.status_code = status
        response.request = request
        response.url = request.url
        response._content = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        response.headers.update({"Content-Type": "application/json", **headers})
        return response

    def close(self):
        pass

    def calls(self) -> list[requests.PreparedRequest]:
        return [r for r in self.requests if not is_token_request(r)]


def is_token_request(request: requests.PreparedRequest) -> bool:
    return request.path_url == "/gcb/api" + ic.TOKEN_PATH


@pytest.fixture
def transport():
    return ScriptedTransport()


@pytest.fixture
def client(transport):
    session = requests.Session()
    session.mount("http://", transport)
    return ic.IssuerClient(BASE, "harbour-mall", "harbour-mall-secret", timeout=3, connect_timeout=1, session=session)


BALANCE = {
    "isRedemptionEligible": True,
    "availablePointBalance": 120000,
    "programConversionRate": "0.004",
    "currencyCode": "HKD",
    "redemptionPointIncrement": 25,
    "minimumPointsToRedeem": 1000,
    "maximumPointsToRedeem": 120000,
}
REDEMPTION = {
    "orderId": "RDM-1",
    "status": "COMPLETED",
    "pointsRedeemed": 50000,
    "redeemedAmount": "200.00",
    "availablePointBalance": 70000,
    "creditPostingDate": "2026-11-27",
}
REDEMPTION_DETAILS = {**REDEMPTION, "transactionReferenceNumber": "HM-000123", "reversals": []}
REVERSAL = {
    "reversalId": "RVS-1",
    "pointsReversed": 50000,
    "amountReversed": "200.00",
    "remainingReversiblePoints": 0,
    "availablePointBalance": 120000,
}
PAYMENT = {
    "paymentId": "PAY-1",
    "status": "CAPTURED",
    "declineCode": None,
    "amount": 52000,
    "currency": "HKD",
    "merchantReference": "HM-000123",
    "card": {"last4": "8741", "brand": "VISA", "issuedBySummit": True, "pointsEligible": True},
}


def body_of(request) -> dict:
    return json.loads(request.body)


def test_every_call_carries_the_bearer_token_client_id_uuid_and_accept(client, transport):
    transport.reply(200, BALANCE).reply(200, BALANCE)
    client.balance("LINK1")
    client.balance("LINK1")
    first, second = transport.calls()
    assert first.headers["Authorization"] == "Bearer token-1"
    assert first.headers["client_id"] == "harbour-mall"
    assert first.headers["Accept"] == "application/json"
    assert first.headers["uuid"] != second.headers["uuid"]
    assert first.path_url == "/gcb/api/v1/apac/rewards/LINK1/pointBalance"
    assert transport.token_count == 1  # the token is cached


def test_the_token_is_requested_with_basic_auth_and_client_credentials(client, transport):
    transport.reply(200, BALANCE)
    client.balance("LINK1")
    token_request = transport.requests[0]
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.body == "grant_type=client_credentials&scope=%2Fapi"


def test_a_refused_token_is_fetched_again_once_and_the_call_retried(client, transport):
    transport.reply(401, {"type": "error", "code": "invalidToken", "details": "expired"}).reply(200, BALANCE)
    assert client.balance("LINK1").available_points == 120000
    assert transport.token_count == 2
    assert transport.calls()[1].headers["Authorization"] == "Bearer token-2"


def test_a_token_refused_twice_raises_invalid_token(client, transport):
    refused = {"type": "error", "code": "invalidToken", "details": "no"}
    transport.reply(401, refused).reply(401, refused)
    with pytest.raises(ic.InvalidToken, match="invalidToken"):
        client.balance("LINK1")


def test_balance_parses_the_rate_as_decimal(client, transport):
    transport.reply(200, {**BALANCE, "programConversionRate": 0.005})
    balance = client.balance("LINK1")
    assert balance.conversion_rate == Decimal("0.005")
    assert (balance.increment, balance.minimum, balance.maximum) == (25, 1000, 120000)


def test_enroll_sends_the_documented_fields(client, transport):
    transport.reply(
        200,
        {
            "rewardLinkCode": "LINK1",
            "linkStatus": "PENDING_ACTIVATION",
            "maskedPhoneNumber": "****4567",
            "otpExpiresAt": "2026-11-26T09:05:00Z",
        },
    )
    enrollment = client.enroll("8741", "91234567", "C-1001")
    assert body_of(transport.calls()[0]) == {
        "lastFourDigitsCardNumber": "8741",
        "citiCardHolderPhoneNumber": "91234567",
        "merchantCustomerReferenceId": "C-1001",
    }
    assert (enrollment.reward_link_code, enrollment.masked_phone, enrollment.is_active) == ("LINK1", "****4567", False)
    assert enrollment.otp_expires_at is not None and enrollment.otp_expires_at.tzinfo is None


def test_verify_and_resend_use_the_link_paths(client, transport):
    transport.reply(200, None).reply(202, {"otpExpiresAt": "2026-11-26T09:05:00", "resendsRemaining": 2})
    assert client.verify_otp("LINK1", "123456") == "ACTIVE"
    assert client.resend_otp("LINK1").resends_remaining == 2
    verify, resend = transport.calls()
    assert (verify.method, verify.path_url) == ("PUT", "/gcb/api/v1/apac/rewards/LINK1/activations")
    assert body_of(verify) == {"linkageConfirmationCode": "123456"}
    assert (resend.method, resend.path_url) == ("POST", "/gcb/api/v1/apac/rewards/LINK1/activations/otp")


def test_redeem_sends_the_amount_as_a_decimal_string_and_parses_cents(client, transport):
    transport.reply(200, REDEMPTION, {"Idempotent-Replayed": "true"})
    redemption = client.redeem("LINK1", "HM-000123", 52_000, 50_000, "Harbour Mall order HM-000123")
    assert body_of(transport.calls()[0]) == {
        "transactionReferenceNumber": "HM-000123",
        "redemptionOrder": {
            "transactionAmount": "520.00",
            "currencyCode": "HKD",
            "pointsToRedeem": 50000,
            "transactionDescription": "Harbour Mall order HM-000123",
        },
    }
    assert (redemption.order_id, redemption.points_redeemed, redemption.redeemed_amount_cents) == (
        "RDM-1",
        50000,
        20000,
    )
    assert redemption.replayed


def test_look_ups_by_order_id_and_reference(client, transport):
    reversal = {"reversalId": "RVS-1", "reversalReferenceNumber": "HM-000123-R1", "pointsReversed": 25000}
    with_reversal = {**REDEMPTION_DETAILS, "reversals": [{**reversal, "amountReversed": "100.00"}]}
    transport.reply(200, with_reversal).reply(200, REDEMPTION_DETAILS)
    looked_up = client.get_redemption("RDM-1")
    assert (looked_up.points_reversed, looked_up.transaction_reference) == (25000, "HM-000123")
    assert [(r.reference, r.amount_reversed_cents) for r in looked_up.reversals] == [("HM-000123-R1", 10000)]
    assert client.find_redemption("HM-000123").order_id == "RDM-1"
    by_id, by_reference = transport.calls()
    assert by_id.path_url == "/gcb/api/v1/apac/rewards/redemption/RDM-1"
    assert by_reference.path_url == "/gcb/api/v1/apac/rewards/redemption?transactionReferenceNumber=HM-000123"


def test_reverse_sends_its_reference(client, transport):
    transport.reply(200, REVERSAL)
    reversal = client.reverse("RDM-1", "HM-000123-R1", 50000)
    assert body_of(transport.calls()[0]) == {
        "orderId": "RDM-1",
        "reversalReferenceNumber": "HM-000123-R1",
        "pointsToReverse": 50000,
    }
    assert (reversal.amount_reversed_cents, reversal.remaining_reversible_points) == (20000, 0)


def test_pay_sends_the_idempotency_key_and_amount_in_cents(client, transport):
    transport.reply(201, PAYMENT)
    payment = client.pay(
        amount_cents=52_000,
        card_number="4966010000008741",
        expiry_month=12,
        expiry_year=2030,
        cvc="123",
        holder_name="CHAN TAI MAN",
        merchant_reference="HM-000123",
        idempotency_key="HM-000123-P1",
    )
    request = transport.calls()[0]
    assert request.headers["Idempotency-Key"] == "HM-000123-P1"
    assert body_of(request)["amount"] == 52000 and body_of(request)["merchantReference"] == "HM-000123"
    assert (payment.payment_id, payment.captured, payment.points_eligible, payment.last4) == (
        "PAY-1",
        True,
        True,
        "8741",
    )


def test_refund_and_payment_look_ups(client, transport):
    transport.reply(201, {"refundId": "RFD-1", "status": "SUCCEEDED", "amount": 20000})
    transport.reply(200, {"payments": [PAYMENT]})
    refund = client.refund("PAY-1", 20_000, "HM-000123-F1")
    payments = client.find_payments("HM-000123")
    refund_request, look_up = transport.calls()
    assert refund_request.path_url == "/gcb/api/gateway/v1/payments/PAY-1/refunds"
    assert refund_request.headers["Idempotency-Key"] == "HM-000123-F1"
    assert body_of(refund_request) == {"amount": 20000}
    assert (refund.refund_id, refund.amount_cents) == ("RFD-1", 20_000)
    assert look_up.path_url == "/gcb/api/gateway/v1/payments?merchantReference=HM-000123"
    assert [p.payment_id for p in payments] == ["PAY-1"]


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (404, {"type": "error", "code": "accountNotFound", "details": "x"}, ic.AccountNotFound, "accountNotFound"),
        (422, {"type": "invalid", "code": "otpExpired", "details": "x"}, ic.OtpExpired, "otpExpired"),
        (423, {"type": "error", "code": "maxAttemptsExceeded", "details": "x"}, ic.OtpLocked, "maxAttemptsExceeded"),
        (429, {"type": "fatal", "code": "otpResendTooSoon", "details": "x"}, ic.OtpResendTooSoon, "otpResendTooSoon"),
        (
            503,
            {"type": "fatal", "code": "otpDeliveryFailed", "details": "x"},
            ic.OtpDeliveryFailed,
            "otpDeliveryFailed",
        ),
        (503, {"type": "fatal", "code": "unavailable", "details": "x"}, ic.IssuerUnavailable, "unavailable"),
        (500, b"<html>oops</html>", ic.IssuerUnavailable, "http500"),
        (
            404,
            {"type": "error", "code": "invalidRewardLinkCode", "details": "x"},
            ic.InvalidRewardLink,
            "invalidRewardLinkCode",
        ),
        (400, {"type": "invalid", "code": "invalidRequest", "details": "bad"}, ic.IssuerError, "invalidRequest"),
    ],
)
def test_error_bodies_become_named_exceptions(client, transport, status, body, error, code):
    transport.reply(status, body)
    with pytest.raises(error, match=code) as caught:
        client.enroll("8741", "91234567", "C-1001")
    assert caught.value.status == status


def test_a_wrong_otp_carries_the_attempts_remaining(client, transport):
    transport.reply(
        422, {"type": "invalid", "code": "invalidLinkageConfirmationCode", "details": "x", "attemptsRemaining": 3}
    )
    with pytest.raises(ic.InvalidOtp) as caught:
        client.verify_otp("LINK1", "000000")
    assert caught.value.attempts_remaining == 3


def refused_connection() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")
    return requests.ConnectionError(MaxRetryError(None, BASE, reason))


def test_a_timeout_on_a_money_call_is_an_unknown_outcome(client, transport):
    transport.fail(requests.ReadTimeout("read timed out"))
    with pytest.raises(ic.OutcomeUnknown):
        client.redeem("LINK1", "HM-000123", 52_000, 50_000, "x")


def test_a_dropped_connection_on_a_money_call_is_an_unknown_outcome(client, transport):
    transport.fail(requests.ConnectionError("Connection aborted: RemoteDisconnected"))
    with pytest.raises(ic.OutcomeUnknown):
        client.refund("PAY-1", 100, "HM-000123-F1")


def test_a_server_error_on_a_money_call_is_an_unknown_outcome(client, transport):
    transport.reply(500, {"type": "fatal", "code": "internalError", "details": "x"})
    with pytest.raises(ic.OutcomeUnknown, match="internalError"):
        client.reverse("RDM-1", "HM-000123-R1", 100)


def test_a_refused_connection_on_a_money_call_is_unavailable_because_nothing_was_sent(client, transport):
    transport.fail(refused_connection())
    with pytest.raises(ic.IssuerUnavailable):
        client.redeem("LINK1", "HM-000123", 52_000, 50_000, "x")


def test_a_timeout_on_a_read_call_is_unavailable(client, transport):
    transport.fail(requests.ReadTimeout("read timed out"))
    with pytest.raises(ic.IssuerUnavailable):
        client.balance("LINK1")


def test_error_messages_never_echo_the_card_number(client, transport):
    transport.fail(requests.ReadTimeout("4966010000008741 read timed out"))
    with pytest.raises(ic.OutcomeUnknown) as caught:
        client.pay(
            amount_cents=100,
            card_number="4966010000008741",
            expiry_month=12,
            expiry_year=2030,
            cvc="123",
            holder_name="X",
            merchant_reference="HM-1",
            idempotency_key="HM-1-P1",
        )
    assert "4966" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_calls_use_explicit_timeouts(transport):
    seen = {}

    class Recording(ScriptedTransport):
        def send(self, request, **kwargs):
            seen[request.path_url] = kwargs.get("timeout")
            return super().send(request, **kwargs)

    recording = Recording().reply(200, BALANCE)
    session = requests.Session()
    session.mount("http://", recording)
    ic.IssuerClient(BASE, "a", "b", timeout=3, connect_timeout=1, session=session).balance("L")
    assert set(seen.values()) == {(1, 3)}


@pytest.mark.parametrize(("cents", "amount"), [(52_000, "520.00"), (5, "0.05"), (0, "0.00"), (123_456, "1234.56")])
def test_cents_travel_as_decimal_strings(cents, amount):
    assert ic.cents_to_amount(cents) == amount
    assert ic.amount_to_cents(amount) == cents


def test_an_amount_with_fractional_cents_is_refused():
    with pytest.raises(ic.IssuerError, match="whole cents"):
        ic.amount_to_cents("1.005")


def test_the_app_builds_its_client_from_config_once(app):
    with app.app_context():
        client = ic.get_issuer_client()
        assert client is ic.get_issuer_client()
        assert (client.base_url, client.client_id) == ("http://127.0.0.1:9/gcb/api", "harbour-mall")
        assert client.timeout == app.config["ISSUER_TIMEOUT_SECONDS"]
