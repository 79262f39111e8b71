"""The shop's html_params writes exactly what WTForms' own writes, and every form renders through it."""

from __future__ import annotations

import pytest
from flask_babel import lazy_gettext
from markupsafe import Markup
from wtforms import widgets
from wtforms.fields import core as fields_core
from wtforms.widgets import core as widgets_core

from shop.form_rendering import html_params, wtforms_html_params

AWKWARD_ATTRIBUTES = [
    {},
    {"name": "text1", "id": "f", "class_": "text"},
    {"checked": True, "readonly": False, "name": "text1", "abc": "hello"},
    {"data_attr": "user.name", "aria_labeledby": "name", "aria_described_by": "a b"},
    {"value": 'say "hi" & <go>', "title": "it's"},
    {"value": Markup('<b class="x">bold</b> & "q"'), "for_": "x"},
    {"value": None, "maxlength": 100, "min": 0, "step": 1.5, "required": True},
    {"placeholder": "搜尋白米、豉油、耳機…", "lang": "zh-Hant-HK"},
    {"value": "\x00\t\n", "class": "a", "class_": "b"},
]


@pytest.mark.parametrize("attributes", AWKWARD_ATTRIBUTES)
def test_html_params_writes_what_wtforms_writes(attributes):
    ours, theirs = html_params(**attributes), wtforms_html_params(**attributes)
    assert ours == theirs
    assert isinstance(ours, Markup)


def test_html_params_writes_a_lazy_label_as_wtforms_does(app):
    with app.test_request_context("/", headers={"Cookie": "lang=zh_Hant_HK"}):
        attributes = {"value": lazy_gettext("Sign out"), "aria_label": lazy_gettext("Search")}
        assert html_params(**attributes) == wtforms_html_params(**attributes)
        assert "登出" in html_params(**attributes)


def test_every_wtforms_lookup_of_html_params_is_the_shops(app):
    assert widgets_core.html_params is html_params
    assert widgets.html_params is html_params and fields_core.widgets is widgets
    assert widgets_core.Input.html_params is html_params and widgets_core.Button.html_params is html_params
    assert widgets_core.HiddenInput.html_params is html_params and widgets_core.SubmitInput.html_params is html_params


def test_the_delivery_form_renders_as_it_did_with_wtforms_own_writer(app, client, shopper, monkeypatch):
    from shop.checkout.forms import DeliveryForm

    shopper.sign_in()
    with app.test_request_context("/checkout", headers={"Cookie": "lang=zh_Hant_HK"}):
        form = DeliveryForm(name='A "B" <C>', phone="91234567", address="1 & 2 Road", district="Wan Chai")

        def render():
            return [str(field(class_="field__input", required=True)) + str(field.label()) for field in form]

        ours = render()
        for target in (widgets_core, widgets):
            monkeypatch.setattr(target, "html_params", wtforms_html_params)
        for widget in (widgets_core.Input, widgets_core.Button):
            monkeypatch.setattr(widget, "html_params", staticmethod(wtforms_html_params))
        assert render() == ours
    assert 'value="Wan Chai" selected' in "".join(ours) or 'selected value="Wan Chai"' in "".join(ours)


def test_form_labels_and_hints_are_read_in_each_requests_language(app):
    from shop.checkout.forms import DeliveryForm, PaymentForm

    for language, label, hint, card in [
        ("en", "Address", "Flat, floor, building and street.", "Card number"),
        ("zh_Hant_HK", "送貨地址", None, "信用卡號碼"),
    ] * 2:  # twice: the second round reads the texts each form class kept
        with app.test_request_context("/", headers={"Cookie": f"lang={language}"}):
            form = DeliveryForm(formdata=None)
            assert str(form.address.label.text) == label
            assert hint is None or str(form.address.description) == hint
            assert hint is not None or "Flat, floor" not in str(form.address.description)
            assert f">{label}</label>" in str(form.address.label())
            assert card in str(PaymentForm(formdata=None).card_number.label())


def test_a_label_a_view_sets_on_its_form_is_kept(app):
    from shop.checkout.forms import DeliveryForm

    with app.test_request_context("/"):
        form = DeliveryForm(formdata=None)
        form.address.label.text = "Where to?"
        assert ">Where to?</label>" in str(form.address.label())
        assert ">Address</label>" in str(DeliveryForm(formdata=None).address.label())


def test_lazy_select_options_are_read_in_each_requests_language_and_keep_their_fields(app):
    from wtforms import SelectChoice, SelectField

    from shop.validation import ShopForm

    class PickForm(ShopForm):
        pick = SelectField(
            choices=[
                SelectChoice("", lazy_gettext("Cart"), render_kw={"disabled": True}),
                SelectChoice("s", lazy_gettext("Search")),
            ]
        )

    for language, cart, search in [("en", "Cart", "Search"), ("zh_Hant_HK", "購物車", "搜尋")] * 2:
        with app.test_request_context("/", headers={"Cookie": f"lang={language}"}):
            form = PickForm(formdata=None)
            first, second = form.pick.choices
            assert first == SelectChoice("", cart, render_kw={"disabled": True}) and second == SelectChoice("s", search)
            assert type(first.label) is str and type(second.label) is str  # read once, not on every render
            assert f">{cart}</option>" in str(form.pick()) and f">{search}</option>" in str(form.pick())
    with app.test_request_context("/"):
        # The class's own options stay lazy, for the next language.
        assert isinstance(PickForm.pick.kwargs["choices"][1].label, type(lazy_gettext("Cart")))
