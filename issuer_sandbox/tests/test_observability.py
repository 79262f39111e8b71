"""uuid echo, the request log (masked) and fault injection, in the test client and under real gunicorn."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask import jsonify

from issuer_sandbox import clock, create_app, faults, request_log
from issuer_sandbox.api.observability import mask_text, mask_value
from issuer_sandbox.extensions import db
from issuer_sandbox.models import FaultRule, RequestLogEntry, SmsMessage

from .conftest import CLIENT_ID, CLIENT_SECRET, SANDBOX_KEY, close_app
from .redemption_support import balance_path, make_link, partner_api, redeem_path, redemption_body

LINKAGE = "/v1/apac/rewards/linkage"
HAPPY = {
    "lastFourDigitsCardNumber": "8741",
    "citiCardHolderPhoneNumber": "91234567",
    "merchantCustomerReferenceId": "C-1",
}
PREMIER = {
    "lastFourDigitsCardNumber": "1190",
    "citiCardHolderPhoneNumber": "93456789",
    "merchantCustomerReferenceId": "C-2",
}
KEY = {"X-Sandbox-Key": SANDBOX_KEY}
ROOT = Path(__file__).resolve().parents[2]


def log_entries(app) -> list[RequestLogEntry]:
    """The request log as written, once this process's buffered rows are flushed."""
    request_log.writer(app).flush()
    with app.app_context():
        entries = db.session.scalars(sa.select(RequestLogEntry).order_by(RequestLogEntry.id)).all()
        db.session.expunge_all()
        return entries


def add_fault(app, endpoint, **fields) -> None:
    with app.app_context():
        faults.add_rule(endpoint, clock.now(), **fields)
        db.session.commit()


def sms_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage))


@pytest.fixture
def echo_route(app):
    """A test-only partner-style route, so the log's idempotency and replay fields are tested on their own."""

    def echo():
        return jsonify({"ok": True})

    def replay():
        response = jsonify({"ok": True})
        response.headers["Idempotent-Replayed"] = "true"
        return response

    app.add_url_rule("/v1/test/echo", "test_echo", echo, methods=["POST"])
    app.add_url_rule("/v1/test/replay", "test_replay", replay, methods=["POST"])
    return app


# --- uuid echo --------------------------------------------------------------------------------


def test_the_request_uuid_is_echoed_on_success_and_on_errors(api):
    request_id = str(uuid.uuid4())

    ok = api.post(LINKAGE, json=HAPPY, headers={"uuid": request_id})
    error = api.delete("/v1/apac/rewards/RL-unknown", headers={"uuid": "abc-123"})

    assert ok.headers["uuid"] == request_id
    assert (error.status_code, error.headers["uuid"]) == (404, "abc-123")


def test_no_uuid_header_is_invented_when_none_was_sent(client):
    assert "uuid" not in client.get("/v1/apac/rewards/linkage").headers


# --- The request log --------------------------------------------------------------------------


def test_each_partner_call_writes_one_log_entry_with_its_details(app, api):
    request_id = str(uuid.uuid4())
    api.post(LINKAGE, json=HAPPY, headers={"uuid": request_id})

    token_entry, enrol_entry = log_entries(app)

    assert (token_entry.method, token_entry.path, token_entry.endpoint) == (
        "POST",
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        "token.issue_token",
    )
    assert token_entry.client_id == CLIENT_ID  # from HTTP Basic on the token call
    assert "grant_type=client_credentials" in token_entry.request_body
    assert json.loads(token_entry.response_body)["access_token"] == "***"
    assert (enrol_entry.endpoint, enrol_entry.status, enrol_entry.client_id) == ("links.enroll", 200, CLIENT_ID)
    assert enrol_entry.request_uuid == request_id
    assert enrol_entry.latency_ms >= 0
    assert json.loads(enrol_entry.request_body) == HAPPY
    assert json.loads(enrol_entry.response_body)["linkStatus"] == "PENDING_ACTIVATION"
    assert (enrol_entry.fault, enrol_entry.replayed, enrol_entry.idempotency_key) == ("", False, "")


def test_the_confirmation_code_never_reaches_the_log(app, api, client):
    code = api.post(LINKAGE, json=HAPPY).json["rewardLinkCode"]
    otp_digits = client.get("/sandbox/api/sms", headers=KEY).json[0]["otp"]
    api.put(f"/v1/apac/rewards/{code}/activations", json={"linkageConfirmationCode": otp_digits})

    activation = log_entries(app)[-1]

    assert activation.endpoint == "links.activate"
    assert otp_digits not in activation.request_body
    assert json.loads(activation.request_body) == {"linkageConfirmationCode": "***"}


