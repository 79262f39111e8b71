"""Input hygiene: control characters are refused with a clear 400 everywhere, digits are ASCII digits only.

PostgreSQL refuses NUL in text, so a NUL that reached a query was a 500 there (and a 404 on SQLite). These
tests run on both databases where the database is involved; the URL-map tests cover every route of the app,
so a new route cannot escape the request-wide check.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from issuer_sandbox import create_app, request_log
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RequestLogEntry
from issuer_sandbox.schemas import has_control_characters

from .conftest import SANDBOX_KEY, basic_auth
from .redemption_support import HAPPY, make_link, partner_api, redeem_path, redemption_body

API_PREFIXES = ("/v1/", "/gcb/", "/gateway/", "/sandbox/api")
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _routes_with_path_parameters():
    """(rule, method, parameter) for every parameter of every route of the app, read from its URL map."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for argument in sorted(rule.arguments):
                yield pytest.param(rule.rule, method, argument, id=f"{method} {rule.rule} {argument}")


def _url(rule: str, target: str, value: str) -> str:
    return _ARGUMENT.sub(lambda match: value if match.group(1) == target else "1234", rule)


def assert_refused_as_invalid(response, path: str, where: str) -> None:
    assert response.status_code == 400, (path, response.status_code, response.get_data(as_text=True)[:300])
    if path.startswith(API_PREFIXES):
        assert response.json["code"] == "invalidRequest"
        assert response.json["type"] == "invalid"
        assert response.json["details"].startswith(where)
        assert "control characters" in response.json["details"]
    else:
        assert "control characters" in response.get_data(as_text=True)


@pytest.mark.parametrize(("rule", "method", "argument"), list(_routes_with_path_parameters()))
def test_a_nul_in_any_path_parameter_is_a_400_on_every_route(backend_app, rule, method, argument):
    api = partner_api(backend_app)
    path = _url(rule, argument, "HM%00-1")
    response = api.client.open(path, method=method, json={}, headers={**api.headers(), "X-Sandbox-Key": SANDBOX_KEY})
    assert_refused_as_invalid(response, path, "The path")


@pytest.mark.parametrize("character", ["%00", "%01", "%0A", "%09", "%1F", "%7F", "%C2%85"])
def test_any_control_character_in_a_path_id_is_refused(app, character):
    path = f"/gcb/api/v1/apac/rewards/redemption/RDM-{character}1"
    assert_refused_as_invalid(partner_api(app).get(path), path, "The path")


@pytest.mark.parametrize(
    "path",
    [
        "/gcb/api/v1/apac/rewards/redemption?transactionReferenceNumber=HM%00-1",
        "/gateway/v1/payments?merchantReference=HM%00-1",
        "/sandbox/api/sms?phone=9123%004567",
        "/sandbox/api/requests?path=%00",
        "/requests?path=%00",
    ],
)
def test_a_nul_in_a_query_parameter_is_a_400(backend_app, path):
    api = partner_api(backend_app)
    response = api.client.get(path, headers={**api.headers(), "X-Sandbox-Key": SANDBOX_KEY})
    assert_refused_as_invalid(response, path, "A query parameter")


def test_a_nul_in_the_basic_credentials_of_the_token_call_is_a_400(backend_app):
    response = backend_app.test_client().post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials", "scope": "/api"},
        headers={"Authorization": basic_auth("harbour\x00mall", "secret")},
    )
    assert_refused_as_invalid(response, "/gcb/api/", "The HTTP Basic credentials")
    assert response.json["error"] == "invalid_request"


def test_a_nul_in_a_token_form_field_is_a_400(app):
    response = app.test_client().post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials\x00", "scope": "/api"},
        headers={"Authorization": basic_auth("harbour-mall", "harbour-mall-secret")},
    )
    assert_refused_as_invalid(response, "/gcb/api/", "The form field 'grant_type'")


# Every control character, and text that is not one but whose bytes look alike (UTF-8 of CJK, of U+00A0).
_CONTROLS = [chr(code) for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))]
_LOOKALIKES = ["陳大文", "一", "\u00a0", "é", "\u2028", "100% sure", "%7e", "a+b"]


