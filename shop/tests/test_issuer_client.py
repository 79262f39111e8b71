"""IssuerClient over a scripted transport: headers, tokens, money on the wire, strict answers, errors, timeouts,
the one base URL; and what the shop stores (nothing) when an answer breaks the contract."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa
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
def bank(transport):
    """The real IssuerClient, talking to the scripted transport."""
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


def test_every_call_carries_the_bearer_token_client_id_uuid_and_accept(bank, transport):
    transport.reply(200, BALANCE).reply(200, BALANCE)
    bank.balance("LINK1")
    bank.balance("LINK1")
    first, second = transport.calls()
    assert first.headers["Authorization"] == "Bearer token-1"
    assert first.headers["client_id"] == "harbour-mall"
    assert first.headers["Accept"] == "application/json"
    assert first.headers["uuid"] != second.headers["uuid"]
    assert first.path_url == "/gcb/api/v1/apac/rewards/LINK1/pointBalance"
    assert transport.token_count == 1  # the token is cached


def test_the_token_is_requested_with_basic_auth_and_client_credentials(bank, transport):
    transport.reply(200, BALANCE)
    bank.balance("LINK1")
    token_request = transport.requests[0]
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.body == "grant_type=client_credentials&scope=%2Fapi"


def test_a_refused_token_is_fetched_again_once_and_the_call_retried(bank, transport):
    transport.reply(401, {"type": "error", "code": "invalidToken", "details": "expired"}).reply(200, BALANCE)
    assert bank.balance("LINK1").available_points == 120000
    assert transport.token_count == 2
    assert transport.calls()[1].headers["Authorization"] == "Bearer token-2"


def test_a_token_refused_twice_raises_invalid_token(bank, transport):
    refused = {"type": "error", "code": "invalidToken", "details": "no"}
    transport.reply(401, refused).reply(401, refused)
    with pytest.raises(ic.InvalidToken, match="invalidToken"):
        bank.balance("LINK1")


def test_balance_parses_the_rate_as_decimal(bank, transport):
    transport.reply(200, {**BALANCE, "programConversionRate": 0.005})
    balance = bank.balance("LINK1")
    assert balance.conversion_rate == Decimal("0.005")
    assert (balance.increment, balance.minimum, balance.maximum) == (25, 1000, 120000)


def test_enroll_sends_the_documented_fields(bank, transport):
    transport.reply(
        200,
        {
            "rewardLinkCode": "LINK1",
            "linkStatus": "PENDING_ACTIVATION",
            "maskedPhoneNumber": "****4567",
            "otpExpiresAt": "2026-11-26T09:05:00Z",
        },
    )
    enrollment = bank.enroll("8741", "91234567", "C-1001")
    assert body_of(transport.calls()[0]) == {
        "lastFourDigitsCardNumber": "8741",
        "citiCardHolderPhoneNumber": "91234567",
        "merchantCustomerReferenceId": "C-1001",
    }
    assert (enrollment.reward_link_code, enrollment.masked_phone, enrollment.is_active) == ("LINK1", "****4567", False)
    assert enrollment.otp_expires_at is not None and enrollment.otp_expires_at.tzinfo is None


def test_verify_and_resend_use_the_link_paths(bank, transport):
    transport.reply(200, None).reply(202, {"otpExpiresAt": "2026-11-26T09:05:00", "resendsRemaining": 2})
    assert bank.verify_otp("LINK1", "123456") == "ACTIVE"
    assert bank.resend_otp("LINK1").resends_remaining == 2
    verify, resend = transport.calls()
    assert (verify.method, verify.path_url) == ("PUT", "/gcb/api/v1/apac/rewards/LINK1/activations")
    assert body_of(verify) == {"linkageConfirmationCode": "123456"}
    assert (resend.method, resend.path_url) == ("POST", "/gcb/api/v1/apac/rewards/LINK1/activations/otp")


def test_enrolment_and_resend_ask_for_the_sms_in_the_shoppers_language(bank, transport):
    pending = {**ENROLLMENT, "otpExpiresAt": "2026-11-26T09:05:00"}
    resent = {"otpExpiresAt": "2026-11-26T09:05:00", "resendsRemaining": 2}
    transport.reply(200, pending).reply(202, resent).reply(200, pending).reply(202, resent)
    bank.enroll("8741", "91234567", "C-1001", "zh-HK")
    bank.resend_otp("LINK1", "zh-HK")
    bank.enroll("8741", "91234567", "C-1001")
    bank.resend_otp("LINK1")
    languages = [request.headers["Accept-Language"] for request in transport.calls()]
    assert languages == ["zh-HK", "zh-HK", "en", "en"]


def test_redeem_sends_the_amount_as_a_decimal_string_and_parses_cents(bank, transport):
    transport.reply(200, REDEMPTION, {"Idempotent-Replayed": "true"})
    redemption = bank.redeem("LINK1", "HM-000123", 52_000, 50_000, "Harbour Mall order HM-000123")
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


def test_look_ups_by_order_id_and_reference(bank, transport):
    reversal = {"reversalId": "RVS-1", "reversalReferenceNumber": "HM-000123-R1", "pointsReversed": 25000}
    with_reversal = {**REDEMPTION_DETAILS, "reversals": [{**reversal, "amountReversed": "100.00"}]}
    transport.reply(200, with_reversal).reply(200, REDEMPTION_DETAILS)
    looked_up = bank.get_redemption("RDM-1")
    assert (looked_up.points_reversed, looked_up.transaction_reference) == (25000, "HM-000123")
    assert [(r.reference, r.amount_reversed_cents) for r in looked_up.reversals] == [("HM-000123-R1", 10000)]
    assert bank.find_redemption("HM-000123").order_id == "RDM-1"
    by_id, by_reference = transport.calls()
    assert by_id.path_url == "/gcb/api/v1/apac/rewards/redemption/RDM-1"
    assert by_reference.path_url == "/gcb/api/v1/apac/rewards/redemption?transactionReferenceNumber=HM-000123"


def test_reverse_sends_its_reference(bank, transport):
    transport.reply(200, REVERSAL)
    reversal = bank.reverse("RDM-1", "HM-000123-R1", 50000)
    assert body_of(transport.calls()[0]) == {
        "orderId": "RDM-1",
        "reversalReferenceNumber": "HM-000123-R1",
        "pointsToReverse": 50000,
    }
    assert (reversal.amount_reversed_cents, reversal.remaining_reversible_points) == (20000, 0)


def test_pay_sends_the_idempotency_key_and_amount_in_cents(bank, transport):
    transport.reply(201, PAYMENT)
    payment = bank.pay(
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


def test_refund_and_payment_look_ups(bank, transport):
    transport.reply(201, {"refundId": "RFD-1", "status": "SUCCEEDED", "amount": 20000})
    transport.reply(200, {"payments": [PAYMENT]})
    refund = bank.refund("PAY-1", 20_000, "HM-000123-F1")
    payments = bank.find_payments("HM-000123")
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
def test_error_bodies_become_named_exceptions(bank, transport, status, body, error, code):
    transport.reply(status, body)
    with pytest.raises(error, match=code) as caught:
        bank.enroll("8741", "91234567", "C-1001")
    assert caught.value.status == status


def test_a_wrong_otp_carries_the_attempts_remaining(bank, transport):
    transport.reply(
        422, {"type": "invalid", "code": "invalidLinkageConfirmationCode", "details": "x", "attemptsRemaining": 3}
    )
    with pytest.raises(ic.InvalidOtp) as caught:
        bank.verify_otp("LINK1", "000000")
    assert caught.value.attempts_remaining == 3


def refused_connection() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")
    return requests.ConnectionError(MaxRetryError(None, BASE, reason))


def test_a_timeout_on_a_money_call_is_an_unknown_outcome(bank, transport):
    transport.fail(requests.ReadTimeout("read timed out"))
    with pytest.raises(ic.OutcomeUnknown):
        bank.redeem("LINK1", "HM-000123", 52_000, 50_000, "x")


def test_a_dropped_connection_on_a_money_call_is_an_unknown_outcome(bank, transport):
    transport.fail(requests.ConnectionError("Connection aborted: RemoteDisconnected"))
    with pytest.raises(ic.OutcomeUnknown):
        bank.refund("PAY-1", 100, "HM-000123-F1")


def test_a_server_error_on_a_money_call_is_an_unknown_outcome(bank, transport):
    transport.reply(500, {"type": "fatal", "code": "internalError", "details": "x"})
    with pytest.raises(ic.OutcomeUnknown, match="internalError"):
        bank.reverse("RDM-1", "HM-000123-R1", 100)


def test_a_refused_connection_on_a_money_call_is_unavailable_because_nothing_was_sent(bank, transport):
    transport.fail(refused_connection())
    with pytest.raises(ic.IssuerUnavailable):
        bank.redeem("LINK1", "HM-000123", 52_000, 50_000, "x")


def test_a_timeout_on_a_read_call_is_unavailable(bank, transport):
    transport.fail(requests.ReadTimeout("read timed out"))
    with pytest.raises(ic.IssuerUnavailable):
        bank.balance("LINK1")


def test_error_messages_never_echo_the_card_number(bank, transport):
    transport.fail(requests.ReadTimeout("4966010000008741 read timed out"))
    with pytest.raises(ic.OutcomeUnknown) as caught:
        bank.pay(
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
        bank = ic.get_issuer_client()
        assert bank is ic.get_issuer_client()
        assert (bank.base_url, bank.client_id) == ("http://127.0.0.1:9/gcb/api", "harbour-mall")
        assert bank.timeout == app.config["ISSUER_TIMEOUT_SECONDS"]


def test_the_apps_client_ignores_proxy_settings_of_the_environment_unless_told(app, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    url = "http://127.0.0.1:9/gcb/api/v1/x"
    with app.app_context():
        session = ic.get_issuer_client().session
        assert session.trust_env is False
        assert session.merge_environment_settings(url, {}, None, None, None)["proxies"] == {}
    app.extensions.pop("issuer_client")
    app.config["ISSUER_USE_ENVIRONMENT_PROXIES"] = True
    with app.app_context():
        session = ic.get_issuer_client().session
        assert session.merge_environment_settings(url, {}, None, None, None)["proxies"]["http"] == (
            "http://proxy.invalid:3128"
        )


# --- Strict answers -----------------------------------------------------------------------------

ENROLLMENT = {
    "rewardLinkCode": "LINK1",
    "linkStatus": "PENDING_ACTIVATION",
    "maskedPhoneNumber": "****4567",
    "otpExpiresAt": "2026-11-26T09:05:00Z",
}


def without(body: dict, name: str) -> dict:
    return {key: value for key, value in body.items() if key != name}


def enroll(bank):
    return bank.enroll("8741", "91234567", "C-1001")


def redeem(bank):
    return bank.redeem("LINK1", "HM-000123", 52_000, 50_000, "Harbour Mall order HM-000123")


def pay(bank):
    return bank.pay(
        amount_cents=52_000,
        card_number="4966010000008741",
        expiry_month=12,
        expiry_year=2030,
        cvc="123",
        holder_name="CHAN TAI MAN",
        merchant_reference="HM-000123",
        idempotency_key="HM-000123-P1",
    )


@pytest.mark.parametrize(
    ("call", "status", "body", "field"),
    [
        (enroll, 200, without(ENROLLMENT, "rewardLinkCode"), "rewardLinkCode"),
        (enroll, 200, {**ENROLLMENT, "rewardLinkCode": ""}, "rewardLinkCode"),
        (enroll, 200, {**ENROLLMENT, "linkStatus": "MAYBE"}, "linkStatus"),
        (enroll, 200, {**ENROLLMENT, "otpExpiresAt": 1764147900}, "otpExpiresAt"),
        (lambda c: c.resend_otp("LINK1"), 202, {"otpExpiresAt": "2026-11-26T09:05:00Z"}, "resendsRemaining"),
        (lambda c: c.verify_otp("LINK1", "123456"), 200, {"linkStatus": "LOCKED"}, "linkStatus"),
        (lambda c: c.balance("LINK1"), 200, {**BALANCE, "availablePointBalance": "120000"}, "availablePointBalance"),
        (lambda c: c.balance("LINK1"), 200, {**BALANCE, "availablePointBalance": True}, "availablePointBalance"),
        (lambda c: c.balance("LINK1"), 200, {**BALANCE, "isRedemptionEligible": "yes"}, "isRedemptionEligible"),
        (lambda c: c.balance("LINK1"), 200, {**BALANCE, "programConversionRate": None}, "programConversionRate"),
        (lambda c: c.balance("LINK1"), 200, without(BALANCE, "minimumPointsToRedeem"), "minimumPointsToRedeem"),
        (lambda c: c.find_redemption("HM-000123"), 200, REDEMPTION, "transactionReferenceNumber"),
        (lambda c: c.get_redemption("RDM-1"), 200, {**REDEMPTION_DETAILS, "redeemedAmount": "2.005"}, "whole cents"),
        (lambda c: c.get_redemption("RDM-1"), 200, {**REDEMPTION_DETAILS, "redeemedAmount": "-200.00"}, "redeemed"),
        (lambda c: c.get_payment("PAY-1"), 200, {**PAYMENT, "amount": "520.00"}, "amount"),
        (lambda c: c.get_payment("PAY-1"), 200, without(PAYMENT, "card"), "card"),
        (lambda c: c.find_payments("HM-000123"), 200, [PAYMENT], "not a JSON object"),
    ],
)
def test_an_answer_that_breaks_the_contract_is_an_invalid_response(bank, transport, call, status, body, field):
    transport.reply(status, body)
    with pytest.raises(ic.InvalidResponse, match=field) as caught:
        call(bank)
    assert caught.value.code == "invalidResponse" and caught.value.status == status
    assert not isinstance(caught.value, ic.OutcomeUnknown)  # nothing changed at the bank: safe to say so


@pytest.mark.parametrize(
    ("call", "status", "body", "field"),
    [
        (redeem, 200, without(REDEMPTION, "redeemedAmount"), "redeemedAmount"),
        (redeem, 200, {**REDEMPTION, "pointsRedeemed": 50000.0}, "pointsRedeemed"),
        (redeem, 200, b"<html>OK</html>", "not JSON"),
        (lambda c: c.reverse("RDM-1", "HM-000123-R1", 50000), 200, without(REVERSAL, "reversalId"), "reversalId"),
        (pay, 201, {**PAYMENT, "status": "PENDING"}, "status"),
        (lambda c: c.refund("PAY-1", 20_000, "HM-000123-F1"), 201, {"status": "SUCCEEDED", "amount": 1}, "refundId"),
    ],
)
def test_an_unreadable_yes_to_a_money_call_is_an_unknown_outcome(bank, transport, call, status, body, field):
    """The bank said yes, so the money may have moved: the caller must look it up, never record a guess."""
    transport.reply(status, body)
    with pytest.raises(ic.OutcomeUnknown, match=field) as caught:
        call(bank)
    assert caught.value.code == "invalidResponse"


def test_a_token_answer_without_an_access_token_is_an_invalid_response():
    class NoToken(ScriptedTransport):
        def send(self, request, **kwargs):
            return self._response(request, 200, {"token_type": "Bearer", "expires_in": 1800}, {})

    session = requests.Session()
    session.mount("http://", NoToken())
    bank = ic.IssuerClient(BASE, "harbour-mall", "harbour-mall-secret", session=session)
    with pytest.raises(ic.InvalidResponse, match="access_token"):
        bank.access_token()


def test_the_details_of_an_invalid_response_name_the_fields_not_their_values(bank, transport):
    transport.reply(200, {**ENROLLMENT, "rewardLinkCode": 4966010000008741, "maskedPhoneNumber": None})
    with pytest.raises(ic.InvalidResponse) as caught:
        enroll(bank)
    assert "rewardLinkCode" in caught.value.details and "maskedPhoneNumber" in caught.value.details
    assert "4966" not in caught.value.details


def test_unknown_fields_in_an_answer_are_tolerated(bank, transport):
    """The bank may extend its answers; the client must keep working when it does."""
    extended_card = {**PAYMENT["card"], "network": "VISA", "tokenised": True}
    transport.reply(200, {**BALANCE, "pointsExpiringSoon": 500, "tier": {"name": "Gold"}})
    transport.reply(200, {"payments": [{**PAYMENT, "card": extended_card, "riskScore": 3}], "nextPage": None})
    assert bank.balance("LINK1").available_points == 120000
    assert bank.find_payments("HM-000123")[0].brand == "VISA"


def test_money_on_the_wire_is_read_as_decimal_never_float(bank, transport):
    transport.reply(200, {**REDEMPTION, "redeemedAmount": 200.10}).reply(
        200, {**BALANCE, "programConversionRate": "0.1"}
    )
    assert redeem(bank).redeemed_amount_cents == 20010  # a JSON number, read as Decimal("200.10")
    rate = bank.balance("LINK1").conversion_rate
    assert isinstance(rate, Decimal) and rate * 3 == Decimal("0.3")


def test_a_redemption_answer_keeps_the_reference_the_shop_sent(bank, transport):
    transport.reply(200, REDEMPTION)
    redemption = redeem(bank)
    assert (redemption.transaction_reference, redemption.credit_posting_date) == ("HM-000123", "2026-11-27")
    assert redemption.available_point_balance == 70000 and not redemption.replayed


def test_an_activation_may_answer_with_no_body(bank, transport):
    transport.reply(204, None)
    assert bank.verify_otp("LINK1", "123456") == "ACTIVE"


def test_the_token_endpoints_oauth_error_fields_are_tolerated():
    class Refusing(ScriptedTransport):
        def send(self, request, **kwargs):
            body = {
                "type": "error",
                "code": "invalidClient",
                "details": "Unknown bank or wrong secret.",
                "error": "invalid_client",
                "error_description": "Unknown bank or wrong secret.",
            }
            return self._response(request, 401, body, {})

    session = requests.Session()
    session.mount("http://", Refusing())
    bank = ic.IssuerClient(BASE, "harbour-mall", "wrong", session=session)
    with pytest.raises(ic.IssuerError, match="invalidClient") as caught:
        bank.access_token()
    assert (caught.value.status, caught.value.details) == (401, "Unknown bank or wrong secret.")


def test_an_error_body_that_is_not_the_error_model_counts_by_its_status(bank, transport):
    transport.reply(404, {"message": "no such route"})
    with pytest.raises(ic.NotFound, match="http404"):
        bank.get_payment("PAY-1")


# --- One base URL -------------------------------------------------------------------------------


def test_every_call_goes_under_the_one_base_url(bank, transport):
    transport.reply(200, BALANCE).reply(201, PAYMENT).reply(200, REDEMPTION)
    bank.balance("LINK1")
    pay(bank)
    redeem(bank)
    assert [r.url for r in transport.requests] == [
        "http://issuer.test/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        "http://issuer.test/gcb/api/v1/apac/rewards/LINK1/pointBalance",
        "http://issuer.test/gcb/api/gateway/v1/payments",
        "http://issuer.test/gcb/api/v1/apac/rewards/LINK1/redemption",
    ]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"ISSUER_URL": "http://bank.example:8001"}, "http://bank.example:8001/gcb/api"),
        ({"ISSUER_URL": "http://bank.example:8001/"}, "http://bank.example:8001/gcb/api"),
        ({"ISSUER_URL": "http://old.example", "ISSUER_API_URL": "https://api.bank.example/gcb/api/"}, None),
    ],
)
def test_the_api_base_url_is_configured_or_derived_from_the_issuer_url(tmp_path, config, expected):
    from .conftest import close_app, make_app

    app = make_app(tmp_path, **config)
    try:
        with app.app_context():
            assert ic.get_issuer_client().base_url == (expected or "https://api.bank.example/gcb/api")
    finally:
        close_app(app)


def test_the_api_base_url_comes_from_the_environment(tmp_path, monkeypatch):
    from .conftest import close_app, make_app

    monkeypatch.setenv("SHOP_ISSUER_API_URL", "https://sandbox.bank.example/gcb/api")
    app = make_app(tmp_path)
    try:
        with app.app_context():
            assert ic.get_issuer_client().base_url == "https://sandbox.bank.example/gcb/api"
    finally:
        close_app(app)


# --- In the shop: nothing is stored from an answer it cannot read -------------------------------


def link_count(app) -> int:
    from shop.extensions import db
    from shop.models import CardLink

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(CardLink))


def failed_codes(app) -> list[str]:
    from shop.extensions import db
    from shop.models import PwpEvent

    with app.app_context():
        return list(db.session.scalars(sa.select(PwpEvent.code).where(PwpEvent.kind == "failed")))


def stored_order(app, reference: str):
    from shop.extensions import db
    from shop.models import Order

    with app.app_context():
        order = db.session.scalar(sa.select(Order).where(Order.reference == reference))
        db.session.expunge(order)
        return order


def test_the_shop_stores_no_link_when_the_real_clients_enrolment_answer_has_no_link_code(app, client, checkout):
    reference = checkout.paid_order()  # paid through the fake bank; the enrolment goes through the real client
    transport = ScriptedTransport().reply(200, without(ENROLLMENT, "rewardLinkCode"))
    session = requests.Session()
    session.mount("http://", transport)
    app.extensions["issuer_client"] = ic.IssuerClient(
        BASE, "harbour-mall", "harbour-mall-secret", session=session, before_request=ic.no_transaction_open
    )
    response = checkout.send_code(reference)
    assert [r.path_url for r in transport.calls()] == ["/gcb/api/v1/apac/rewards/linkage"]
    assert "could not complete that step (invalidResponse)" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert link_count(app) == 0
    assert failed_codes(app) == ["invalidResponse"]


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.pop("rewardLinkCode"),
        lambda body: body.update(rewardLinkCode=""),
        lambda body: body.update(linkStatus=None),
    ],
)
def test_the_shop_stores_no_link_when_the_fake_banks_enrolment_answer_breaks_the_contract(
    app, client, checkout, fake_issuer, change
):
    reference = checkout.paid_order()
    fake_issuer.alter_answer("enroll", change)
    response = checkout.send_code(reference)
    assert "(invalidResponse)" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert link_count(app) == 0
    assert failed_codes(app) == ["invalidResponse"]
    checkout.link_card(reference, fake_issuer)  # the next, readable answer links the card
    assert link_count(app) == 1


def test_an_unreadable_redemption_answer_is_settled_by_the_look_up_not_by_a_guess(app, checkout, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    fake_issuer.alter_answer("redeem", lambda body: body.pop("redeemedAmount"))
    checkout.use_points(reference, 50_000)
    order = stored_order(app, reference)
    assert (order.status, order.points_used, order.statement_credit_cents) == ("POINTS_APPLIED", 50_000, 20_000)
    assert len(fake_issuer.calls_to("find_redemption")) == 1
    assert len(fake_issuer.calls_to("redeem")) == 1 and fake_issuer.points_of("4966010000008741") == 70_000


def test_an_unreadable_look_up_leaves_the_redemption_to_check_again(app, checkout, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    fake_issuer.alter_answer("redeem", lambda body: body.pop("orderId"))
    fake_issuer.alter_answer("find_redemption", lambda body: body.update(pointsRedeemed="50000"))
    checkout.use_points(reference, 50_000)
    order = stored_order(app, reference)
    assert (order.status, order.redemption_order_id, order.points_check_needed) == ("PAID", None, True)
    assert failed_codes(app) == ["outcomeUnknown"]


def test_an_unreadable_payment_answer_is_settled_by_the_look_up(app, checkout, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.alter_answer("pay", lambda body: body.pop("card"))
    checkout.pay(reference)
    order = stored_order(app, reference)
    assert (order.status, order.card_last4) == ("PAID", "8741")
    assert len(fake_issuer.calls_to("find_payments")) == 1 and len(fake_issuer.calls_to("pay")) == 1


def test_the_fake_bank_cannot_leave_out_a_field_the_client_requires():
    from pydantic import ValidationError

    from shop.issuer_models import EnrollmentAnswer

    with pytest.raises(ValidationError, match="rewardLinkCode"):
        EnrollmentAnswer(link_status="ACTIVE", masked_phone_number="****4567")


@pytest.mark.parametrize(("flow", "sent"), [("native", None), ("legacy", "legacy")])
def test_pay_names_the_legacy_flow_to_the_gateway_and_leaves_the_native_request_as_it_was(bank, transport, flow, sent):
    transport.reply(201, PAYMENT)
    bank.pay(
        amount_cents=52_000,
        card_number="4966010000008741",
        expiry_month=12,
        expiry_year=2030,
        cvc="123",
        holder_name="CHAN TAI MAN",
        merchant_reference="HM-000123",
        idempotency_key="HM-000123-P1",
        pwp_flow=flow,
    )
    assert body_of(transport.calls()[0]).get("payWithPointsFlow") == sent
