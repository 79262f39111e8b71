"""The sandbox console through the test client: sign-in, session expiry, CSRF, and every view with real data."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, controls
from issuer_sandbox.console.auth import LAST_SEEN
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RequestLogEntry, SmsMessage

from .conftest import close_app, make_app
from .console_support import CONSOLE_PAGES, csrf_token, enrol, enrol_and_activate, pay, redeem, sign_in


@pytest.fixture
def console(client):
    """A test client signed in to the console."""
    assert sign_in(client).status_code == 302
    return client


# --- Signing in and out ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_every_console_page_sends_a_signed_out_visitor_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/cards/8741/freeze"),
        ("post", "/cards/8741/unfreeze"),
        ("post", "/cards/8741/points"),
        ("post", "/controls/faults"),
        ("post", "/controls/faults/1/remove"),
        ("post", "/controls/clock"),
        ("post", "/controls/reset"),
        ("post", "/links/1/unlink"),
        ("post", "/cardholders/new"),
    ],
)
def test_every_console_control_refuses_a_signed_out_visitor(app, client, method, path):
    response = getattr(client, method)(path, data={"delta": "5", "reason": "x", "minutes": "5"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    with app.app_context():
        assert controls.find_card("8741").status == "ACTIVE"
        assert clock.offset_seconds() == 0


def test_the_phone_feed_answers_401_json_to_a_signed_out_script(client):
    response = client.get("/phone/messages.json?phone=91234567")
    assert response.status_code == 401
    assert response.json["code"] == "signInRequired"


def test_the_right_password_signs_in_and_returns_to_the_page_asked_for(client):
    client.get("/cards")
    response = client.post("/login?next=/cards", data={"password": "demo"})
    assert response.status_code == 302 and response.headers["Location"] == "/cards"
    assert client.get("/cards").status_code == 200


def test_a_wrong_password_is_refused_with_a_clear_message(client):
    response = sign_in(client, "wrong")
    assert response.status_code == 401
    assert "That is not the console password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_an_empty_password_is_refused(client):
    response = sign_in(client, "")
    assert response.status_code == 401
    assert "Enter the console password." in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
def test_sign_in_never_redirects_to_another_site(client, target):
    response = client.post("/login", query_string={"next": target}, data={"password": "demo"})
    assert response.headers["Location"] == "/"


def test_the_password_comes_from_configuration(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'other.sqlite3'}", CONSOLE_PASSWORD="s3cret-console")
    client = app.test_client()
    assert sign_in(client, "demo").status_code == 401
    assert sign_in(client, "s3cret-console").status_code == 302


def test_sign_out_is_a_post_that_ends_the_session(console):
    assert console.get("/logout").status_code == 405
    response = console.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert console.get("/").status_code == 302


def test_an_idle_session_expires_after_the_configured_minutes(app, console):
    minutes = app.config["CONSOLE_SESSION_MINUTES"]
    with console.session_transaction() as session:
        session[LAST_SEEN] = time.time() - minutes * 60 - 5
    response = console.get("/cards")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = console.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your console session expired" in page


def test_a_session_used_within_the_limit_stays_signed_in_and_its_timer_restarts(app, console):
    minutes = app.config["CONSOLE_SESSION_MINUTES"]
    with console.session_transaction() as session:
        session[LAST_SEEN] = time.time() - minutes * 60 + 30
    assert console.get("/cards").status_code == 200
    with console.session_transaction() as session:
        assert time.time() - session[LAST_SEEN] < 5


def test_the_phone_polling_does_not_keep_an_idle_session_alive(app, console):
    stale = time.time() - 60
    with console.session_transaction() as session:
        session[LAST_SEEN] = stale
    assert console.get("/phone/messages.json?phone=91234567").status_code == 200
    with console.session_transaction() as session:
        assert session[LAST_SEEN] == stale
    with console.session_transaction() as session:
        session[LAST_SEEN] = time.time() - app.config["CONSOLE_SESSION_MINUTES"] * 60 - 5
    assert console.get("/phone/messages.json?phone=91234567").status_code == 401


def test_moving_the_sandbox_clock_does_not_sign_the_console_out(app, console):
    with app.app_context():
        controls.advance_clock(24 * 60)
    assert console.get("/").status_code == 200


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite3'}", WTF_CSRF_ENABLED=True)
    yield app, app.test_client()
    close_app(app)


def test_with_csrf_on_a_form_without_its_token_is_refused_and_changes_nothing(csrf_client):
    app, client = csrf_client
    response = client.post("/login", data={"password": "demo"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"password": "demo", "csrf_token": token}).status_code == 302

    response = client.post("/cards/8741/freeze")
    assert response.status_code == 400
    with app.app_context():
        assert controls.find_card("8741").status == "ACTIVE"

    token = csrf_token(client.get("/cards/8741").get_data(as_text=True))
    assert client.post("/cards/8741/freeze", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert controls.find_card("8741").status == "FROZEN"


def test_with_csrf_on_the_json_twin_still_works_with_its_key(csrf_client):
    _app, client = csrf_client
    response = client.post("/sandbox/api/cards/8741/freeze", headers={"X-Sandbox-Key": "demo-sandbox-key"})
    assert response.status_code == 200 and response.json["status"] == "FROZEN"


# --- Layout, headers and error pages ----------------------------------------------------------------


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_every_console_page_shows_the_sandbox_banner_and_sends_a_same_origin_csp(console, path):
    response = console.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="sandbox-banner"' in html and "<strong>SANDBOX</strong>" in html
    assert "Sign out" in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert " style=" not in html and "<style" not in html
    assert "<script>" not in html and "onclick" not in html
    assert "http://" not in html.replace("http://localhost", "")  # nothing remote


def test_the_sign_in_page_shows_the_banner_too(client):
    html = client.get("/login").get_data(as_text=True)
    assert "<strong>SANDBOX</strong>" in html and 'type="password"' in html


def test_an_unknown_console_page_is_a_friendly_html_404(console):
    response = console.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)
    assert "Back to the console" in response.get_data(as_text=True)


def test_an_unknown_card_is_a_friendly_html_404(console):
    response = console.get("/cards/0000")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/v1/apac/rewards/nothing/here/at/all", "/sandbox/api/nothing", "/gateway/nope"])
def test_api_paths_keep_their_json_errors(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json == {"type": "error", "code": "notFound", "details": "There is no such resource."}
    assert "Content-Security-Policy" not in response.headers


def test_a_wrong_method_under_the_api_stays_json_with_an_allow_header(client):
    response = client.get("/sandbox/api/cards/8741/freeze", headers={"X-Sandbox-Key": "demo-sandbox-key"})
    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"
    assert "POST" in response.headers["Allow"]


def test_a_server_error_on_a_console_page_is_a_friendly_page(tmp_path, monkeypatch):
    app = make_app(f"sqlite:///{tmp_path / 'boom.sqlite3'}")
    app.config["TESTING"] = False  # let the 500 handler answer instead of raising into the test
    client = app.test_client()
    sign_in(client)

    def explode():
        raise RuntimeError("boom")

    monkeypatch.setattr(controls, "all_cards", explode)
    response = client.get("/cards")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)


# --- Views with real data -------------------------------------------------------------------------


def test_the_cards_list_shows_masked_numbers_holders_programmes_status_points_and_credit(console):
    html = console.get("/cards").get_data(as_text=True)
    assert "•••• •••• •••• 8741" in html and "4966010000008741" not in html and "4966 0100 0000 8741" not in html
    assert "CHAN TAI MAN" in html and "Summit Rewards" in html and "Summit Premier Miles" in html
    assert "120,000" in html and "2,000,000" in html
    assert "HK$50,000.00" in html and "HK$100.00" in html  # credit available of the HK$100-limit card
    assert "Frozen" in html and "No points" in html
    assert "Happy path" in html


def test_a_card_page_shows_its_ledger_and_statement_after_a_real_redemption(app, api, console):
    payment = pay(api)
    code = enrol_and_activate(api, app)
    outcome = redeem(api, code)
    html = console.get("/cards/8741").get_data(as_text=True)
    # The ledger: opening balance then the redemption, each with its running balance and transaction.
    assert "Opening points balance" in html and "+120,000" in html
    assert "-50,000" in html and "70,000" in html
    assert outcome["orderId"] in html
    # The statement: the purchase and the Pay with Points credit, as the cardholder sees them.
    assert payment["paymentId"] in html or "HM-000123" in html
    assert "HK$520.00" in html and "HK$200.00 CR" in html
    assert "HK$320.00" in html  # what is still owed


def test_a_debit_card_page_says_it_has_no_points(console):
    html = console.get("/cards/4300").get_data(as_text=True)
    assert "Not a points card" in html and "Adjust points" not in html


def test_the_phone_shows_a_numbers_messages_newest_first_in_a_labelled_list(app, api, console):
    enrol(api, customer="C-1")
    enrol(api, customer="C-2")
    html = console.get("/phone?phone=91234567").get_data(as_text=True)
    assert 'role="list" aria-label="Messages to 9123 4567"' in html
    assert "is your one-time password to link your card ending 8741" in html
    with app.app_context():
        ids = [m.id for m in db.session.query(SmsMessage).order_by(SmsMessage.id.desc())]
    assert len(ids) == 2
    assert html.index(f'data-id="{ids[0]}"') < html.index(f'data-id="{ids[1]}"')
    assert 'class="sms-code"' in html
    assert "phone.js" in html and 'data-poll-url="/phone/messages.json?phone=91234567"' in html


def test_the_phone_says_which_link_and_customer_each_code_was_sent_for(api, console):
    first = enrol(api, customer="C-1")
    second = enrol(api, customer="C-2")
    html = console.get("/phone?phone=91234567").get_data(as_text=True)
    assert f"Link {second} · customer C-2" in html and f"Link {first} · customer C-1" in html
    assert html.index(f"Link {second}") < html.index(f"Link {first}")
    feed = console.get("/phone/messages.json?phone=91234567").json["messages"]
    assert [(m["rewardLinkCode"], m["merchantCustomerReferenceId"]) for m in feed] == [(second, "C-2"), (first, "C-1")]


def test_the_phone_lists_every_cardholder_number_to_choose_from(console):
    html = console.get("/phone").get_data(as_text=True)
    assert "9123 4567 · CHAN TAI MAN" in html and "9000 0000 · YIP KA MAN" in html


def test_the_phone_feed_returns_the_messages_newest_first_as_json(api, console):
    enrol(api, customer="C-1")
    enrol(api, customer="C-2")
    data = console.get("/phone/messages.json?phone=91234567").json
    assert data["phone"] == "91234567"
    ids = [message["id"] for message in data["messages"]]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)
    assert "one-time password" in data["messages"][0]["body"]
    assert f"{data['messages'][0]['otp']} is your one-time password" in data["messages"][0]["body"]
    assert console.get("/phone/messages.json?phone=9123x").status_code == 400


def test_the_phone_shows_only_the_one_time_password_in_bold(app, api, console):
    enrol(api, customer="C-1")
    with app.app_context():
        code = db.session.scalars(sa.select(SmsMessage.body)).one().split(": ")[1][:6]
        other = "Summit Bank: statement 123456 is ready."
        db.session.add(SmsMessage(phone="91234567", body=other, sent_at=clock.now()))
        db.session.commit()
    html = console.get("/phone?phone=91234567").get_data(as_text=True)
    assert f'<strong class="sms-code">{code}</strong> is your one-time password' in html
    assert "statement 123456 is ready." in html and html.count('class="sms-code"') == 1
    feed = console.get("/phone/messages.json?phone=91234567").json["messages"]
    assert [message["otp"] for message in feed] == [None, code]


def test_merchant_links_are_grouped_per_customer_with_their_status(app, api, console):
    enrol_and_activate(api, app, customer="C-1001")
    enrol(api, last4="1190", phone="93456789", customer="C-2002")
    html = console.get("/links").get_data(as_text=True)
    assert 'customer <span class="mono">C-1001</span>' in html and "C-2002" in html
    assert "Active" in html and "Pending Activation" in html
    assert 'Unlink<span class="visually-hidden"> <span class="mono">C-1001</span> from card ending 8741</span>' in html
    pending = console.get("/links?status=PENDING_ACTIVATION").get_data(as_text=True)
    assert "C-2002" in pending and "C-1001" not in pending


def test_unlinking_from_the_console_ends_the_link(app, api, console):
    code = enrol_and_activate(api, app)
    with app.app_context():
        link_id = controls.list_links("ACTIVE")[0].id
    response = console.post(f"/links/{link_id}/unlink", follow_redirects=True)
    assert "the shopper must verify again" in response.get_data(as_text=True)
    assert api.get(f"/v1/apac/rewards/{code}/pointBalance").status_code == 404
    assert console.post("/links/999999/unlink").status_code == 404


def test_the_request_log_shows_calls_with_masked_bodies_and_filters_by_status_and_path(app, api, console):
    enrol_and_activate(api, app)
    api.post("/v1/apac/rewards/linkage", json={"lastFourDigitsCardNumber": "0000"})  # a 400
    html = console.get("/requests").get_data(as_text=True)
    assert "/v1/apac/rewards/linkage" in html and "/activations" in html
    assert "harbour-mall" in html and "ms" in html
    assert "linkageConfirmationCode" in html and "***" in html  # the OTP is masked
    with app.app_context():
        otp_requests = db.session.query(RequestLogEntry).filter(RequestLogEntry.path.like("%activations")).all()
        assert otp_requests and all('"***"' in entry.request_body for entry in otp_requests)
        uuid = otp_requests[0].request_uuid
    assert uuid in html
    only_errors = console.get("/requests?status=4xx").get_data(as_text=True)
    assert '<span class="req-status">400</span>' in only_errors
    assert '<span class="req-status">200</span>' not in only_errors
    by_path = console.get("/requests?path=activations").get_data(as_text=True)
    assert "/activations" in by_path and "/oauth2/token" not in by_path
    exact = console.get("/requests?status=400").get_data(as_text=True)
    assert '<span class="req-status">400</span>' in exact and '<span class="req-status">200</span>' not in exact
    assert "No logged request matches" in console.get("/requests?path=nothing-like-this").get_data(as_text=True)


def test_the_request_log_marks_a_replayed_call(app, api, console):
    code = enrol_and_activate(api, app)
    redeem(api, code)
    redeem(api, code)
    html = console.get("/requests?path=redemption").get_data(as_text=True)
    assert "badge-replayed" in html and "HM-000123" in html


def test_the_overview_shows_the_ledger_health_panel(app, api, console):
    code = enrol_and_activate(api, app)
    redeem(api, code)
    html = console.get("/").get_data(as_text=True)
    assert "Ledger health" in html and "Ledger check passed" in html
    assert "50,000 pts" in html  # redeemed
    seeded = 120_000 + 800 + 2_000_000 + 50_000 + 60_000 + 40_000
    assert f"{seeded:,} pts" in html and f"{seeded - 50_000:,} pts" in html


def test_the_ledger_health_page_shows_problems_when_the_check_fails(app, console, monkeypatch):
    monkeypatch.setattr(
        "issuer_sandbox.ledger.check_ledger", lambda: ["cardholder:1: stored balance 1 but entries sum to 0"]
    )
    html = console.get("/ledger").get_data(as_text=True)
    assert "Ledger check failed" in html and "stored balance 1 but entries sum to 0" in html


def test_the_controls_page_lists_partner_endpoints_faults_clock_and_reset(console):
    html = console.get("/controls").get_data(as_text=True)
    assert 'value="redemptions.redeem"' in html
    assert "/v1/apac/rewards/&lt;reward_link_code&gt;/redemption" in html or "redemption" in html
    assert 'value="console_cards.card_list"' not in html and 'value="sandbox_controls' not in html
    assert "Added latency (ms)" in html and "Forced HTTP status" in html and "Error code" in html
    assert "Fail this many times, then recover" in html and "Commit, then drop the response" in html
    assert "Advance by (minutes)" in html and "Reset sandbox to seed" in html
    assert 'Freeze<span class="visually-hidden"> card ending 8741</span>' in html
    assert 'Unfreeze<span class="visually-hidden"> card ending 7404</span>' in html


def test_the_api_reference_renders_each_operation_with_a_curl_example_and_the_test_cards(console):
    html = console.get("/reference").get_data(as_text=True)
    assert "/v1/apac/rewards/linkage" in html and "/gateway/v1/payments" in html
    assert "curl -sS -X POST" in html and "Authorization: Bearer $TOKEN" in html
    assert "inSufficientPointBalance" in html and "otpExpired" in html
    assert "4966 0100 0000 8741" in html and "4242 4242 4242 4242" in html
    assert 'data-copy-target="curl-' in html and "reference.js" in html
    assert "harbour-mall-secret" in html  # demo mode prints the demo credentials


def test_the_api_reference_hides_secrets_outside_demo_mode(app, console):
    app.config["ENV"] = "production"
    html = console.get("/reference").get_data(as_text=True)
    assert "harbour-mall-secret" not in html and "demo-sandbox-key" not in html
    assert "$CLIENT_SECRET" in html