@pytest.mark.parametrize("character", _CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_character_in_a_token_form_field_or_query_is_a_400(app, character):
    """The check scans the raw bytes first and parses only when they may hold a control character: every
    control, percent-escaped as a client sends it, is still refused with the message that names its place."""
    client = app.test_client()
    auth = {"Authorization": basic_auth("harbour-mall", "harbour-mall-secret")}
    path = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
    form = {"grant_type": "client_credentials", "scope": f"/api{character}"}
    assert_refused_as_invalid(client.post(path, data=form, headers=auth), "/gcb/api/", "The form field 'scope'")
    token_form = {"grant_type": "client_credentials", "scope": "/api"}
    queried = client.post(path, query_string={"x": character}, data=token_form, headers=auth)
    assert_refused_as_invalid(queried, "/gcb/api/", "A query parameter")


@pytest.mark.parametrize("text", _LOOKALIKES)
def test_text_whose_bytes_look_like_a_control_character_is_not_refused(app, text):
    client = app.test_client()
    auth = {"Authorization": basic_auth("harbour-mall", "harbour-mall-secret")}
    path = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
    form = {"grant_type": "client_credentials", "scope": "/api", "note": text}
    response = client.post(path, query_string={"x": text}, data=form, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_clean_form_is_checked_from_its_bytes_without_parsing_it(app):
    """A form without a byte that may be a control character is not parsed by the check (the handler parses
    it, from the same bytes); one with such a byte is parsed and checked field by field."""
    from flask import request

    from issuer_sandbox.api.validation import refuse_control_characters

    path = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
    with app.test_request_context(path, method="POST", data={"grant_type": "client_credentials", "scope": "/api"}):
        refuse_control_characters()
        assert "form" not in request.__dict__  # werkzeug's cached form: not parsed yet
        assert request.form["scope"] == "/api"  # and still readable from the kept bytes
    with app.test_request_context(path, method="POST", data={"scope": "陳大文"}):
        refuse_control_characters()
        assert request.form["scope"] == "陳大文"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            {
                "lastFourDigitsCardNumber": "8741",
                "citiCardHolderPhoneNumber": "9123\x004567",
                "merchantCustomerReferenceId": "C-1001",
            },
            "citiCardHolderPhoneNumber",
        ),
        (
            {
                "lastFourDigitsCardNumber": "8741",
                "citiCardHolderPhoneNumber": "91234567",
                "merchantCustomerReferenceId": "C-1001\n",
            },
            "merchantCustomerReferenceId",
        ),
        ({"lastFourDigitsCardNumber\x00": "8741"}, "A field name in the body"),
    ],
)
def test_a_control_character_in_a_json_body_names_its_field(backend_app, body, where):
    response = partner_api(backend_app).post("/gcb/api/v1/apac/rewards/linkage", json=body)
    assert_refused_as_invalid(response, "/gcb/api/", where)


def test_a_nul_in_a_nested_json_field_names_its_wire_path(app):
    body = redemption_body(reference="HM-000124")
    body["redemptionOrder"]["currencyCode"] = "HK\x00"
    response = partner_api(app).post(redeem_path(make_link(app, HAPPY)), json=body)
    assert_refused_as_invalid(response, "/gcb/api/", "redemptionOrder.currencyCode")


def test_a_nul_in_the_card_holder_name_of_a_payment_is_a_400(backend_app):
    api = partner_api(backend_app)
    response = api.post(
        "/gateway/v1/payments",
        json={
            "amount": 1000,
            "currency": "HKD",
            "card": {
                "number": "4242424242424242",
                "expiryMonth": 12,
                "expiryYear": 2030,
                "cvc": "123",
                "holderName": "CHAN\x00",
            },
            "merchantReference": "HM-000777",
        },
        headers={"Idempotency-Key": "HM-000777-pay"},
    )
    assert_refused_as_invalid(response, "/gateway/", "card.holderName")


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("HM-000123", False),
        ("陳大文", False),
        ("Flat 3\x00", True),
        ("tab\there", True),
        ("new\nline", True),
        ("bell\x07", True),
        ("del\x7f", True),
        ("next line\x85", True),
        ("", False),
    ],
)
def test_control_characters_are_every_c0_and_c1_control_and_del(text, refused):
    assert has_control_characters(text) is refused


