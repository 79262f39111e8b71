"""Shopper accounts: sign up, sign in, sign out, login_required and safe redirects."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import g

from shop.accounts.guards import is_safe_next, login_required
from shop.extensions import db
from shop.models import User

GOOD = {
    "name": "Ho Ka Yan",
    "email": "ho.kayan@example.com",
    "phone": "9876 5432",
    "password": "harbour-2024",
    "confirm": "harbour-2024",
}


@pytest.fixture
def protected(app):
    """A page behind login_required, standing in for checkout and orders."""

    @login_required
    def members_only():
        return f"hello {g.user.email}"

    app.add_url_rule("/members-only", "members_only", members_only)
    return "/members-only"


def find_user(app, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.email == email))


def signed_in_user_id(client):
    with client.session_transaction() as session:
        return session.get("user_id")


def test_sign_up_creates_an_account_with_a_hashed_password_and_signs_in(app, client):
    response = client.post("/account/sign-up", data=GOOD)
    assert response.status_code == 302
    user = find_user(app, "ho.kayan@example.com")
    assert user is not None
    assert user.password_hash != GOOD["password"]
    assert user.check_password(GOOD["password"])
    assert user.phone == "98765432"
    assert signed_in_user_id(client) == user.id
    assert "Welcome to Harbour Mall, Ho Ka Yan." in client.get("/").get_data(as_text=True)


def test_sign_up_stores_the_email_in_lower_case(app, client):
    client.post("/account/sign-up", data={**GOOD, "email": "  Ho.KaYan@Example.COM "})
    assert find_user(app, "ho.kayan@example.com") is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": ""}, "Enter your email address."),
        ({"password": "short", "confirm": "short"}, "Use at least 8 characters."),
        ({"confirm": "something-else"}, "The passwords do not match."),
        ({"name": "  "}, "Enter your name."),
        ({"phone": "12345"}, "Enter an 8-digit Hong Kong mobile number."),
        ({"email": "chan.taiman@example.com"}, "An account with this email already exists. Sign in instead."),
        ({"email": "CHAN.TAIMAN@example.com"}, "An account with this email already exists. Sign in instead."),
    ],
)
def test_sign_up_refuses_bad_details_with_a_clear_message(app, client, changes, message):
    response = client.post("/account/sign-up", data={**GOOD, **changes})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert signed_in_user_id(client) is None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 3  # just the demo shoppers and the staff login


def test_sign_in_with_the_demo_shopper_works(client, shopper):
    response = shopper.sign_in()
    assert response.status_code == 302
    assert signed_in_user_id(client) is not None
    page = client.get("/").get_data(as_text=True)
    assert "Hi, Chan" in page
    assert "My orders" in page
    assert 'action="/account/sign-out"' in page


def test_sign_in_is_case_insensitive_about_the_email(client, shopper):
    shopper.sign_in(email="Chan.TaiMan@Example.com")
    assert signed_in_user_id(client) is not None


@pytest.mark.parametrize(
    ("email", "password"), [("chan.taiman@example.com", "wrong-password"), ("nobody@example.com", "demo1234")]
)
def test_a_wrong_email_or_password_gets_one_message_that_reveals_nothing(client, shopper, email, password):
    response = shopper.sign_in(email=email, password=password)
    assert response.status_code == 422
    assert "That email and password do not match an account." in response.get_data(as_text=True)
    assert signed_in_user_id(client) is None


def test_signing_in_starts_a_fresh_permanent_session_but_keeps_the_cart(client, shopper):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["cart"] = {"1": 2}
    shopper.sign_in()
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["cart"] == {"1": 2}
        assert session.permanent


def test_sign_out_ends_the_session(client, shopper):
    shopper.sign_in()
    response = shopper.sign_out()
    assert response.status_code == 302
    assert signed_in_user_id(client) is None
    assert "You have signed out." in client.get("/").get_data(as_text=True)


def test_sign_out_needs_a_post(client, shopper):
    shopper.sign_in()
    assert client.get("/account/sign-out").status_code == 405
    assert signed_in_user_id(client) is not None


def test_sign_out_needs_the_csrf_token_when_csrf_is_on(app, client, shopper):
    shopper.sign_in()
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/account/sign-out")
    assert response.status_code == 400
    assert "Your session expired" in response.get_data(as_text=True)
    assert signed_in_user_id(client) is not None


def test_sign_in_needs_the_csrf_token_when_csrf_is_on(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get("/account/sign-in").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    response = client.post("/account/sign-in", data={"email": "chan.taiman@example.com", "password": "demo1234"})
    assert response.status_code == 400
    assert signed_in_user_id(client) is None


def test_login_required_sends_a_signed_out_shopper_to_sign_in_with_next(client, protected):
    response = client.get(protected + "?tab=2")
    assert response.status_code == 302
    assert response.location == "/account/sign-in?next=/members-only?tab%3D2"


def test_signing_in_returns_to_the_page_that_asked(client, shopper, protected):
    sign_in_page = client.get("/account/sign-in?next=/members-only").get_data(as_text=True)
    assert 'name="next" type="hidden" value="/members-only"' in sign_in_page
    response = client.post(
        "/account/sign-in", data={"email": "chan.taiman@example.com", "password": "demo1234", "next": "/members-only"}
    )
    assert response.location == "/members-only"
    assert client.get(protected).get_data(as_text=True) == "hello chan.taiman@example.com"


def test_sign_up_also_returns_to_the_page_that_asked(client):
    response = client.post("/account/sign-up", data={**GOOD, "next": "/cart"})
    assert response.location == "/cart"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "cart", "/\x00x"]
)
def test_sign_in_never_redirects_off_site(client, target):
    response = client.post(
        "/account/sign-in", data={"email": "chan.taiman@example.com", "password": "demo1234", "next": target}
    )
    assert response.location == "/"


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/cart", True),
        ("/checkout?step=2", True),
        ("/", True),
        ("", False),
        (None, False),
        ("//evil.example", False),
        ("https://evil.example/cart", False),
        ("/\\evil.example", False),
        ("http:/evil", False),
        ("/ok\r\nSet-Cookie: x=1", False),
    ],
)
def test_only_same_site_paths_are_safe_to_return_to(target, safe):
    assert is_safe_next(target) is safe


def test_a_signed_in_shopper_passes_login_required(client, shopper, protected):
    shopper.sign_in()
    assert client.get(protected).status_code == 200


def test_a_session_for_a_deleted_user_is_treated_as_signed_out(app, client, protected):
    with client.session_transaction() as session:
        session["user_id"] = 9999
    assert client.get(protected).status_code == 302


def test_registering_a_taken_email_raises_email_taken_even_past_the_form(app):
    from shop.accounts.rules import EmailTaken, register_shopper

    with app.app_context():
        with pytest.raises(EmailTaken, match="chan.taiman@example.com already exists"):
            register_shopper(name="Someone", email=" Chan.TaiMan@example.com ", password="long-enough-1")


@pytest.mark.parametrize(
    ("email", "password", "found"),
    [
        ("chan.taiman@example.com", "demo1234", True),
        ("  CHAN.taiman@example.com", "demo1234", True),
        ("chan.taiman@example.com", "demo12345", False),
        ("nobody@example.com", "demo1234", False),
    ],
)
def test_authenticate_finds_the_shopper_only_with_the_right_password(app, email, password, found):
    from shop.accounts.rules import authenticate

    with app.app_context():
        assert (authenticate(email, password) is not None) is found


def test_the_slow_password_check_runs_with_the_database_free_for_other_shoppers(app, shopper, monkeypatch):
    from shop.accounts import rules as account_service

    from .fakes import assert_database_writable

    probed = []
    real_check = account_service.password_matches

    def check_while_probing(stored_hash: str, password: str) -> bool:
        probed.append(assert_database_writable("password check"))
        return real_check(stored_hash, password)

    monkeypatch.setattr(account_service, "password_matches", check_while_probing)
    response = shopper.sign_in()
    assert response.status_code == 302
    assert probed == [True]


def store_an_older_hash(app, email: str = "chan.taiman@example.com", password: str = "demo1234") -> str:
    """Give a seeded shopper a hash made with other settings than the configured ones (as before an upgrade)."""
    from werkzeug.security import generate_password_hash

    old_hash = generate_password_hash(password, method="pbkdf2:sha256:1001")
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == email).values(password_hash=old_hash))
        db.session.commit()
    return old_hash


def test_a_sign_in_rehashes_a_password_stored_with_older_settings(app, shopper):
    """The configured method (here the tests' cheap pbkdf2) replaces an older hash once the password is known."""
    old_hash = store_an_older_hash(app)
    assert shopper.sign_in().status_code == 302
    user = find_user(app, "chan.taiman@example.com")
    assert user.password_hash != old_hash
    assert user.password_hash.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")
    assert user.check_password("demo1234")


def test_a_wrong_password_leaves_an_older_hash_as_it_was(app, shopper):
    old_hash = store_an_older_hash(app)
    assert shopper.sign_in(password="not-it").status_code == 422  # the form again, with its error
    assert find_user(app, "chan.taiman@example.com").password_hash == old_hash


def test_the_rehash_runs_with_the_database_free_for_other_shoppers(app, shopper, monkeypatch):
    from shop.accounts import rules as account_service

    from .fakes import assert_database_writable

    store_an_older_hash(app)
    probed = []
    real_hash = account_service.hash_password

    def hash_while_probing(password: str, method: str) -> str:
        probed.append(assert_database_writable("password rehash"))
        return real_hash(password, method=method)

    monkeypatch.setattr(account_service, "hash_password", hash_while_probing)
    assert shopper.sign_in().status_code == 302
    assert probed == [True]
