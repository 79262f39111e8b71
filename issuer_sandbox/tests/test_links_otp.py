"""Enrol, OTP resend, activation and unlink: the rules (otp.py, links.py) and the partner API calls."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from issuer_sandbox import links, otp
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RewardLink, SmsMessage

from .conftest import SANDBOX_KEY, PartnerApi

LINKAGE = "/v1/apac/rewards/linkage"
HAPPY = {
    "lastFourDigitsCardNumber": "8741",
    "citiCardHolderPhoneNumber": "91234567",
    "merchantCustomerReferenceId": "C-1001",
}
SANDBOX = {"X-Sandbox-Key": SANDBOX_KEY}
POLICY = otp.OtpPolicy(hash_key="test-key")
NOW = datetime(2026, 1, 1, 12, 0, 0)


def enroll(api, **overrides):
    return api.post(LINKAGE, json={**HAPPY, **overrides})


def latest_otp(client, phone="91234567") -> str:
    messages = client.get(f"/sandbox/api/sms?phone={phone}", headers=SANDBOX).json
    return messages[0]["otp"]


def activate(api, code, otp_digits):
    return api.put(f"/v1/apac/rewards/{code}/activations", json={"linkageConfirmationCode": otp_digits})


def resend(api, code):
    return api.post(f"/v1/apac/rewards/{code}/activations/otp")


def advance(client, seconds):
    assert client.post("/sandbox/api/clock/advance", json={"seconds": seconds}, headers=SANDBOX).status_code == 200


def wrong(otp_digits: str) -> str:
    return f"{(int(otp_digits) + 1) % 1_000_000:06d}"


@pytest.fixture
def pending(api):
    """A freshly enrolled link of the happy-path card: its code."""
    response = enroll(api)
    assert response.status_code == 200, response.json
    return response.json["rewardLinkCode"]


# --- otp.py -----------------------------------------------------------------------------------


def make_link(code="RL-test") -> RewardLink:
    return RewardLink(code=code, status=links.PENDING, failed_attempts=0, resends_used=0)


def test_generated_otps_are_six_ascii_digits_and_vary():
    codes = {otp.generate_otp() for _ in range(50)}

    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)
    assert len(codes) > 40


def test_the_otp_hash_is_keyed_and_bound_to_the_link_code():
    digest = otp.hash_otp("key", "RL-a", "123456")

    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert "123456" not in digest
    assert digest != otp.hash_otp("other-key", "RL-a", "123456")
    assert digest != otp.hash_otp("key", "RL-b", "123456")
    assert otp.otp_matches("key", "RL-a", "123456", digest)
    assert not otp.otp_matches("key", "RL-a", "123457", digest)


def test_issuing_stores_only_the_hash_with_an_expiry():
    link = make_link()

    digits = otp.issue_otp(link, NOW, POLICY)

    assert link.otp_hash == otp.hash_otp("test-key", "RL-test", digits)
    assert link.otp_expires_at == NOW + timedelta(seconds=300)
    assert link.otp_sent_at == NOW


def test_a_correct_otp_is_accepted_once():
    link = make_link()
    digits = otp.issue_otp(link, NOW, POLICY)

    otp.verify_otp(link, digits, NOW, POLICY)

    assert link.otp_hash is None
    with pytest.raises(otp.OtpExpired, match="expired"):
        otp.verify_otp(link, digits, NOW, POLICY)


def test_a_wrong_otp_is_counted_before_the_error_is_raised():
    link = make_link()
    digits = otp.issue_otp(link, NOW, POLICY)

    with pytest.raises(otp.OtpInvalid, match="4 attempt") as raised:
        otp.verify_otp(link, wrong(digits), NOW, POLICY)

    assert raised.value.attempts_remaining == 4
    assert link.failed_attempts == 1


def test_the_fifth_wrong_otp_locks_and_forgets_the_otp():
    link = make_link()
    digits = otp.issue_otp(link, NOW, POLICY)
    for _ in range(4):
        with pytest.raises(otp.OtpInvalid):
            otp.verify_otp(link, wrong(digits), NOW, POLICY)

    with pytest.raises(otp.MaxAttemptsExceeded, match="locked"):
        otp.verify_otp(link, wrong(digits), NOW, POLICY)
    assert link.otp_hash is None
    with pytest.raises(otp.MaxAttemptsExceeded):
        otp.verify_otp(link, digits, NOW, POLICY)


def test_an_otp_expires_after_its_ttl_even_when_correct():
    link = make_link()
    digits = otp.issue_otp(link, NOW, POLICY)

    otp.verify_otp(make_link_with(link), digits, NOW + timedelta(seconds=299), POLICY)
    with pytest.raises(otp.OtpExpired, match="expired"):
        otp.verify_otp(link, digits, NOW + timedelta(seconds=300), POLICY)
    assert link.failed_attempts == 0  # an expired code is not a guess


def make_link_with(source: RewardLink) -> RewardLink:
    copy = make_link(source.code)
    copy.otp_hash, copy.otp_expires_at, copy.otp_sent_at = source.otp_hash, source.otp_expires_at, source.otp_sent_at
    return copy


def test_a_resend_within_the_cooldown_says_how_long_to_wait():
    link = make_link()
    otp.issue_otp(link, NOW, POLICY)

    with pytest.raises(otp.ResendTooSoon, match="Wait 21 s") as raised:
        otp.check_resend_allowed(link, NOW + timedelta(seconds=9, milliseconds=500), POLICY)
    assert raised.value.retry_after_seconds == 21
    otp.check_resend_allowed(link, NOW + timedelta(seconds=30), POLICY)


def test_resends_stop_after_the_maximum():
    link = make_link()
    link.resends_used = 3

    with pytest.raises(otp.MaxResendsExceeded, match="At most 3"):
        otp.check_resend_allowed(link, NOW, POLICY)
    assert otp.resends_remaining(link, POLICY) == 0


def test_the_policy_reads_the_config_keys():
    policy = otp.OtpPolicy.from_config(
        {
            "OTP_HASH_KEY": "k",
            "OTP_TTL_SECONDS": 60,
            "OTP_MAX_ATTEMPTS": 3,
            "OTP_RESEND_COOLDOWN_SECONDS": 10,
            "OTP_MAX_RESENDS": 1,
            "OTP_SMS_LIMIT_PER_CARD": "4 per hour",
            "OTP_SMS_LIMIT_PER_PHONE": "6 per 30 minutes",
            "OTP_FAILED_ATTEMPTS_LIMIT_PER_CARD": "8/day",
        }
    )

    assert policy == otp.OtpPolicy(
        "k", 60, 3, 10, 1, otp.CountLimit(4, 3600), otp.CountLimit(6, 1800), otp.CountLimit(8, 86400)
    )


# --- links.py rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91234567", "91234567"),
        ("9123 4567", "91234567"),
        ("9123-4567", "91234567"),
        ("+852 9123 4567", "91234567"),
        ("852-9123-4567", "91234567"),
        ("+85291234567", "91234567"),
    ],
)
def test_phone_numbers_are_normalised_to_eight_digits(raw, expected):
    assert links.normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["9123456", "912345678", "+1 91234567", "9123456a", "９１２３４５６７", "", "+852"])
def test_anything_but_an_eight_digit_mobile_is_refused(raw):
    with pytest.raises(links.InvalidPhoneNumber, match="8-digit"):
        links.normalize_phone(raw)


def test_the_sms_text_is_the_banks_wording():
    text = links.otp_sms_text("Summit Bank", "123456", "8741", "Harbour Mall", 300)

    assert text == (
        "Summit Bank: 123456 is your one-time password to link your card ending 8741 with Harbour Mall. "
        "Valid for 5 minutes. Never share it."
    )


# --- Enrol ------------------------------------------------------------------------------------


def test_enrolling_the_happy_card_sends_an_otp_and_returns_a_pending_link(app, api, client):
    response = enroll(api, citiCardHolderPhoneNumber="+852 9123-4567")

    assert response.status_code == 200
    body = response.json
    assert set(body) == {"rewardLinkCode", "linkStatus", "maskedPhoneNumber", "otpExpiresAt"}
    assert body["linkStatus"] == "PENDING_ACTIVATION"
    assert body["maskedPhoneNumber"] == "****4567"
    assert body["rewardLinkCode"].startswith("RL-") and len(body["rewardLinkCode"]) > 20
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["otpExpiresAt"])
    messages = client.get("/sandbox/api/sms?phone=91234567", headers=SANDBOX).json
    assert len(messages) == 1
    assert re.fullmatch(
        r"Summit Bank: \d{6} is your one-time password to link your card ending 8741 with Harbour Mall\. "
        r"Valid for 5 minutes\. Never share it\.",
        messages[0]["body"],
    )
    with app.app_context():
        link = db.session.scalar(sa.select(RewardLink))
        assert link.otp_hash == otp.hash_otp(app.config["OTP_HASH_KEY"], link.code, messages[0]["otp"])


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"lastFourDigitsCardNumber": "0000"}, 404, "accountNotFound"),
        ({"citiCardHolderPhoneNumber": "92345678"}, 404, "accountNotFound"),  # another holder's mobile
        ({"lastFourDigitsCardNumber": "4242", "citiCardHolderPhoneNumber": "91234567"}, 404, "accountNotFound"),
        ({"lastFourDigitsCardNumber": "7404", "citiCardHolderPhoneNumber": "95678901"}, 422, "notEligibleToRedeem"),
        ({"lastFourDigitsCardNumber": "4300", "citiCardHolderPhoneNumber": "94567890"}, 422, "notEligibleToRedeem"),
        ({"lastFourDigitsCardNumber": "7909", "citiCardHolderPhoneNumber": "90000000"}, 503, "otpDeliveryFailed"),
    ],
)
def test_enrolling_an_unusable_card_gets_its_code_and_creates_no_link(app, api, fields, status, code):
    response = enroll(api, **fields)

    assert response.status_code == status
    assert response.json["code"] == code
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RewardLink)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 0


LONG = "x" * 65


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**HAPPY, "lastFourDigitsCardNumber": "874"}, "lastFourDigitsCardNumber"),
        ({**HAPPY, "lastFourDigitsCardNumber": "87411"}, "lastFourDigitsCardNumber"),
        ({**HAPPY, "lastFourDigitsCardNumber": "87a1"}, "lastFourDigitsCardNumber"),
        ({**HAPPY, "lastFourDigitsCardNumber": "٨٧٤١"}, "lastFourDigitsCardNumber"),  # Arabic-Indic digits
        ({**HAPPY, "lastFourDigitsCardNumber": 8741}, "lastFourDigitsCardNumber"),
        ({**HAPPY, "citiCardHolderPhoneNumber": "1234"}, "8-digit"),
        ({**HAPPY, "citiCardHolderPhoneNumber": "9" * 21}, "citiCardHolderPhoneNumber"),
        ({**HAPPY, "merchantCustomerReferenceId": LONG}, "merchantCustomerReferenceId"),
        ({**HAPPY, "merchantCustomerReferenceId": "顧客-1"}, "merchantCustomerReferenceId"),
        ({**HAPPY, "merchantCustomerReferenceId": ""}, "merchantCustomerReferenceId"),
        ({k: v for k, v in HAPPY.items() if k != "citiCardHolderPhoneNumber"}, "citiCardHolderPhoneNumber"),
        ({**HAPPY, "cardNumber": "4966010000008741"}, "Unknown field"),
        ([HAPPY], "JSON object"),
    ],
)
def test_bad_enrol_bodies_are_invalid_request(api, body, message):
    response = api.post(LINKAGE, json=body)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    assert message in response.json["details"]


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        ('{"lastFourDigitsCardNumber": "8741",', "application/json", "not valid JSON"),
        ("lastFourDigitsCardNumber=8741", "application/x-www-form-urlencoded", "Content-Type"),
        ('{"lastFourDigitsCardNumber": "8741"}', "text/plain", "Content-Type"),
        (b"\xff\xfe{}", "application/json", "not valid JSON"),
    ],
)
def test_malformed_or_mistyped_enrol_bodies_are_invalid_request(api, data, content_type, message):
    response = api.post(LINKAGE, data=data, content_type=content_type)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    assert message in response.json["details"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", LINKAGE),
        ("put", LINKAGE),
        ("get", "/v1/apac/rewards/RL-x/activations"),
        ("patch", "/v1/apac/rewards/RL-x"),
    ],
)
def test_wrong_methods_on_link_paths_are_json_405(api, method, path):
    response = getattr(api, method)(path) if method != "patch" else api.client.patch(path, headers=api.headers())

    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"


def test_enrol_needs_a_bearer_token_and_a_uuid(client, api):
    assert client.post(LINKAGE, json=HAPPY).status_code == 401
    headers = api.headers()
    del headers["uuid"]
    response = client.post(LINKAGE, json=HAPPY, headers=headers)
    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"


def test_enrolling_an_already_active_customer_returns_the_active_link_without_an_otp(api, client, pending):
    activate(api, pending, latest_otp(client))

    response = enroll(api)

    assert response.status_code == 200
    assert response.json == {
        "rewardLinkCode": pending,
        "linkStatus": "ACTIVE",
        "maskedPhoneNumber": "****4567",
        "otpExpiresAt": None,
    }
    assert len(client.get("/sandbox/api/sms", headers=SANDBOX).json) == 1


def test_another_merchant_customer_gets_its_own_link_to_the_same_card(api, client, pending):
    activate(api, pending, latest_otp(client))

    response = enroll(api, merchantCustomerReferenceId="C-2002")

    assert response.json["linkStatus"] == "PENDING_ACTIVATION"
    assert response.json["rewardLinkCode"] != pending


def test_enrolling_again_makes_the_older_pending_link_stop_working(api, client, pending):
    first_otp = latest_otp(client)

    second = enroll(api).json["rewardLinkCode"]

    assert second != pending
    assert activate(api, pending, first_otp).json["code"] == "invalidRewardLinkCode"
    assert activate(api, second, latest_otp(client)).json == {"linkStatus": "ACTIVE"}


# --- Activate ---------------------------------------------------------------------------------


def test_the_right_otp_activates_the_link(app, api, client, pending):
    response = activate(api, pending, latest_otp(client))

    assert response.status_code == 200
    assert response.json == {"linkStatus": "ACTIVE"}
    with app.app_context():
        link = db.session.scalar(sa.select(RewardLink))
        assert (link.status, link.otp_hash) == ("ACTIVE", None)
        assert link.activated_at is not None


def test_an_activated_link_refuses_the_same_otp_again(api, client, pending):
    digits = latest_otp(client)
    activate(api, pending, digits)

    response = activate(api, pending, digits)

    assert response.status_code == 409
    assert response.json["code"] == "linkAlreadyActive"


def test_a_wrong_otp_is_422_with_attempts_remaining_and_the_count_is_committed(app, api, client, pending):
    digits = latest_otp(client)

    responses = [activate(api, pending, wrong(digits)) for _ in range(2)]

    assert [r.status_code for r in responses] == [422, 422]
    assert [r.json["code"] for r in responses] == ["invalidLinkageConfirmationCode"] * 2
    assert [r.json["attemptsRemaining"] for r in responses] == [4, 3]
    with app.app_context():
        assert db.session.scalar(sa.select(RewardLink.failed_attempts)) == 2


def test_the_fifth_wrong_otp_locks_the_link_and_enrolling_again_gives_a_fresh_one(api, client, pending):
    digits = latest_otp(client)
    statuses = [activate(api, pending, wrong(digits)).status_code for _ in range(5)]

    assert statuses == [422, 422, 422, 422, 423]
    after = activate(api, pending, digits)
    assert after.status_code == 423
    assert after.json["code"] == "maxAttemptsExceeded"
    assert resend(api, pending).json["code"] == "maxAttemptsExceeded"

    fresh = enroll(api).json
    assert fresh["linkStatus"] == "PENDING_ACTIVATION"
    assert fresh["rewardLinkCode"] != pending
    assert activate(api, fresh["rewardLinkCode"], latest_otp(client)).status_code == 200


def test_an_otp_expires_after_five_minutes_of_sandbox_time(api, client, pending):
    digits = latest_otp(client)
    advance(client, 300)

    response = activate(api, pending, digits)

    assert response.status_code == 422
    assert response.json["code"] == "otpExpired"


def test_an_otp_still_works_just_before_it_expires(api, client, pending):
    digits = latest_otp(client)
    advance(client, 290)

    assert activate(api, pending, digits).status_code == 200


def test_another_partners_link_code_is_not_found(app, api, client, pending):
    from werkzeug.security import generate_password_hash

    from issuer_sandbox import clock
    from issuer_sandbox.models import PartnerClient

    with app.app_context():
        db.session.add(
            PartnerClient(
                client_id="other-shop",
                secret_hash=generate_password_hash("other-secret"),
                merchant_name="Other Shop",
                created_at=clock.now(),
            )
        )
        db.session.commit()
    other = PartnerApi(client, "other-shop", "other-secret")
    digits = latest_otp(client)

    for response in (
        activate(other, pending, digits),
        resend(other, pending),
        other.delete(f"/v1/apac/rewards/{pending}"),
    ):
        assert response.status_code == 404
        assert response.json["code"] == "invalidRewardLinkCode"
    assert activate(api, pending, digits).status_code == 200  # the owner's link was not touched


@pytest.mark.parametrize("code", ["RL-does-not-exist", "x" * 65, "%E9%A1%A7"])
def test_unknown_link_codes_are_invalid_reward_link_code(api, code):
    response = activate(api, code, "123456")

    assert response.status_code == 404
    assert response.json["code"] == "invalidRewardLinkCode"


@pytest.mark.parametrize(
    "body",
    [
        {"linkageConfirmationCode": "12345"},
        {"linkageConfirmationCode": "1234567"},
        {"linkageConfirmationCode": "12a456"},
        {"linkageConfirmationCode": "１２３４５６"},
        {"linkageConfirmationCode": 123456},
        {},
        {"linkageConfirmationCode": "123456", "extra": 1},
    ],
)
def test_a_malformed_confirmation_code_is_invalid_request_and_not_counted(app, api, pending, body):
    response = api.put(f"/v1/apac/rewards/{pending}/activations", json=body)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    with app.app_context():
        assert db.session.scalar(sa.select(RewardLink.failed_attempts)) == 0


# --- Resend -----------------------------------------------------------------------------------


def test_a_resend_after_the_cooldown_sends_a_new_otp_and_the_old_one_stops_working(api, client, pending):
    old = latest_otp(client)
    advance(client, 30)

    response = resend(api, pending)

    assert response.status_code == 202
    assert set(response.json) == {"otpExpiresAt", "resendsRemaining"}
    assert response.json["resendsRemaining"] == 2
    new = latest_otp(client)
    assert len(client.get("/sandbox/api/sms", headers=SANDBOX).json) == 2
    if new != old:  # one chance in a million that both are equal
        assert activate(api, pending, old).json["code"] == "invalidLinkageConfirmationCode"
    assert activate(api, pending, new).status_code == 200


def test_a_resend_within_30_seconds_is_429_with_retry_after(api, client, pending):
    advance(client, 10)

    response = resend(api, pending)

    assert response.status_code == 429
    assert response.json["code"] == "otpResendTooSoon"
    assert response.json["type"] == "fatal"
    assert 19 <= response.json["retryAfterSeconds"] <= 20
    assert response.headers["Retry-After"] == str(response.json["retryAfterSeconds"])
    assert len(client.get("/sandbox/api/sms", headers=SANDBOX).json) == 1


def test_a_fourth_resend_is_max_resends_exceeded(api, client, pending):
    remaining = []
    for _ in range(3):
        advance(client, 30)
        remaining.append(resend(api, pending).json["resendsRemaining"])

    advance(client, 30)
    response = resend(api, pending)

    assert remaining == [2, 1, 0]
    assert response.status_code == 429
    assert response.json["code"] == "maxResendsExceeded"


def test_resending_does_not_reset_the_wrong_attempt_count(api, client, pending):
    for _ in range(4):
        activate(api, pending, wrong(latest_otp(client)))
    advance(client, 30)
    resend(api, pending)

    response = activate(api, pending, wrong(latest_otp(client)))

    assert response.status_code == 423


def test_resending_for_an_active_link_is_a_conflict(api, client, pending):
    activate(api, pending, latest_otp(client))
    advance(client, 30)

    response = resend(api, pending)

    assert response.status_code == 409
    assert response.json["code"] == "linkAlreadyActive"


# --- Unlink -----------------------------------------------------------------------------------


def test_unlinking_answers_204_and_the_code_is_unknown_afterwards(app, api, client, pending):
    activate(api, pending, latest_otp(client))

    response = api.delete(f"/v1/apac/rewards/{pending}")

    assert response.status_code == 204
    assert response.get_data() == b""
    for later in (api.delete(f"/v1/apac/rewards/{pending}"), resend(api, pending), activate(api, pending, "123456")):
        assert later.status_code == 404
        assert later.json["code"] == "invalidRewardLinkCode"
    with app.app_context():
        assert db.session.scalar(sa.select(RewardLink.status)) == "UNLINKED"
    assert enroll(api).json["linkStatus"] == "PENDING_ACTIVATION"  # enrolling again starts over
