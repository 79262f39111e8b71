"""The console's own words in Chinese: the API reference, fault targets, control errors and stored descriptions."""

import re

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, controls, i18n
from issuer_sandbox.api.openapi import openapi_document
from issuer_sandbox.console import reference
from issuer_sandbox.console.controls import endpoint_choices, endpoint_label, operation_summaries
from issuer_sandbox.console.requests import fault_label
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RewardLink

from .console_support import sign_in
from .rewards_support import pay, redeem_at_checkout
from .rewards_support import sign_in as site_sign_in
from .test_i18n_pages import english_words

CHINESE = {"Accept-Language": "zh-HK"}


@pytest.fixture
def chinese(client):
    client.set_cookie("lang", "zh_Hant_HK")
    sign_in(client)
    return client


def _document_sentences(document) -> set[str]:
    """Every text of the partner document the reference page shows (titles, summaries, descriptions, tags)."""
    found = {document["info"]["title"], document["info"]["description"]}
    for operation in reference.operations(document, "http://sandbox"):
        found |= {operation.summary, operation.description, operation.tag}
        found |= {parameter.description for parameter in operation.parameters}
        found |= {response.description for response in operation.responses}
        found |= {when for _status, _code, when in operation.error_codes}
    return {text for text in found if text}


def test_every_sentence_of_the_openapi_document_has_a_chinese_translation(app):
    with app.test_request_context("/reference", headers=CHINESE):
        sentences = _document_sentences(openapi_document())
        untranslated = {text for text in sentences if reference.document_text(text) == text}
    assert len(sentences) > 100
    assert not untranslated, f"add these to console/reference_text.py and the catalogue: {untranslated}"


def test_document_text_keeps_codes_and_paths_and_translates_each_part(app):
    alias = "Alias of `/gcb/api/v1/apac/rewards/linkage`, kept for clients written before the `/gcb/api` base path."
    codes = (
        "`invalidToken`: The bearer token is missing, unknown or expired.; "
        "`invalidClient`: The client_id header is missing or does not match the token."
    )
    with app.test_request_context("/reference", headers=CHINESE):
        assert reference.document_text(alias) == (
            "`/gcb/api/v1/apac/rewards/linkage` 的別名，為採用 `/gcb/api` 基本路徑之前編寫的用戶端而保留。"
        )
        assert reference.document_text(codes) == (
            "`invalidToken`：`Bearer` 權杖缺失、不明或已失效。；`invalidClient`：`client_id` 標頭缺失或與權杖不符。"
        )
    with app.test_request_context("/reference"):
        assert reference.document_text(codes) == codes


def test_the_reference_page_in_chinese_has_chinese_headings_and_keeps_paths_and_codes(chinese):
    page = chinese.get("/reference").get_data(as_text=True)
    for heading in (
        '<h2 id="toc-title">目錄</h2>',
        "入門",
        "測試信用卡",
        "<h4>參數</h4>",
        "<h4>回應</h4>",
        "<h4>錯誤代碼</h4>",
        "以 curl 試用",
    ):
        assert heading in page
    assert '<span class="mono">/gcb/api/v1/apac/rewards/linkage</span>' in page
    assert "<code>insufficientCredit</code>" in page
    assert 'data-copied="已複製"' in page
    assert "其他銀行的信用卡：可付款，不提供積分優惠" in page


def test_the_reference_page_in_english_is_unchanged_in_its_words(client):
    sign_in(client)
    page = client.get("/reference").get_data(as_text=True)
    assert '<h2 id="toc-title">Contents</h2>' in page
    assert "Enrol a card for Pay with Points (sends an OTP by SMS)" in page
    assert "another bank&#39;s card: pays, no points offer" in page


def test_every_faultable_endpoint_is_labelled_with_what_it_does(app):
    with app.test_request_context("/controls", headers=CHINESE):
        summaries = operation_summaries()
        labels = [endpoint_label(endpoint, summaries) for endpoint in endpoint_choices()]
    assert labels and all(" — " in label for label in labels), labels
    assert (
        "兌換積分，作為信用卡消費的月結單回贈 — POST /gcb/api/v1/apac/rewards/<reward_link_code>/redemption" in labels
    )