# --- ASCII digits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["٥٢٠.00", "５２０.00", "520.٠٠", "52¹.00"])
def test_a_redemption_amount_with_non_ascii_digits_is_a_400(app, amount):
    body = redemption_body(reference="HM-000125", amount=amount)
    response = partner_api(app).post(redeem_path(make_link(app, HAPPY)), json=body)
    assert (response.status_code, response.json["code"]) == (400, "invalidRequest")
    assert "transactionAmount" in response.json["details"]


@pytest.mark.parametrize("phone", ["٩١٢٣٤٥٦٧", "９１２３４５６７", "9123456⁷"])
def test_an_enrolment_phone_with_non_ascii_digits_is_a_400(app, phone):
    response = partner_api(app).post(
        "/gcb/api/v1/apac/rewards/linkage",
        json={
            "lastFourDigitsCardNumber": "8741",
            "citiCardHolderPhoneNumber": phone,
            "merchantCustomerReferenceId": "C-1001",
        },
    )
    assert (response.status_code, response.json["code"]) == (400, "invalidRequest")


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "１２３４５６", "12345⁶"])
def test_an_otp_with_non_ascii_digits_is_a_400(app, code):
    response = partner_api(app).put(
        f"/gcb/api/v1/apac/rewards/{make_link(app, HAPPY, status='PENDING_ACTIVATION')}/activations",
        json={"linkageConfirmationCode": code},
    )
    assert (response.status_code, response.json["code"]) == (400, "invalidRequest")


@pytest.mark.parametrize("cvc", ["١٢٣", "１２３", "12³"])
def test_a_cvc_with_non_ascii_digits_is_declined_not_captured(app, cvc):
    response = partner_api(app).post(
        "/gateway/v1/payments",
        json={
            "amount": 1000,
            "currency": "HKD",
            "card": {"number": "4966010000008741", "expiryMonth": 12, "expiryYear": 2030, "cvc": cvc},
            "merchantReference": "HM-000778",
        },
        headers={"Idempotency-Key": "HM-000778-pay"},
    )
    assert response.status_code == 201
    assert (response.json["status"], response.json["declineCode"]) == ("DECLINED", "incorrectCvc")


@pytest.mark.parametrize(
    "card",
    [{"number": "496601000000874¹"}, {"number": "٤٩٦٦٠١٠٠٠٠٠٠٨٧٤١"}, {"expiryMonth": "١٢"}, {"expiryYear": "２０３０"}],
)
def test_card_numbers_and_expiry_with_non_ascii_digits_are_a_400(app, card):
    response = partner_api(app).post(
        "/gateway/v1/payments",
        json={
            "amount": 1000,
            "currency": "HKD",
            "card": {"number": "4966010000008741", "expiryMonth": 12, "expiryYear": 2030, "cvc": "123", **card},
            "merchantReference": "HM-000779",
        },
        headers={"Idempotency-Key": "HM-000779-pay"},
    )
    assert (response.status_code, response.json["code"]) == (400, "invalidRequest")


# --- The request log never loses a row silently ------------------------------------------------------


def log_rows(app) -> list[RequestLogEntry]:
    request_log.writer(app).flush()
    with app.app_context():
        rows = db.session.scalars(sa.select(RequestLogEntry).order_by(RequestLogEntry.id)).all()
        db.session.expunge_all()
        return rows


def explicit_writer(app) -> request_log.RequestLogWriter:
    """A writer on the app's database whose thread waits an hour: only the test's own flush writes its rows.

    The app's own writer flushes every 200 ms on its thread, which may take a test's rows before the test's
    ``flush()`` counts them (or, in the trigger test, before the trigger exists)."""
    return request_log.RequestLogWriter(app, flush_seconds=3600)