def test_a_failed_call_is_logged_although_its_own_transaction_rolled_back(app, api):
    api.post(LINKAGE, json={**HAPPY, "lastFourDigitsCardNumber": "0000"})

    entry = log_entries(app)[-1]

    assert (entry.status, json.loads(entry.response_body)["code"]) == (404, "accountNotFound")


def test_unrouted_calls_under_the_api_prefixes_are_logged_too(app, client):
    client.get(LINKAGE, headers={"uuid": "u-1"})

    entry = log_entries(app)[-1]

    assert (entry.method, entry.path, entry.status, entry.endpoint, entry.request_uuid) == (
        "GET",
        LINKAGE,
        405,
        "",
        "u-1",
    )


def test_sandbox_and_openapi_calls_are_not_logged(app, client):
    client.get("/sandbox/api/clock", headers=KEY)
    client.get("/openapi.json")

    assert log_entries(app) == []


def test_the_idempotency_key_comes_from_the_header_or_the_reference_in_the_body(echo_route, client):
    client.post("/v1/test/echo", json={"transactionReferenceNumber": "HM-000123"})
    client.post("/v1/test/echo", json={"reversalReferenceNumber": "HM-000123-R1"})
    client.post("/v1/test/echo", json={"transactionReferenceNumber": "HM-1"}, headers={"Idempotency-Key": "idem-9"})
    client.post("/v1/test/echo", data="not json", content_type="application/json")

    keys = [entry.idempotency_key for entry in log_entries(echo_route)]

    assert keys == ["HM-000123", "HM-000123-R1", "idem-9", ""]


def test_a_replayed_response_is_flagged_in_the_log(echo_route, client):
    client.post("/v1/test/replay", json={})
    client.post("/v1/test/echo", json={})

    assert [entry.replayed for entry in log_entries(echo_route)] == [True, False]


def test_logged_bodies_are_masked(echo_route, client):
    card = {"number": "4966010000008741", "cvc": "123", "expiryMonth": 12, "holderName": "CHAN TAI MAN"}
    client.post("/v1/test/echo", json={"card": card, "password": "hunter2", "client_secret": "s3cret"})

    body = json.loads(log_entries(echo_route)[-1].request_body)

    assert body["card"] == {"number": "************8741", "cvc": "***", "expiryMonth": 12, "holderName": "CHAN TAI MAN"}
    assert body["password"] == "***"
    assert body["client_secret"] == "***"


def test_a_secret_sent_in_a_token_form_is_masked_even_when_the_call_fails_early(app, client):
    client.post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "s3cret-value"},
    )

    entry = log_entries(app)[-1]

    assert entry.status == 401
    assert "s3cret-value" not in entry.request_body
    assert "client_secret=%2A%2A%2A" in entry.request_body
    assert entry.client_id == ""  # no Basic credentials, no client_id header


def test_an_oversized_body_is_refused_and_logged_without_its_body(app, api):
    response = api.post(LINKAGE, data="x" * (65 * 1024), content_type="application/json")

    assert response.status_code == 413
    assert response.json["code"] == "requestTooLarge"
    entry = log_entries(app)[-1]
    assert (entry.status, entry.request_body) == (413, "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"linkageConfirmationCode": "123456"}, {"linkageConfirmationCode": "***"}),
        ({"access_token": "abc", "token_type": "Bearer"}, {"access_token": "***", "token_type": "Bearer"}),
        ({"cardNumber": "4966 0100 0000 8741"}, {"cardNumber": "************8741"}),
        ({"note": "card 4966-0100-0000-8741 used"}, {"note": "card ************8741 used"}),
        ({"items": [{"cvc": 123}]}, {"items": [{"cvc": "***"}]}),
        ({"adminPassword": "x", "mySecretThing": "y"}, {"adminPassword": "***", "mySecretThing": "***"}),
        (
            {"transactionAmount": "520.00", "pointsToRedeem": 50000},
            {"transactionAmount": "520.00", "pointsToRedeem": 50000},
        ),
        ({"citiCardHolderPhoneNumber": "91234567"}, {"citiCardHolderPhoneNumber": "91234567"}),
    ],
)
def test_masking_hides_secrets_and_keeps_the_rest(value, expected):
    assert mask_value(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RDM-1D0123456789012A3B4C", "RDM-1D0123456789012A3B4C"),  # 13 digits in a row inside an order id
        ("RVS-4966010000008741ABCD", "RVS-4966010000008741ABCD"),
        ('{"orderId": "RDM-ABCDEFG1234567890123"}', '{"orderId": "RDM-ABCDEFG1234567890123"}'),
        ("card=4966010000008741&cvc=123", "card=************8741&cvc=123"),
        ('{"n": "4966010000008741"}', '{"n": "************8741"}'),
        ("RDM-4966010000008741", "RDM-************8741"),  # a card number after a dash is still one
    ],
)
def test_a_run_of_digits_inside_an_id_is_no_card_number(text, expected):
    assert mask_text(text) == expected


