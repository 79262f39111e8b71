"""Languages: the locale each request gets, the header's switch, and Babel's formatting of money and times."""

from datetime import datetime

import pytest

from issuer_sandbox import i18n

from .console_support import sign_in


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh", "zh_Hant_HK"),
        ("zh-HK", "zh_Hant_HK"),
        ("zh-Hant", "zh_Hant_HK"),
        ("zh-TW", "zh_Hant_HK"),
        ("zh-MO", "zh_Hant_HK"),
        ("zh-Hant-HK", "zh_Hant_HK"),
        ("fr-FR, zh-HK;q=0.8, en;q=0.5", "zh_Hant_HK"),
        ("en-GB, zh-HK;q=0.5", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_accept_language_chooses_english_or_hong_kong_chinese(header, locale):
    assert i18n.negotiate(header) == locale


def test_a_first_visit_follows_accept_language_and_sets_html_lang(client):
    chinese = client.get("/rewards/", headers={"Accept-Language": "zh-HK"}).get_data(as_text=True)
    english = client.get("/rewards/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in chinese
    assert '<html lang="en">' in english


def test_the_switch_remembers_the_choice_for_a_year_and_goes_back_to_the_page(client):
    response = client.post("/language", data={"lang": "zh_Hant_HK", "next": "/rewards/?x=1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/rewards/?x=1"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=zh_Hant_HK")
    assert "Max-Age=31536000" in cookie and "SameSite=Lax" in cookie
    # The cookie wins over the browser's Accept-Language from then on.
    page = client.get("/rewards/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "rewards", ""])
def test_the_switch_never_redirects_off_the_site(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.headers["Location"] == "/"


def test_the_switch_refuses_an_unknown_language_and_sets_no_cookie(client):
    response = client.post("/language", data={"lang": "fr", "next": "/rewards/"})
    assert response.status_code == 303
    assert "Set-Cookie" not in response.headers or "lang=" not in response.headers["Set-Cookie"]


def test_the_switch_is_in_both_headers_with_csrf(client):
    sign_in(client)
    for path in ("/", "/rewards/"):
        page = client.get(path).get_data(as_text=True)
        assert 'action="/language"' in page
        assert ">English</button>" in page and ">繁</button>" in page


def test_the_switch_form_carries_a_csrf_token_when_csrf_is_on(tmp_path):
    from .conftest import close_app, make_app

    app = make_app(f"sqlite:///{tmp_path / 'issuer.sqlite3'}", WTF_CSRF_ENABLED=True)
    try:
        client = app.test_client()
        page = client.get("/rewards/").get_data(as_text=True)
        assert 'name="csrf_token"' in page.split('action="/language"', 1)[1].split("</form>", 1)[0]
        # Without the token the switch is refused (the CSRF error page), never a silent cookie.
        assert client.post("/language", data={"lang": "zh_Hant_HK", "next": "/"}).status_code == 400
    finally:
        close_app(app)


@pytest.mark.parametrize(
    ("locale", "cents", "text"),
    [
        ("en", 123450, "HK$1,234.50"),
        ("zh_Hant_HK", 123450, "HK$1,234.50"),
        ("en", -5, "-HK$0.05"),
        ("en", 0, "HK$0.00"),
    ],
)
def test_money_is_formatted_by_babel_for_the_locale(app, locale, cents, text):
    with app.test_request_context(headers={"Accept-Language": locale.replace("_", "-")}):
        assert i18n.hkd(cents) == text
        assert i18n.points(1_234_567) == "1,234,567"


def test_times_read_as_each_language_writes_them(app):
    moment = datetime(2026, 12, 2, 18, 5, 9)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.when(moment) == "2026-12-02 18:05:09"
    with app.test_request_context(headers={"Accept-Language": "zh-HK"}):
        assert i18n.when(moment) == "2026年12月2日 18:05:09"
        assert i18n.day(moment) == "2026年12月2日"
        assert i18n.day(moment.date()) == "2026年12月2日"


def test_the_bank_site_in_chinese_texts_a_chinese_sign_in_code_and_speaks_chinese(client, app):
    from .rewards_support import latest_otp, outbox, page

    client.set_cookie("lang", "zh_Hant_HK")
    identify = page(client.get("/rewards/"))
    assert "以積分抵銷近期消費" in identify and "信用卡號碼最後四位數字" in identify
    refused = page(client.post("/rewards/", data={"last4": "12", "mobile": "9123 4567"}))
    assert "請輸入信用卡號碼最後的四位數字。" in refused
    response = client.post("/rewards/", data={"last4": "8741", "mobile": "9123 4567"})
    assert response.status_code == 302
    [sms] = outbox(app)
    assert sms.startswith("Summit Bank：你的一次性密碼為 ") and "登入 Summit Bank Rewards" in sms
    wrong = "000000" if latest_otp(app) != "000000" else "111111"
    assert "密碼不正確，尚餘 4 次機會。" in page(client.post("/rewards/verify", data={"code": wrong}))
    response = client.post("/rewards/verify", data={"code": latest_otp(app)})
    assert response.status_code == 302
    purchases = page(client.get("/rewards/purchases"))
    assert "你的近期消費" in purchases and "120,000 積分" in purchases
