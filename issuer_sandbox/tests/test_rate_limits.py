"""Rate limits and OTP abuse: OTP SMS and wrong codes per card and phone, failed sign-ins and client logins."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from issuer_sandbox.extensions import db
from issuer_sandbox.models import SmsMessage

from .conftest import CLIENT_ID, SANDBOX_KEY, PartnerApi, basic_auth, close_app, make_app
from .test_links_otp import HAPPY, LINKAGE, activate, advance, enroll, latest_otp, resend, wrong

SANDBOX = {"X-Sandbox-Key": SANDBOX_KEY}
TOKEN = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
FORM = {"grant_type": "client_credentials", "scope": "/api"}


@pytest.fixture
def limited_app(tmp_path, request):
    """An issuer with the limits a test names (``@pytest.mark.parametrize("limited_app", [{...}], indirect=True)``)."""
    app = make_app(f"sqlite:///{tmp_path / 'issuer.sqlite3'}", **request.param)
    yield app
    close_app(app)


def sms_count(app, phone="91234567") -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage).where(SmsMessage.phone == phone))


def assert_otp_limit(response) -> int:
    assert response.status_code == 429, response.json
    assert response.json["type"] == "fatal"
    assert response.json["code"] == "otpRequestLimitExceeded"
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 3600
    assert response.json["retryAfterSeconds"] == wait
    return wait


# --- OTP SMS per card and per phone (counted in the database, on the sandbox clock) ------------------


def test_a_sixth_otp_sms_to_one_card_within_an_hour_is_refused_until_the_hour_has_passed(app, client, api):
    for customer in range(5):
        assert enroll(api, merchantCustomerReferenceId=f"C-{customer}").status_code == 200

    wait = assert_otp_limit(enroll(api, merchantCustomerReferenceId="C-5"))
    assert sms_count(app) == 5  # the refused enrolment sent nothing

    advance(client, wait)
    assert enroll(PartnerApi(client), merchantCustomerReferenceId="C-5").status_code == 200  # a new token too


def test_twenty_re_enrolments_send_at_most_five_sms_and_allow_at_most_ten_wrong_codes(app, client, api):
    """The attack of issue 10: 20 re-enrolments gave 100 guesses and 20 SMS to one cardholder."""
    statuses, wrong_answers = [], 0
    for attempt in range(20):
        response = enroll(api, merchantCustomerReferenceId=f"ATTACK-{attempt}")
        statuses.append(response.status_code)
        if response.status_code != 200:
            continue
        code, digits = response.json["rewardLinkCode"], latest_otp(client)
        for _ in range(5):
            answer = activate(api, code, wrong(digits))
            if answer.status_code == 422:
                wrong_answers += 1
            else:
                assert answer.json["code"] == "maxAttemptsExceeded"
                break

    assert statuses.count(200) == 2  # 10 wrong codes used the card's guesses, the third enrolment is refused
    assert set(statuses[2:]) == {429}
    assert wrong_answers <= 10
    assert sms_count(app) == 2


def test_resends_count_towards_the_cards_sms_limit(app, client, api):
    code = enroll(api).json["rewardLinkCode"]
    for _ in range(3):
        advance(client, 30)
        assert resend(api, code).status_code == 202
    assert enroll(api, merchantCustomerReferenceId="C-2").status_code == 200  # the fifth SMS

    response = enroll(api, merchantCustomerReferenceId="C-3")

    assert_otp_limit(response)


@pytest.mark.parametrize("limited_app", [{"OTP_SMS_LIMIT_PER_CARD": "5 per hour"}], indirect=True)
def test_a_resend_past_the_cards_sms_limit_is_refused_with_retry_after(limited_app):
    client = limited_app.test_client()
    api = PartnerApi(client)
    for customer in range(4):
        assert enroll(api, merchantCustomerReferenceId=f"C-{customer}").status_code == 200
    code = enroll(api, merchantCustomerReferenceId="C-4").json["rewardLinkCode"]
    advance(client, 30)

    assert_otp_limit(resend(api, code))
    assert sms_count(limited_app) == 5


PHONE_LIMIT = {"OTP_SMS_LIMIT_PER_PHONE": "2 per 10 minutes", "OTP_SMS_LIMIT_PER_CARD": "9 per hour"}


@pytest.mark.parametrize("limited_app", [PHONE_LIMIT], indirect=True)
def test_the_sms_limit_per_phone_is_configuration_and_lifts_after_its_window(limited_app):
    client = limited_app.test_client()
    api = PartnerApi(client)
    assert enroll(api, merchantCustomerReferenceId="C-1").status_code == 200
    advance(client, 60)
    assert enroll(api, merchantCustomerReferenceId="C-2").status_code == 200

    wait = assert_otp_limit(enroll(api, merchantCustomerReferenceId="C-3"))

    assert 530 <= wait <= 540  # the first SMS leaves the 10-minute window after 9 of them
    advance(client, wait)
    assert enroll(api, merchantCustomerReferenceId="C-3").status_code == 200


# --- Wrong codes per card, across links ---------------------------------------------------------


@pytest.mark.parametrize("limited_app", [{"OTP_FAILED_ATTEMPTS_LIMIT_PER_CARD": "7 per hour"}], indirect=True)
def test_once_a_cards_wrong_codes_are_used_up_even_the_right_code_is_refused_until_the_window_passes(limited_app):
    client = limited_app.test_client()
    api = PartnerApi(client)
    first = enroll(api, merchantCustomerReferenceId="C-1").json["rewardLinkCode"]
    for _ in range(5):
        activate(api, first, wrong(latest_otp(client)))
    second = enroll(api, merchantCustomerReferenceId="C-2").json["rewardLinkCode"]
    digits = latest_otp(client)
    for _ in range(2):
        assert activate(api, second, wrong(digits)).status_code == 422

    locked = activate(api, second, digits)  # the right code, but the card has no guesses left

    assert locked.status_code == 423
    assert locked.json["code"] == "maxAttemptsExceeded"
    wait = assert_otp_limit(enroll(api, merchantCustomerReferenceId="C-3"))
    advance(client, wait)
    api = PartnerApi(client)  # the old token expired meanwhile
    third = enroll(api, merchantCustomerReferenceId="C-3").json["rewardLinkCode"]
    assert activate(api, third, latest_otp(client)).status_code == 200


def test_resetting_the_sandbox_clears_the_otp_counters(client, api):
    for customer in range(5):
        enroll(api, merchantCustomerReferenceId=f"C-{customer}")
    assert_otp_limit(enroll(api, merchantCustomerReferenceId="C-5"))

    assert client.post("/sandbox/api/reset", headers=SANDBOX).status_code == 200

    assert PartnerApi(client).post(LINKAGE, json=HAPPY).status_code == 200


# --- Failed client authentications at the token call (per address, in memory) -------------------


def token_call(client, secret: str):
    return client.post(TOKEN, data=FORM, headers={"Authorization": basic_auth(CLIENT_ID, secret)})


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_TOKEN_FAILURES": "3 per minute"}], indirect=True)
def test_failed_client_authentications_are_limited_per_address_and_the_limit_lifts(limited_app, monkeypatch):
    client = limited_app.test_client()
    for _ in range(3):
        assert token_call(client, "wrong").status_code == 401

    refused = token_call(client, "harbour-mall-secret")  # locked out: even the right secret waits

    assert refused.status_code == 429
    assert refused.json["type"] == "fatal"
    assert refused.json["code"] == "tooManyFailedAuthentications"
    assert refused.json["error"] == "invalid_client"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 60
    other_address = client.post(
        TOKEN,
        data=FORM,
        headers={"Authorization": basic_auth(CLIENT_ID, "harbour-mall-secret")},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other_address.status_code == 200
    move_limiter_clock(monkeypatch, wait + 1)
    assert token_call(client, "harbour-mall-secret").status_code == 200


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_TOKEN_FAILURES": "3 per minute"}], indirect=True)
def test_successful_token_calls_are_never_counted(limited_app):
    client = limited_app.test_client()
    for _ in range(20):
        assert token_call(client, "harbour-mall-secret").status_code == 200
    for _ in range(3):
        assert token_call(client, "wrong").status_code == 401
    assert token_call(client, "wrong").status_code == 429


def move_limiter_clock(monkeypatch, seconds: float) -> None:
    """Let the limiter's in-memory windows run ``seconds`` ahead (the counters' clock, not the sandbox's)."""
    import time

    import limits.storage.memory as memory

    real_time = time.time

    class ShiftedTime:
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def time() -> float:
            return real_time() + seconds

    monkeypatch.setattr(memory, "time", ShiftedTime())


