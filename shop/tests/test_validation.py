"""Input hygiene: ASCII digits wherever the shop reads a number, no control characters in any field or URL.

'¹' (superscript), '٣' (Arabic-Indic) and '３' (full-width) are digits to ``str.isdigit()``, and ``int()``
reads the last two: before this, a superscript in a card number was a 500 and an Arabic-Indic CVC was sent
to the bank. A NUL byte was a 500 on PostgreSQL, which refuses it in text.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

import shop
from shop.validation import AsciiDigits, ShopForm, WholeNumberField, has_control_characters, is_ascii_digits

from .conftest import CheckoutActions, ShopperActions, close_app, make_app


def text(response) -> str:
    return response.get_data(as_text=True)


CONTROL_MESSAGE = "Remove the invisible control characters (such as tabs or line breaks)."


# --- The validators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "digits"),
    [("0123456789", True), ("496601000000874¹", False), ("٣", False), ("３", False), ("12a", False), ("", False)],
)
def test_ascii_digits_are_zero_to_nine_only(value, digits):
    assert is_ascii_digits(value) is digits


@pytest.mark.parametrize(
    ("value", "multi_line", "refused"),
    [
        ("1 Harbour Road", False, False),
        ("香港中環", False, False),
        ("Flat 3\x00", False, True),
        ("bell\x07", False, True),
        ("escape\x1b[31m", False, True),
        ("del\x7f", False, True),
        ("next\x85line", False, True),
        ("tab\there", False, True),
        ("two\nlines", False, True),
        ("two\r\nlines\tand a tab", True, False),
        ("nul in a text area\x00", True, True),
        ("form feed\x0c", True, True),
    ],
)
def test_control_characters_and_the_line_break_policy(value, multi_line, refused):
    assert has_control_characters(value, multi_line) is refused


class ExampleForm(ShopForm):
    class Meta:
        csrf = False

    code = StringField(validators=[AsciiDigits(6, message="six digits")])
    count = WholeNumberField()
    note = TextAreaField()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "12345٦"}, "code", "six digits"),
        ({"code": "１２３４５６"}, "code", "six digits"),
        ({"code": "12345⁶"}, "code", "six digits"),
        ({"code": "12345"}, "code", "six digits"),
        ({"code": "123456\x00"}, "code", CONTROL_MESSAGE),
        ({"code": "123456", "count": "٣"}, "count", "Not a valid integer value."),
        ({"code": "123456", "count": "1_000"}, "count", "Not a valid integer value."),
        ({"code": "123456", "count": "3\x00"}, "count", CONTROL_MESSAGE),
        ({"code": "123456", "note": "line one\nline two\x00"}, "note", CONTROL_MESSAGE),
    ],
)
def test_the_validators_say_what_is_wrong(app, data, field, message):
    with app.test_request_context(method="POST", data=data):
        form = ExampleForm()
        assert not form.validate()
        assert form.errors[field] == [message]


def test_good_values_pass_and_a_text_area_keeps_its_line_breaks(app):
    with app.test_request_context(method="POST", data={"code": "012345", "count": "-12", "note": "a\r\nb\tc"}):
        form = ExampleForm()
        assert form.validate(), form.errors
        assert (form.code.data, form.count.data, form.note.data) == ("012345", -12, "a\r\nb\tc")


def _shop_forms() -> list[type[FlaskForm]]:
    forms = []
    for module_info in pkgutil.walk_packages(shop.__path__, "shop."):
        if ".tests" in module_info.name or ".migrations" in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, FlaskForm) and value.__module__ == module.__name__:
                forms.append(value)
    return forms


def test_every_shop_form_is_a_shop_form_so_no_field_forgets_the_check():
    forms = _shop_forms()
    assert len(forms) >= 15
    assert [form.__qualname__ for form in forms if not issubclass(form, ShopForm)] == []


# --- Through the shop's forms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("card_number", "496601000000874¹", "Enter the 12 to 19 digits of the card number."),
        ("card_number", "٤٩٦٦٠١٠٠٠٠٠٠٨٧٤١", "Enter the 12 to 19 digits of the card number."),
        ("card_number", "４９６６０１００００００８７４１", "Enter the 12 to 19 digits of the card number."),
        ("card_number", "4966010000008741\x00", CONTROL_MESSAGE),
        ("cvc", "١٢٣", "The CVC is the 3 or 4 digits on the back of the card."),
        ("cvc", "１２３", "The CVC is the 3 or 4 digits on the back of the card."),
        ("cvc", "12³", "The CVC is the 3 or 4 digits on the back of the card."),
        ("expiry", "١٢/٣٠", "Enter the expiry as MM/YY."),
        ("expiry", "12/３０", "Enter the expiry as MM/YY."),
        ("holder_name", "CHAN\x00TAI MAN", CONTROL_MESSAGE),
    ],
)
def test_the_payment_form_refuses_non_ascii_digits_and_controls_with_a_field_error(
    checkout, fake_issuer, field, value, message
):
    reference = checkout.start_order()
    response = checkout.pay(reference, **{field: value})
    assert response.status_code == 200
    assert message in text(response)
    assert fake_issuer.calls_to("pay") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "٩١٢٣٤٥٦٧", "Enter an 8-digit Hong Kong mobile number."),
        ("phone", "９１２３４５６７", "Enter an 8-digit Hong Kong mobile number."),
        ("name", "Chan\x00Tai Man", CONTROL_MESSAGE),
        ("address", "1 Harbour Road\x00", CONTROL_MESSAGE),
        ("address", "1 Harbour Road\nWan Chai", CONTROL_MESSAGE),
        ("district", "Wan Chai\x00", CONTROL_MESSAGE),
    ],
)
def test_the_delivery_form_refuses_non_ascii_digits_and_controls(checkout, field, value, message):
    checkout.add_to_cart()
    response = checkout.deliver(**{field: value})
    assert response.status_code == 200
    assert message in text(response)


@pytest.mark.parametrize("phone", ["٩١٢٣٤٥٦٧", "9123456⁷"])
def test_the_mobile_form_sends_no_code_to_a_non_ascii_number(checkout, fake_issuer, phone):
    reference = checkout.paid_order()
    response = checkout.send_code(reference, phone)
    assert "Enter an 8-digit Hong Kong mobile number." in text(response)
    assert fake_issuer.calls_to("enroll") == []


@pytest.mark.parametrize("otp", ["١٢٣٤٥٦", "１２３４５６", "12345⁶", "123456\x00"])
def test_the_otp_form_sends_no_non_ascii_code_to_the_bank(checkout, fake_issuer, otp):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    response = checkout.verify(reference, otp)
    assert response.status_code == 422
    assert "The code has 6 digits." in text(response) or CONTROL_MESSAGE in text(response)
    assert fake_issuer.calls_to("verify_otp") == []


@pytest.mark.parametrize("points", ["٢٥٠٠٠", "２５０００", "25_000"])
def test_the_points_form_reads_ascii_digits_only(checkout, fake_issuer, points):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    response = checkout.use_points(reference, points)
    assert response.status_code == 422
    assert "Not a valid integer value." in text(response)
    assert fake_issuer.calls_to("redeem") == []


@pytest.mark.parametrize("quantity", ["٣", "３"])
def test_the_cart_reads_quantities_in_ascii_digits_only(checkout, app, client, quantity):
    product_id = checkout.product()
    client.post("/cart/add", data={"product_id": product_id, "quantity": quantity})
    assert "3 ×" not in text(client.get("/cart")) and "Qty 3" not in text(client.get("/cart"))
    with client.session_transaction() as session:
        assert not session.get("cart")


# --- On both databases: a NUL is a field error or a 400, never a 500 ------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_app(request, tmp_path):
    config = {} if request.param == "sqlite" else {"DATABASE_URL": request.getfixturevalue("fresh_postgres_url")}
    app = make_app(tmp_path, **config)
    yield app
    close_app(app)


@pytest.mark.parametrize("field", ["name", "email", "phone", "password", "confirm"])
def test_a_nul_in_any_sign_up_field_is_a_field_error(backend_app, field):
    data = {
        "name": "Ho Ka Yan",
        "email": "ho.kayan@example.com",
        "phone": "98765432",
        "password": "harbour-2024",
        "confirm": "harbour-2024",
    }
    data[field] = data.get(field, "/") + "\x00"
    response = backend_app.test_client().post("/account/sign-up", data=data)
    assert response.status_code == 422
    assert CONTROL_MESSAGE in text(response)


def test_a_nul_in_the_sign_in_email_is_a_field_error(backend_app):
    response = ShopperActions(backend_app.test_client()).sign_in(email="chan.taiman@example.com\x00")
    assert response.status_code == 422
    assert CONTROL_MESSAGE in text(response)


def test_a_nul_in_the_delivery_address_is_a_field_error_on_both_databases(backend_app):
    client = backend_app.test_client()
    ShopperActions(client).sign_in()
    checkout = CheckoutActions(backend_app, client)
    checkout.add_to_cart()
    response = checkout.deliver(address="1 Harbour Road\x00")
    assert response.status_code == 200
    assert CONTROL_MESSAGE in text(response)


@pytest.mark.parametrize(
    "path",
    [
        "/orders/HM%00-000001",
        "/orders/HM-000001%00/cancel",
        "/checkout/HM%00-000001/payment",
        "/products/%00",
        "/search?q=%00",
        "/search?q=bag&category=%01",
    ],
)
def test_a_control_character_in_the_url_is_a_400_page(backend_app, path):
    client = backend_app.test_client()
    ShopperActions(client).sign_in()
    response = client.get(path)
    assert response.status_code == 400
    assert "That address could not be read" in text(response)


def test_a_hidden_field_with_a_nul_is_read_as_empty_not_as_an_error_the_shopper_cannot_fix(backend_app):
    client = backend_app.test_client()
    response = ShopperActions(client).client.post(
        "/account/sign-in", data={"email": "chan.taiman@example.com", "password": "demo1234", "next": "/cart\x00"}
    )
    assert response.location == "/"
    product_id = CheckoutActions(backend_app, client).product()
    response = client.post("/cart/add", data={"product_id": f"{product_id}\x00", "quantity": "1"})
    assert (response.status_code, response.location) == (302, "/cart")  # nothing added, never a 500
    with client.session_transaction() as session:
        assert not session.get("cart")
