"""The shopper's language: Accept-Language on a first visit, the header switch's cookie after, Babel formats."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from werkzeug.datastructures import MultiDict

from shop.i18n import COOKIE_MAX_AGE_SECONDS, LanguageForm, choose_locale

from .conftest import make_app

CHINESE_HEADERS = {"Accept-Language": "zh-HK,zh;q=0.9,en;q=0.5"}


@pytest.mark.parametrize(
    ("cookie", "accepted", "locale"),
    [
        (None, [], "en"),
        (None, ["en-GB"], "en"),
        (None, ["zh"], "zh_Hant_HK"),
        (None, ["zh-HK"], "zh_Hant_HK"),
        (None, ["zh-Hant"], "zh_Hant_HK"),
        (None, ["zh-TW"], "zh_Hant_HK"),
        (None, ["zh-MO"], "zh_Hant_HK"),
        (None, ["zh-Hant-HK"], "zh_Hant_HK"),
        (None, ["fr-FR", "zh-HK", "en"], "zh_Hant_HK"),
        (None, ["fr-FR", "de"], "en"),
        (None, ["*"], "en"),
        (None, ["not a tag!"], "en"),
        ("en", ["zh-HK"], "en"),
        ("zh_Hant_HK", ["en"], "zh_Hant_HK"),
        ("klingon", ["zh-HK"], "zh_Hant_HK"),
    ],
)
def test_the_cookie_wins_then_the_browsers_first_language_we_have(cookie, accepted, locale):
    assert choose_locale(cookie, accepted) == locale


def test_a_chinese_browser_gets_the_shop_in_traditional_chinese(client):
    html = client.get("/", headers=CHINESE_HEADERS).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in html
    assert "購物車" in html and "按類別選購" in html
    assert "Shop by category" not in html


def test_a_browser_without_a_language_gets_english(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Shop by category" in html


def test_the_header_offers_the_switch_back_to_the_same_page(client):
    html = client.get("/search?q=rice", headers=CHINESE_HEADERS).get_data(as_text=True)
    assert 'action="/language"' in html
    assert 'value="/search?q=rice"' in html
    assert ">English</button>" in html and ">繁</button>" in html


def test_switching_language_sets_a_year_long_lax_cookie_and_goes_back(client):
    response = client.post("/language", data={"lang": "zh_Hant_HK", "next": "/search?q=rice"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/search?q=rice"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=zh_Hant_HK;")
    assert f"Max-Age={COOKIE_MAX_AGE_SECONDS}" in cookie and "SameSite=Lax" in cookie
    # The cookie now beats an English browser.
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in html
    client.post("/language", data={"lang": "en", "next": "/"})
    assert '<html lang="en">' in client.get("/", headers=CHINESE_HEADERS).get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", ""])
def test_the_switch_only_goes_back_to_a_page_of_this_shop(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.headers["Location"] == "/"


def test_an_unknown_language_sets_no_cookie(client):
    response = client.post("/language", data={"lang": "fr", "next": "/cart"})
    assert response.headers["Location"] == "/cart"
    assert "Set-Cookie" not in response.headers


def test_the_switch_needs_the_forms_csrf_token(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    response = app.test_client().post("/language", data={"lang": "zh_Hant_HK", "next": "/"})
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers or "lang=" not in response.headers["Set-Cookie"]


def test_money_numbers_and_dates_follow_the_locale(app):
    filters = app.jinja_env.filters
    with app.test_request_context("/", headers=CHINESE_HEADERS):
        assert filters["money"](123450) == "HK$1,234.50"
        assert filters["money"](-100) == "-HK$1.00"
        assert filters["number"](120000) == "120,000"
        assert filters["day"](date(2026, 12, 2)) == "2026年12月2日"
        assert filters["moment"](datetime(2026, 12, 2, 18, 5)) == "2026年12月2日 18:05"
    with app.test_request_context("/"):
        assert filters["money"](123450) == "HK$1,234.50"
        assert filters["day"](date(2026, 12, 2)) == "02 Dec 2026"
        assert filters["moment"](datetime(2026, 12, 2, 18, 5)) == "02 Dec 2026 18:05"


def test_money_refuses_a_float(app):
    with app.test_request_context("/"), pytest.raises(ValueError, match="whole cents"):
        app.jinja_env.filters["money"](12.5)


def test_wtforms_own_messages_are_in_traditional_chinese(app):
    with app.test_request_context("/", headers=CHINESE_HEADERS):
        form = LanguageForm(formdata=MultiDict({"lang": "fr"}))
        assert not form.validate()
        assert form.lang.errors == ["不是有效的選擇。"]
    with app.test_request_context("/"):
        form = LanguageForm(formdata=MultiDict({"lang": "fr"}))
        assert not form.validate()
        assert form.lang.errors == ["Not a valid choice."]


def test_shop_messages_and_flashes_are_translated(client, shopper):
    client.set_cookie("lang", "zh_Hant_HK")
    response = client.post("/account/sign-in", data={"email": "", "password": ""})
    html = response.get_data(as_text=True)
    assert "請輸入你的電郵地址。" in html
    response = shopper.sign_in()
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "歡迎回來" in html


def test_error_pages_are_translated(client):
    html = client.get("/no-such-page", headers=CHINESE_HEADERS).get_data(as_text=True)
    assert "找不到這個頁面" in html and '<html lang="zh-Hant-HK">' in html


def _bank_languages(fake_issuer, method: str) -> list[str]:
    return [kwargs["language"] for name, kwargs in fake_issuer.calls if name == method]


def test_a_chinese_shopper_gets_the_banks_sms_in_chinese_on_enrolment_and_resend(checkout, client, fake_issuer):
    client.set_cookie("lang", "zh_Hant_HK")
    reference = checkout.paid_order()
    checkout.send_code(reference)
    fake_issuer.advance(seconds=31)
    response = client.post(f"/checkout/{reference}/points/resend", data={"resend": "Resend code"})
    assert response.status_code == 302
    assert _bank_languages(fake_issuer, "enroll") == ["zh-HK"]
    assert _bank_languages(fake_issuer, "resend_otp") == ["zh-HK"]
    page = client.get(f"/checkout/{reference}/points").get_data(as_text=True)
    assert "一次性密碼" in page and "重新發送密碼" in page


def test_an_english_shopper_gets_the_banks_sms_in_english(checkout, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    assert _bank_languages(fake_issuer, "enroll") == ["en"]


def test_outside_a_request_the_shop_speaks_english(app):
    from shop.i18n import is_chinese, select_locale

    with app.app_context():
        assert select_locale() == "en" and not is_chinese()


def test_pages_say_they_vary_by_language(client):
    vary = client.get("/").headers["Vary"]
    assert "Accept-Language" in vary and "Cookie" in vary
