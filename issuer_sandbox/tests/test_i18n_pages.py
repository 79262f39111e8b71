"""The main console and bank-site pages in Chinese show no English words but brand names, codes and data names."""

import re

import pytest

from .console_support import sign_in
from .rewards_support import latest_otp, pay

# Brand names and the switch's own "English" may stay; everything else left must be a code or a name in capitals.
BRANDS = (
    "Pay with Points",
    "Summit Premier Miles",
    "Summit Rewards",
    "Summit Bank",
    "Harbour Mall",
    "Summit",
    "Rewards",
)
BRANDS += ("Premier", "Luhn", "English")  # a programme's name, the checksum's; the switch's own "English"
BRANDS += ("harbour-mall", "uuid")  # the demo partner's client_id, a header's name
BRANDS += ("Citi", "OAuth", "Flask", "gunicorn", "nginx", "curl")  # the API's origin, a standard, software
ENDPOINT = re.compile(r"(?<![\w.])[a-z_]+\.[a-z_]+(?![\w.])")  # a Flask endpoint a fault targets: links.enroll
PATH = re.compile(r"(?<![\w/])/[\w{}.:/&;~-]*")  # API paths (/gcb/api/…, /openapi.json) stay as they are written
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z'’-]*")
CODE = re.compile(r"^(?:[A-Z0-9-]{2,}|[a-z]+(?:[A-Z][a-z0-9]*)+|[a-z]{1,2})$")  # VISA, UTC, HM-…; cardFrozen; 5G


def english_words(html: str) -> set[str]:
    """Words of the page a reader sees (text and the labels of controls) that are neither brands nor codes."""
    # code and pre: commands, paths, fields, logged bodies; mono (with its title): paths, references and keys as
    # they were sent.
    html = re.sub(r"<(script|style|code|pre)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<(span|dd|td) class="[^"]*mono[^"]*"[^>]*>.*?</\1>', " ", html, flags=re.S)
    # An SMS is shown as the bank sent it (the old flow's purchase SMS is English: see the README).
    html = re.sub(r'<p class="sms-body">.*?</p>', " ", html, flags=re.S)
    shown = " ".join(re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', html))
    text = re.sub(r"<[^>]+>", " ", html) + " " + shown
    text = text.replace("&#39;", "'").replace("&amp;", "&")
    text = ENDPOINT.sub(" ", PATH.sub(" ", text))
    for brand in BRANDS:
        text = text.replace(brand, " ")
    return {word for word in WORD.findall(text) if not CODE.match(word)}


@pytest.fixture
def chinese(client):
    client.set_cookie("lang", "zh_Hant_HK")
    return client


@pytest.mark.parametrize("path", ["/rewards/"])
def test_the_bank_sites_first_page_is_all_chinese(chinese, path):
    page = chinese.get(path).get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in page
    assert english_words(page) == set()


def test_every_step_of_the_bank_site_is_all_chinese(chinese, api, app):
    assert pay(api, app, reference="HM-000777")[0].status_code == 201
    identify = chinese.post("/rewards/", data={"last4": "8741", "mobile": ""}).get_data(as_text=True)
    assert english_words(identify) == set()  # with its validation messages
    chinese.post("/rewards/", data={"last4": "8741", "mobile": "9123 4567"})
    assert english_words(chinese.get("/rewards/verify").get_data(as_text=True)) == set()
    chinese.post("/rewards/verify", data={"code": latest_otp(app)})
    purchases = chinese.get("/rewards/purchases").get_data(as_text=True)
    assert "HK$520.00" in purchases
    assert english_words(purchases) == set()
    refused = chinese.post("/rewards/purchases", data={"points": "25000"}).get_data(as_text=True)
    assert "請選擇要回贈的消費。" in refused
    assert english_words(refused) == set()
    paid = pay(api, app, reference="HM-000778")[0].json["paymentId"]
    redeemed = chinese.post("/rewards/purchases", data={"purchase": paid, "points": "25000"})
    assert redeemed.status_code == 302 and "/rewards/redeemed/" in redeemed.location
    done = chinese.get(redeemed.location).get_data(as_text=True)
    assert "HK$100.00" in done
    assert english_words(done) == set()


def test_the_console_sign_in_page_is_all_chinese(chinese):
    assert english_words(chinese.get("/login").get_data(as_text=True)) == set()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/cards",
        "/phone",
        "/phone?phone=91234567",
        "/links",
        "/ledger",
        "/cardholders/new",
        "/cards/8741",
        "/requests",
        "/insights",
        "/controls",
        "/reference",
    ],
)
def test_the_main_console_pages_are_all_chinese(chinese, api, app, path):
    assert (
        pay(api, app, reference="HM-000777")[0].status_code == 201
    )  # a purchase, so pages with lists have something in them
    sign_in(chinese)
    response = chinese.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="zh-Hant-HK">' in page
    assert english_words(page) == set()


def test_the_console_error_page_is_all_chinese(chinese):
    response = chinese.get("/no-such-page")
    assert response.status_code == 404
    assert english_words(response.get_data(as_text=True)) == set()


def test_the_check_itself_finds_english(client):
    sign_in(client)
    assert {"Overview", "Sandbox"} <= english_words(client.get("/").get_data(as_text=True))


def test_console_flashes_are_in_chinese(chinese):
    sign_in(chinese)
    page = chinese.post("/cards/8741/freeze", follow_redirects=True).get_data(as_text=True)
    assert "尾號 8741 的信用卡已凍結。" in page
    page = chinese.post("/cards/8741/points", data={"delta": "x", "reason": ""}).get_data(as_text=True)
    assert "積分未有調整：請更正下方表格。" in page
    assert english_words(page) == set()


def test_a_wrong_console_password_is_refused_in_chinese(chinese):
    page = chinese.post("/login", data={"password": "wrong"}).get_data(as_text=True)
    assert "控制台密碼不正確。" in page
    assert english_words(page) == set()


def test_the_new_cardholder_forms_refusals_are_in_chinese(chinese):
    sign_in(chinese)
    data = {"name": "1", "mobile": "12", "programme": "", "points": "5", "credit_limit": "x"}
    response = chinese.post("/cardholders/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "未參加積分計劃的信用卡不可持有積分：請輸入 0。" in page
    assert english_words(page) == set()
    page = chinese.post("/cards/8741/points", data={"delta": "999999999", "reason": "x"}).get_data(as_text=True)
    assert "積分變動必須介乎 -100,000,000 至 100,000,000 之間。" in page
    assert english_words(page) == set()
