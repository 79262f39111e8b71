"""Rate limits: failed sign-ins per address and per account, refused sign-ups per address, codes per order."""

from __future__ import annotations

import time

import limits.storage.memory as limiter_memory
import pytest

from shop.issuer_client import OtpRequestLimitExceeded

from .conftest import CheckoutActions, ShopperActions, close_app, make_app

CHAN = {"email": "chan.taiman@example.com", "password": "demo1234"}
WONG = {"email": "wong.siuming@example.com", "password": "demo1234"}


@pytest.fixture
def limited_app(tmp_path, request):
    """A shop with the limits a test names (``@pytest.mark.parametrize("limited_app", [{...}], indirect=True)``)."""
    app = make_app(tmp_path, **request.param)
    yield app
    close_app(app)


def move_limiter_clock(monkeypatch, seconds: float) -> None:
    """Let the limiter's in-memory windows run ``seconds`` ahead (only the counters' clock moves)."""
    real_time = time.time

    class ShiftedTime:
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def time() -> float:
            return real_time() + seconds

    monkeypatch.setattr(limiter_memory, "time", ShiftedTime())


def sign_in(client, credentials, address: str = "127.0.0.1"):
    return client.post("/account/sign-in", data=credentials, environ_base={"REMOTE_ADDR": address})


def assert_too_many(response, message: str, window: int = 60) -> None:
    assert response.status_code == 429
    assert message in response.get_data(as_text=True)
    assert "Please slow down" in response.get_data(as_text=True)  # the shop's own error page
    assert 1 <= int(response.headers["Retry-After"]) <= window


# --- Sign-in and sign-up ---------------------------------------------------------------------------


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_SIGN_IN_FAILURES": "3 per minute"}], indirect=True)
def test_failed_sign_ins_are_limited_per_address_and_the_limit_lifts(limited_app, monkeypatch):
    client = limited_app.test_client()
    for _ in range(3):
        assert sign_in(client, {**CHAN, "password": "wrong-password"}).status_code == 422

    refused = sign_in(client, CHAN)  # locked out: even the right password waits

    assert_too_many(refused, "Too many failed sign-ins")
    assert sign_in(limited_app.test_client(), CHAN, address="10.0.0.7").status_code == 302
    move_limiter_clock(monkeypatch, 61)
    assert sign_in(client, CHAN).status_code == 302


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_SIGN_IN_FAILURES_PER_ACCOUNT": "3 per minute"}], indirect=True)
def test_failed_sign_ins_are_limited_per_account_from_any_address(limited_app):
    client = limited_app.test_client()
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert sign_in(client, {**CHAN, "password": "wrong-password"}, address).status_code == 422

    assert_too_many(sign_in(client, {**CHAN, "email": " Chan.TaiMan@example.com "}, "10.0.0.4"), "Too many failed")
    assert sign_in(client, WONG, "10.0.0.4").status_code == 302  # another account is not affected


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_SIGN_IN_FAILURES": "3 per minute"}], indirect=True)
def test_successful_sign_ins_are_never_counted(limited_app):
    client = limited_app.test_client()
    shopper = ShopperActions(client)
    for _ in range(10):
        assert shopper.sign_in().status_code == 302
        shopper.sign_out()


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_SIGN_UP_FAILURES": "2 per minute"}], indirect=True)
def test_refused_sign_ups_are_limited_per_address_and_the_limit_lifts(limited_app, monkeypatch):
    """An 'email already has an account' answer tells an attacker who shops here: they must not ask forever."""
    client = limited_app.test_client()
    taken = {"name": "Someone", "email": CHAN["email"], "password": "a-long-password", "confirm": "a-long-password"}
    for _ in range(2):
        assert client.post("/account/sign-up", data=taken).status_code == 422

    new = {**taken, "email": "new.shopper@example.com"}
    assert_too_many(client.post("/account/sign-up", data=new), "Too many sign-ups")
    assert client.get("/account/sign-up").status_code == 200  # the form itself stays readable
    move_limiter_clock(monkeypatch, 61)
    assert client.post("/account/sign-up", data=new).status_code == 302


# --- New codes per order ----------------------------------------------------------------------------


@pytest.fixture
def limited_checkout(limited_app, fake_issuer_for):
    client = limited_app.test_client()
    ShopperActions(client).sign_in()
    return CheckoutActions(limited_app, client)


@pytest.fixture
def fake_issuer_for(limited_app):
    from .fakes import FakeIssuerClient

    fake = FakeIssuerClient()
    limited_app.extensions["issuer_client"] = fake
    return fake


@pytest.mark.parametrize("limited_app", [{"RATE_LIMIT_CODE_REQUESTS_PER_ORDER": "3 per 10 minutes"}], indirect=True)
def test_codes_asked_for_one_order_are_limited_and_the_limit_lifts(limited_checkout, fake_issuer_for, monkeypatch):
    checkout, fake = limited_checkout, fake_issuer_for
    reference = checkout.paid_order()
    assert checkout.send_code(reference).status_code == 302
    fake.now += fake.resend_cooldown
    assert checkout.client.post(f"/checkout/{reference}/points/resend").status_code == 302
    fake.now += fake.resend_cooldown
    assert checkout.client.post(f"/checkout/{reference}/points/resend").status_code == 302
    sent = len(fake.calls)

    refused = checkout.client.post(f"/checkout/{reference}/points/resend")

    assert_too_many(refused, "You have asked for many codes for this order", window=600)
    assert len(fake.calls) == sent  # nothing reached the bank
    other = checkout.paid_order()
    assert checkout.send_code(other).status_code == 302  # another order has its own budget
    move_limiter_clock(monkeypatch, 601)
    fake.now += fake.resend_cooldown
    assert checkout.client.post(f"/checkout/{reference}/points/resend").status_code == 302


def test_the_banks_otp_request_limit_is_shown_to_the_shopper(app, checkout, fake_issuer):
    reference = checkout.paid_order()
    fake_issuer.fail_before(
        "enroll", OtpRequestLimitExceeded("otpRequestLimitExceeded", "Too many codes.", 429, {"retryAfterSeconds": 60})
    )

    response = checkout.send_code(reference)
    page = checkout.client.get(response.headers["Location"]).get_data(as_text=True)

    assert "Summit Bank will not send more codes for this card right now" in page
    assert "your card payment is complete" in page


def test_pages_without_a_limit_skip_the_limiters_app_wide_check(app):
    """Every limit is a decorator that checks itself; the app-wide hook only cost time on every page."""
    from shop.extensions import limiter

    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])
    assert app.before_request_funcs.get(None)  # the app's own hooks remain