def test_masking_hides_the_otp_digits_of_an_sms_text():
    text = "Summit Bank: 654321 is your one-time password to link your card ending 8741 with Harbour Mall."

    assert mask_text(text) == (
        "Summit Bank: ****** is your one-time password to link your card ending 8741 with Harbour Mall."
    )


# --- Fault injection --------------------------------------------------------------------------


def test_an_error_fault_answers_without_running_the_handler_and_wears_off(app, api):
    add_fault(app, "links.enroll", error_status=503, error_code="serviceUnavailable", remaining_failures=2)

    responses = [api.post(LINKAGE, json=HAPPY) for _ in range(3)]

    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].json["code"] == "serviceUnavailable"
    assert responses[0].json["type"] == "fatal"
    assert sms_count(app) == 1  # only the third call ran the handler
    entries = log_entries(app)[-3:]
    assert [entry.fault != "" for entry in entries] == [True, True, False]
    assert "503" in entries[0].fault
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FaultRule)) == 0  # used up, removed


def test_an_error_fault_without_a_count_lasts_until_removed(app, api):
    add_fault(app, "links.enroll", error_status=500)

    statuses = [api.post(LINKAGE, json=HAPPY).status_code for _ in range(3)]

    assert statuses == [500, 500, 500]
    assert api.post(LINKAGE, json=HAPPY).json["code"] == "sandboxInjectedFault"
    with app.app_context():
        db.session.execute(sa.delete(FaultRule))
        db.session.commit()
    assert api.post(LINKAGE, json=HAPPY).status_code == 200


def test_a_fault_applies_only_to_its_endpoint(app, api):
    add_fault(app, "links.activate", error_status=503)

    assert api.post(LINKAGE, json=HAPPY).status_code == 200


def test_faults_never_apply_to_the_sandbox_controls(app, client):
    add_fault(app, "sandbox.get_clock", error_status=503)

    assert client.get("/sandbox/api/clock", headers=KEY).status_code == 200


def test_latency_is_added_after_the_commit_without_holding_the_database(app, api):
    add_fault(app, "links.enroll", latency_ms=800, remaining_failures=1)
    api.token()
    result = {}

    def call():
        started = time.perf_counter()
        result["response"] = api.post(LINKAGE, json=HAPPY)
        result["seconds"] = time.perf_counter() - started

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    # While the call sleeps: its SMS is already committed, and another writer is not kept waiting.
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 1
        started = time.perf_counter()
        clock.advance(1)
        db.session.commit()
        write_seconds = time.perf_counter() - started
    caller.join()

    assert write_seconds < 0.3
    assert result["response"].status_code == 200
    assert result["seconds"] >= 0.8
    entry = log_entries(app)[-1]
    assert entry.latency_ms >= 800
    assert "latency 800 ms" in entry.fault


def test_a_money_calls_latency_is_added_after_its_commit_and_its_row_without_holding_the_database(app):
    """A redemption's log row is committed with its money, before the latency: visible, and no lock held."""
    api = partner_api(app)
    path = redeem_path(make_link(app))
    add_fault(app, "redemptions.redeem", latency_ms=800, remaining_failures=1)
    result = {}

    def call():
        started = time.perf_counter()
        result["response"] = api.post(path, json=redemption_body(reference="HM-SLOW"))
        result["seconds"] = time.perf_counter() - started

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    # While the call sleeps: its redemption and its log row are committed, and another writer is not kept waiting.
    with app.app_context():
        pending = db.session.scalars(sa.select(RequestLogEntry).where(RequestLogEntry.idempotency_key == "HM-SLOW"))
        [row] = [(entry.id, entry.status, entry.answer_logged, entry.fault) for entry in pending]
        db.session.rollback()
        started = time.perf_counter()
        clock.advance(1)
        db.session.commit()
        write_seconds = time.perf_counter() - started
    caller.join()

    assert write_seconds < 0.3
    assert row[1:] == (200, False, "latency 800 ms")
    assert result["response"].status_code == 200
    assert result["seconds"] >= 0.8
    entry = log_entries(app)[-1]
    assert (entry.id, entry.answer_logged, entry.idempotency_key) == (row[0], True, "HM-SLOW")  # completed in place
    assert entry.latency_ms >= 800
    assert "orderId" in entry.response_body