def test_the_controls_page_offers_endpoints_in_chinese(chinese):
    page = chinese.get("/controls").get_data(as_text=True)
    assert ">核對一次性密碼並啟用連結 — PUT /gcb/api/v1/apac/rewards/&lt;string:code&gt;/activations</option>" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"minutes": "999999999"}, "分鐘必須介乎 1 至 527,040 之間。"),
        ({"minutes": "0"}, "分鐘必須介乎 1 至 527,040 之間。"),
    ],
)
def test_a_range_message_is_in_chinese_with_the_locales_numbers(chinese, data, message):
    page = chinese.post("/controls/clock", data=data).get_data(as_text=True)
    assert message in page


def test_a_range_message_in_english_names_the_field(client):
    sign_in(client)
    page = client.post("/controls/faults", data={"endpoint": "redemptions.redeem", "error_status": "300"})
    assert "The forced status must be between 400 and 599." in page.get_data(as_text=True)


def test_a_control_refusal_is_shown_in_chinese_and_stays_english_for_the_api(chinese, app):
    page = chinese.post("/cards/8741/points", data={"delta": "-99999999", "reason": "test"}).get_data(as_text=True)
    assert "尾號 8741 的信用卡沒有 99,999,999 積分。" in page
    with app.test_request_context("/v1/x", headers=CHINESE):
        with pytest.raises(controls.PointsShortfall) as refused:
            controls.adjust_points(controls.find_card("8741"), -99_999_999, "test", clock.now())
    assert str(refused.value) == refused.value.details == "Card ending 8741 does not hold 99,999,999 points."


def test_a_control_error_is_english_in_an_english_request_and_chinese_in_a_chinese_one(app):
    for headers, shown in (
        ({"Accept-Language": "en"}, "Unknown endpoint 'nope': pick one of the partner API or gateway endpoints."),
        (CHINESE, "不明的端點 'nope'：請選擇合作夥伴 API 或收款閘道的其中一個端點。"),
    ):
        with app.test_request_context("/controls", headers=headers):
            with pytest.raises(controls.InvalidControl) as refused:
                controls.validate_fault(controls.FaultSpec(endpoint="nope"), ["x.y"])
            assert refused.value.shown() == shown
        assert str(refused.value) == "Unknown endpoint 'nope': pick one of the partner API or gateway endpoints."


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("Opening points balance", "開戶積分結餘"),
        ("Adjustment: goodwill", "調整：goodwill"),
        ("Harbour Mall order HM-000123", "Harbour Mall 訂單 HM-000123"),
        ("Pay with Points RDM-1A: Harbour Mall order HM-000123", "Pay with Points RDM-1A：Harbour Mall 訂單 HM-000123"),
        ("Pay with Points credit: Harbour Mall order HM-000123", "Pay with Points 回贈：Harbour Mall 訂單 HM-000123"),
        ("Rewards site credit: Harbour Mall HM-000777", "積分網站回贈：Harbour Mall HM-000777"),
        ("Pay with Points reversal of RDM-1A", "Pay with Points 撤銷兌換 RDM-1A"),
        (
            "Pay with Points credit reversed: Harbour Mall order HM-000123",
            "Pay with Points 回贈已撤銷：Harbour Mall 訂單 HM-000123",
        ),
        ("Harbour Mall HM-000777 refund", "Harbour Mall HM-000777 退款"),
        ("A tester's own words", "A tester's own words"),
    ],
)
def test_stored_descriptions_are_shown_in_chinese(app, stored, shown):
    with app.test_request_context("/", headers=CHINESE):
        assert i18n.description(stored) == shown
    with app.test_request_context("/"):
        assert i18n.description(stored) == stored