# --- Failed console sign-ins (per address, in memory) --------------------------------------------


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_CONSOLE_SIGNIN": "3 per minute"}], indirect=True)
def test_wrong_console_passwords_are_limited_per_address_and_the_limit_lifts(limited_app, monkeypatch):
    client = limited_app.test_client()
    for _ in range(3):
        assert client.post("/login", data={"password": "guess"}).status_code == 401

    refused = client.post("/login", data={"password": "demo"})

    assert refused.status_code == 429
    assert "Too many wrong console passwords" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/login").status_code == 200  # the page itself stays readable
    move_limiter_clock(monkeypatch, 61)
    assert client.post("/login", data={"password": "demo"}).status_code == 302


def test_resetting_the_sandbox_clears_the_failed_sign_in_counters(client):
    for _ in range(10):
        client.post("/login", data={"password": "guess"})
    assert client.post("/login", data={"password": "demo"}).status_code == 429

    assert client.post("/sandbox/api/reset", headers=SANDBOX).status_code == 200

    assert client.post("/login", data={"password": "demo"}).status_code == 302


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_TOKEN_FAILURES": "3 per minute"}], indirect=True)
def test_resetting_the_sandbox_clears_the_failed_client_authentication_counters(limited_app):
    client = limited_app.test_client()
    assert token_call(client, "harbour-mall-secret").status_code == 200
    for _ in range(3):
        assert token_call(client, "wrong").status_code == 401
    assert token_call(client, "harbour-mall-secret").status_code == 429

    assert client.post("/sandbox/api/reset", headers=SANDBOX).status_code == 200

    assert token_call(client, "harbour-mall-secret").status_code == 200


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_TOKEN_FAILURES": "2 per minute"}], indirect=True)
def test_a_token_call_without_basic_credentials_counts_as_a_failed_authentication(limited_app):
    client = limited_app.test_client()
    for _ in range(2):
        assert client.post(TOKEN, data=FORM).status_code == 401  # no Authorization header at all
    refused = client.post(TOKEN, data=FORM)
    assert refused.status_code == 429
    assert refused.json["code"] == "tooManyFailedAuthentications"


def test_the_otp_limits_count_the_same_on_both_databases(backend_app):
    """The SMS and wrong-code counts are SQL on SQLite and PostgreSQL alike."""
    client = backend_app.test_client()
    api = PartnerApi(client)
    first = enroll(api, merchantCustomerReferenceId="C-0").json["rewardLinkCode"]
    for _ in range(5):
        activate(api, first, wrong(latest_otp(client)))
    second = enroll(api, merchantCustomerReferenceId="C-1").json["rewardLinkCode"]
    for _ in range(5):
        activate(api, second, wrong(latest_otp(client)))

    wait = assert_otp_limit(enroll(api, merchantCustomerReferenceId="C-2"))

    advance(client, wait)
    assert enroll(PartnerApi(client), merchantCustomerReferenceId="C-2").status_code == 200


def test_calls_without_a_limit_skip_the_limiters_app_wide_check(app):
    """Every limit is a decorator that checks itself; the app-wide hook only cost time on every partner call."""
    from issuer_sandbox.extensions import limiter

    hooks = app.before_request_funcs.get(None, [])
    assert limiter._check_request_limit not in hooks
    assert any(getattr(hook, "__name__", "") == "_before_request" for hook in hooks)  # the app's own hooks remain