def test_drop_after_commit_commits_then_fails_the_response_in_the_test_client(app, api):
    """The Flask test client iterates the body eagerly, so the dropped response surfaces as BrokenPipeError."""
    add_fault(app, "links.enroll", drop_response_after_commit=True, remaining_failures=1)
    api.token()

    with pytest.raises(BrokenPipeError, match="dropped after commit"):
        api.post(LINKAGE, json=HAPPY)

    assert sms_count(app) == 1  # the enrolment committed
    entry = log_entries(app)[-1]
    assert (entry.endpoint, entry.status, entry.fault) == ("links.enroll", 200, "drop after commit")
    assert api.post(LINKAGE, json=PREMIER).status_code == 200


# --- Under real gunicorn ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_issuer(tmp_path):
    """The issuer under gunicorn (gthread, as `make demo` runs it) on a free port and a seeded temp database."""
    database_url = f"sqlite:///{tmp_path / 'issuer.sqlite3'}"
    env = {**os.environ, "ISSUER_DATABASE_URL": database_url, "ISSUER_ENV": "demo"}
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "--app", "issuer_sandbox", "seed"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "--header-map",
            "dangerous",
            "--worker-class",
            "gthread",
            "--workers",
            "1",
            "--threads",
            "4",
            "--graceful-timeout",
            "2",
            "--no-control-socket",
            "--bind",
            f"127.0.0.1:{port}",
            "issuer_sandbox:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a process group of its own, so stopping reaches the workers too
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # generous: a busy 2-core CI machine starts workers slowly
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        app = create_app({"DATABASE_URL": database_url})
        yield base, app
        close_app(app)
    finally:
        os.killpg(server.pid, signal.SIGINT)  # gunicorn's quick shutdown: no waiting for keep-alive connections
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(server.pid, signal.SIGKILL)  # whatever is left of the group, workers included
        except ProcessLookupError:
            pass
        server.wait()
        server.stderr.close()