def test_the_card_page_shows_the_ledger_and_statement_in_chinese(chinese, api, app):
    assert redeem_at_checkout(api, app, "HM-000901", 25000).status_code == 200
    page = chinese.get("/cards/8741").get_data(as_text=True)
    assert "開戶積分結餘" in page
    assert "Pay with Points 回贈：x" in page
    assert "Opening points balance" not in page and "credit:" not in page


def test_a_fault_rule_is_described_in_chinese_on_the_controls_page(chinese):
    data = {"endpoint": "redemptions.redeem", "latency_ms": "1500", "drop_response": "y"}
    page = chinese.post("/controls/faults", data=data, follow_redirects=True).get_data(as_text=True)
    assert "先完成交易，再丟棄回應；+1500 毫秒；直至移除" in page
    data = {"endpoint": "links.enroll", "error_status": "503", "error_code": "serviceUnavailable", "fail_times": "2"}
    page = chinese.post("/controls/faults", data=data, follow_redirects=True).get_data(as_text=True)
    assert "HTTP 503 serviceUnavailable；之後 2 次呼叫" in page
    assert english_words(page) == set()


def test_the_sandbox_api_describes_a_fault_rule_in_english(app):
    with app.test_request_context("/sandbox/api/faults", headers=CHINESE), app.app_context():
        rule = controls.create_fault(
            controls.FaultSpec(endpoint="x.y", error_status=503, error_code="serviceUnavailable", fail_times=2),
            ["x.y"],
            clock.now(),
        )
        assert controls.describe_fault(rule) == "HTTP 503 serviceUnavailable; next 2 calls"


def test_the_request_log_names_an_injected_fault_in_chinese(chinese, api):
    data = {"endpoint": "links.enroll", "error_status": "503", "error_code": "serviceUnavailable", "fail_times": "1"}
    chinese.post("/controls/faults", data=data)
    enrol = {"lastFourDigitsCardNumber": "8741", "citiCardHolderPhoneNumber": "91234567"}
    assert api.post("/v1/apac/rewards/linkage", json={**enrol, "merchantCustomerReferenceId": "C-9"}).status_code == 503
    page = chinese.get("/requests").get_data(as_text=True)
    assert "故障：錯誤 503 serviceUnavailable" in page
    assert english_words(page) == set()


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("error 503 serviceUnavailable", "錯誤 503 serviceUnavailable"),
        ("latency 1500 ms, drop after commit", "延遲 1500 毫秒、交易完成後丟棄回應"),
        ("error 500", "錯誤 500"),
    ],
)
def test_stored_fault_labels_are_shown_in_chinese(app, stored, shown):
    with app.test_request_context("/requests", headers=CHINESE):
        assert fault_label(stored) == shown
    with app.test_request_context("/requests"):
        assert fault_label(stored) == stored


def test_the_bank_sites_own_links_and_an_unlinked_date_are_shown_in_chinese(client, api, app):
    assert pay(api, app, reference="HM-000777")[0].status_code == 201
    client.set_cookie("lang", "zh_Hant_HK")
    site_sign_in(client, app)  # the bank's site links the card for its own partner, "Rewards site"
    sign_in(client)
    enrol = {"lastFourDigitsCardNumber": "8741", "citiCardHolderPhoneNumber": "91234567"}
    assert api.post("/v1/apac/rewards/linkage", json={**enrol, "merchantCustomerReferenceId": "C-9"}).status_code == 200
    with app.app_context():  # a pending link, never activated (its id: PostgreSQL's sequences are not reset)
        pending = db.session.scalar(sa.select(RewardLink.id).where(RewardLink.merchant_customer_reference == "C-9"))
    client.post(f"/links/{pending}/unlink", follow_redirects=True)

    page = client.get("/links").get_data(as_text=True)
    assert re.search(r'<h2 id="customer-\d">積分網站 · 客戶', page)
    assert re.search(r"已於 <time [^>]+>\d{4}年\d{1,2}月\d{1,2}日 [0-9:]{8}</time> 解除連結", page)
    assert english_words(page) == set()
