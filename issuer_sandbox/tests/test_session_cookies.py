"""The console's session cookie is signed as Flask signs it, by a serializer built once per secret key."""

from __future__ import annotations

from flask import session
from flask.sessions import SecureCookieSessionInterface

from issuer_sandbox.session_cookies import ReusedSerializerSessionInterface


def _cookie_after(app, value: str) -> str:
    """The session cookie a request that stores `value` sets."""
    with app.test_request_context("/"):
        session["probe"] = value
        response = app.make_response("ok")
        app.session_interface.save_session(app, session, response)
    return response.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]


def test_the_app_uses_it_and_builds_the_serializer_once(app):
    interface = app.session_interface
    assert isinstance(interface, ReusedSerializerSessionInterface)
    assert interface.get_signing_serializer(app) is interface.get_signing_serializer(app)


def test_its_cookies_are_flasks_own_both_ways(app):
    flask_interface = SecureCookieSessionInterface()
    cookie = _cookie_after(app, "kept")
    assert flask_interface.get_signing_serializer(app).loads(cookie) == {"probe": "kept"}
    flasks_cookie = flask_interface.get_signing_serializer(app).dumps({"probe": "theirs"})
    assert app.session_interface.get_signing_serializer(app).loads(flasks_cookie) == {"probe": "theirs"}


def test_a_new_secret_key_gets_a_new_serializer_and_the_old_key_can_be_a_fallback(app):
    interface = app.session_interface
    old_cookie = _cookie_after(app, "old key")
    before = interface.get_signing_serializer(app)
    old_key = app.secret_key
    app.secret_key = "another-secret-key-of-at-least-thirty-two-bytes"
    rotated = interface.get_signing_serializer(app)
    assert rotated is not before
    with app.test_request_context("/", headers={"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={old_cookie}"}):
        assert "probe" not in session  # signed with a key the app no longer has
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    with app.test_request_context("/", headers={"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={old_cookie}"}):
        assert session["probe"] == "old key"