def test_under_gunicorn_client_id_survives_and_drop_after_commit_drops_the_connection(gunicorn_issuer):
    base, app = gunicorn_issuer
    http = requests  # a fresh connection per call: a stale keep-alive socket must not pass for a drop
    token = http.post(
        f"{base}/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials", "scope": "/api"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    ).json()["access_token"]

    def headers():
        return {"Authorization": f"Bearer {token}", "client_id": CLIENT_ID, "uuid": str(uuid.uuid4())}

    # The partner API insists on the client_id header: a 200 proves gunicorn passed it through.
    sent = headers()
    ok = http.post(f"{base}{LINKAGE}", json=HAPPY, headers=sent, timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.headers["uuid"] == sent["uuid"]

    add_fault(app, "links.enroll", drop_response_after_commit=True, remaining_failures=1)
    # gunicorn closes the socket before a status line: the call ends in ConnectionError, never a 200.
    with pytest.raises(requests.ConnectionError, match="without response"):
        http.post(f"{base}{LINKAGE}", json=PREMIER, headers=headers(), timeout=10)

    # The enrolment committed although the client never heard back.
    outbox = http.get(f"{base}/sandbox/api/sms?phone=93456789", headers=KEY, timeout=10).json()
    assert len(outbox) == 1
    dropped = http.get(f"{base}/sandbox/api/requests?path=linkage&limit=1", headers=KEY, timeout=10).json()[0]
    assert (dropped["status"], dropped["fault"]) == (200, "drop after commit")
    assert http.post(f"{base}{LINKAGE}", json=PREMIER, headers=headers(), timeout=10).status_code == 200


def test_a_redemption_reads_its_request_once_for_both_its_log_rows(app, monkeypatch):
    """The row committed with the money and the buffered row that completes it share one reading of the request."""
    from issuer_sandbox.api import observability

    api = partner_api(app)
    link = make_link(app)
    real_read = observability._read_request_fields
    reads = []

    def counted_read(*args):
        reads.append(args)
        return real_read(*args)

    monkeypatch.setattr(observability, "_read_request_fields", counted_read)
    response = api.post(redeem_path(link), json=redemption_body(reference="HM-READ-ONCE"))
    assert response.status_code == 200
    assert len(reads) == 1
    entry = log_entries(app)[-1]
    assert (entry.endpoint, entry.status, entry.idempotency_key) == ("redemptions.redeem", 200, "HM-READ-ONCE")
    assert entry.answer_logged and json.loads(entry.response_body)["orderId"] == response.json["orderId"]


@pytest.mark.sqlite_only(reason="SQLite's writers' file lock")
def test_a_money_call_reads_its_request_for_the_log_before_it_takes_the_write_lock(app, monkeypatch):
    """The masked request body of the row committed with the money is read before the money transaction,
    so no other writer waits while it is parsed and dumped; the row still names the authenticated partner."""
    from issuer_sandbox.api import observability

    from .test_database_and_request_log import writer_lock_is_free

    api = partner_api(app)
    link = make_link(app)
    real_read = observability._read_request_fields
    lock_free_at_read = []

    def watched_read(*args):
        lock_free_at_read.append(writer_lock_is_free(app))
        return real_read(*args)

    monkeypatch.setattr(observability, "_read_request_fields", watched_read)
    for reference in ("HM-BEFORE-LOCK-1", "HM-BEFORE-LOCK-2"):
        response = api.post(redeem_path(link), json=redemption_body(reference=reference))
        assert response.status_code == 200
    assert lock_free_at_read == [True, True]
    with app.app_context():
        committed = db.session.scalars(
            sa.select(RequestLogEntry).where(RequestLogEntry.idempotency_key == "HM-BEFORE-LOCK-2")
        ).one()
        assert committed.client_id == CLIENT_ID and committed.status == 200
        db.session.rollback()


def test_a_call_whose_handler_does_not_share_the_context_read_begins_no_session_transaction_for_it(app):
    """The token call (its handler reads nothing) and a redemption (it writes in a transaction of its own)
    read their context on a pooled connection of their own: the Session begins only the redemption's money
    transaction. A balance read shares one read transaction between its context and its handler, on a
    pooled connection too (begin_request_read), given back by the end of the call."""
    from issuer_sandbox import database
    from issuer_sandbox.api.paths import TOKEN_PATH

    from .conftest import basic_auth

    api = partner_api(app)
    link = make_link(app)
    caller = threading.current_thread()
    begun: list[str] = []

    def record(_session, _transaction, _connection) -> None:
        if threading.current_thread() is caller:  # not the request log's writer thread
            begun.append("session")

    def session_transactions(call) -> int:
        begun.clear()
        sa.event.listen(db.session, "after_begin", record)
        try:
            response = call()
        finally:
            sa.event.remove(db.session, "after_begin", record)
        assert response.status_code == 200, response.get_data(as_text=True)
        return len(begun)

    client = app.test_client()
    token_form = {"grant_type": "client_credentials", "scope": "/api"}
    token_headers = {"Authorization": basic_auth(CLIENT_ID, CLIENT_SECRET)}
    assert session_transactions(lambda: client.post(TOKEN_PATH, data=token_form, headers=token_headers)) == 0
    # The link's first redemption opens its points accounts (a transaction of its own): not this test's subject.
    assert api.post(redeem_path(link), json=redemption_body(reference="HM-OWN-CONTEXT-0")).status_code == 200
    body = redemption_body(reference="HM-OWN-CONTEXT")
    assert session_transactions(lambda: api.post(redeem_path(link), json=body)) == 1
    begins: list[str] = []

    def record_begin(_conn, _cursor, statement, *_args) -> None:
        if threading.current_thread() is caller and statement.startswith("BEGIN"):
            begins.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record_begin)
    try:
        assert session_transactions(lambda: api.get(balance_path(link))) == 0
    finally:
        sa.event.remove(engine, "before_cursor_execute", record_begin)
    if engine.dialect.name == "sqlite":
        assert begins == ["BEGIN"]  # the context and the handler: one read transaction
    # Given back whether the call answers or is refused: nothing checked out, nothing left for the next call.
    assert api.get(balance_path("RL-NO-SUCH-LINK")).status_code == 404
    assert database._request_read_connection.get() is None
    # The request log's writer thread checks out a connection of its own while it flushes (every 200 ms here):
    # holding its write lock keeps a flush from running during the count (a loaded run once counted one).
    with request_log.writer(app)._write_lock:
        assert engine.pool.checkedout() == 0