def test_a_refused_call_with_a_nul_in_its_path_is_logged_with_the_nul_escaped(backend_app):
    api = partner_api(backend_app)
    api.get("/gcb/api/v1/apac/rewards/redemption/RDM%00X", headers={"Idempotency-Key": "K\x01"})
    api.post("/gcb/api/v1/apac/rewards/linkage", json={"merchantCustomerReferenceId": "C\x00"})
    rows = log_rows(backend_app)
    assert [(row.path, row.status) for row in rows[-2:]] == [
        ("/gcb/api/v1/apac/rewards/redemption/RDM\\x00X", 400),
        ("/gcb/api/v1/apac/rewards/linkage", 400),
    ]
    assert "\x00" not in rows[-1].request_body


def test_an_over_long_value_is_cut_to_its_column_and_written(backend_app):
    writer = explicit_writer(backend_app)
    row = {
        "at": datetime(2026, 1, 1),
        "method": "GET",
        "path": "/v1/" + "x" * 500,
        "status": 200,
        "latency_ms": 1,
        "request_uuid": "u" * 100,
        "fault": "f" * 200,
    }
    writer.add(row)
    assert writer.flush() == 1
    written = log_rows(backend_app)[-1]
    assert (len(written.path), len(written.request_uuid), len(written.fault)) == (300, 64, 80)


def test_one_row_the_database_refuses_holds_back_no_other_row_and_is_logged(backend_app, caplog):
    writer = explicit_writer(backend_app)
    good = {"at": datetime(2026, 1, 1), "method": "GET", "status": 200, "latency_ms": 1}
    writer.add({**good, "path": "/v1/first"})
    writer.add({**good, "path": "/v1/refused", "method": None})  # NOT NULL: refused by either database
    writer.add({**good, "path": "/v1/last"})
    with caplog.at_level(logging.ERROR, logger="issuer_sandbox.request_log"):
        assert writer.flush() == 2
    assert writer.pending() == 0
    assert [row.path for row in log_rows(backend_app)][-2:] == ["/v1/first", "/v1/last"]
    lost = [record for record in caplog.records if record.getMessage().startswith("Request log row lost")]
    assert len(lost) == 1 and "'/v1/refused'" in lost[0].getMessage()


# A trigger refusing one body, as a database may refuse a value for a reason of its own.
REFUSE_BODY_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER refuse_body BEFORE INSERT ON request_log WHEN NEW.request_body = 'refuse me' "
        "BEGIN SELECT RAISE(ABORT, 'body refused'); END"
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION refuse_body() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.request_body = 'refuse me' THEN RAISE EXCEPTION 'body refused'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_body BEFORE INSERT ON request_log FOR EACH ROW EXECUTE FUNCTION refuse_body()",
    ],
}
DROP_TRIGGER_ON = {"sqlite": "", "postgresql": " ON request_log"}


def test_a_row_refused_for_its_body_is_written_without_it(app):
    """A body the database refuses for a reason of its own still leaves the call's row in the log."""
    writer = explicit_writer(app)
    writer.add(
        {
            "at": datetime(2026, 1, 1),
            "method": "POST",
            "path": "/v1/body",
            "status": 200,
            "latency_ms": 1,
            "request_body": "refuse me",
        }
    )
    with app.app_context():
        for statement in REFUSE_BODY_TRIGGER[db.engine.dialect.name]:
            db.session.execute(sa.text(statement))
        db.session.commit()
    try:
        assert writer.flush() == 1
    finally:
        with app.app_context():  # the suite's PostgreSQL database outlives this test: leave no trigger behind
            db.session.execute(sa.text("DROP TRIGGER IF EXISTS refuse_body" + DROP_TRIGGER_ON[db.engine.dialect.name]))
            db.session.commit()
    row = log_rows(app)[-1]
    assert (row.path, row.status) == ("/v1/body", 200)
    assert row.request_body.startswith("[not logged: the database refused this row")
