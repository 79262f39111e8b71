"""The partner API in the cardholder's language: the OTP SMS and the error details follow Accept-Language."""

import re

import pytest
import sqlalchemy as sa

from issuer_sandbox import links, otp
from issuer_sandbox.api.error_details import DETAILS
from issuer_sandbox.api.errors import partner_error_codes
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RewardLink

from .test_links_otp import HAPPY, LINKAGE, SANDBOX, activate, advance

CHINESE = {"Accept-Language": "zh-HK"}
CHINESE_SMS = re.compile(
    r"Summit Bank：你的一次性密碼為 (\d{6})，用於將尾號 8741 的信用卡連結至 Harbour Mall。"
    r"5 分鐘內有效，切勿向任何人透露。"
)
ENGLISH_SMS = re.compile(r"Summit Bank: (\d{6}) is your one-time password to link your card ending 8741 ")


def outbox(client):
    return client.get("/sandbox/api/sms?phone=91234567", headers=SANDBOX).json


def link_language(app, code):
    with app.app_context():
        return db.session.scalar(sa.select(RewardLink.language).where(RewardLink.code == code))


def test_an_enrolment_in_chinese_texts_the_otp_in_chinese_and_the_sandbox_still_reads_the_code(api, client, app):
    response = api.post(LINKAGE, json=HAPPY, headers=CHINESE)
    assert response.status_code == 200
    [message] = outbox(client)
    match = CHINESE_SMS.fullmatch(message["body"])
    assert match, message["body"]
    assert message["otp"] == match.group(1)
    assert link_language(app, response.json["rewardLinkCode"]) == "zh_Hant_HK"
    # The code read from the Chinese SMS is the one that activates the link.
    assert activate(api, response.json["rewardLinkCode"], message["otp"]).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Accept-Language": "en"}, {"Accept-Language": "fr-FR"}])
def test_an_enrolment_without_chinese_texts_the_otp_in_english(api, client, app, headers):
    response = api.post(LINKAGE, json=HAPPY, headers=headers)
    assert response.status_code == 200
    [message] = outbox(client)
    assert ENGLISH_SMS.match(message["body"]), message["body"]
    assert link_language(app, response.json["rewardLinkCode"]) == "en"


def test_a_resend_follows_the_links_language_unless_it_asks_for_another(api, client, app):
    code = api.post(LINKAGE, json=HAPPY, headers=CHINESE).json["rewardLinkCode"]
    advance(client, 30)
    assert api.post(f"/v1/apac/rewards/{code}/activations/otp").status_code == 202
    assert CHINESE_SMS.fullmatch(outbox(client)[0]["body"])
    advance(client, 30)
    assert api.post(f"/v1/apac/rewards/{code}/activations/otp", headers={"Accept-Language": "en"}).status_code == 202
    assert ENGLISH_SMS.match(outbox(client)[0]["body"])
    assert link_language(app, code) == "en"


def test_the_chinese_otp_is_masked_like_the_english_one():
    text = links.otp_sms_text("Summit Bank", "012345", "8741", "Harbour Mall", 300, "zh_Hant_HK")
    assert otp.otp_in_sms(text) == "012345"
    masked = otp.OTP_IN_SMS.sub("******", text)
    assert "012345" not in masked and "8741" in masked


def test_a_validity_in_seconds_reads_in_chinese():
    text = links.site_sign_in_sms_text("Summit Bank", "654321", "8741", 90, "zh_Hant_HK")
    assert "90 秒內有效" in text and "登入 Summit Bank Rewards" in text
    assert otp.otp_in_sms(text) == "654321"


def test_error_details_follow_accept_language_and_the_code_never_changes(api):
    body = {**HAPPY, "lastFourDigitsCardNumber": "0000"}
    english = api.post(LINKAGE, json=body)
    chinese = api.post(LINKAGE, json=body, headers=CHINESE)
    assert english.status_code == chinese.status_code == 404
    assert english.json["code"] == chinese.json["code"] == "accountNotFound"
    assert english.json["type"] == chinese.json["type"] == "error"
    assert chinese.json["details"] == "找不到與此卡號末四位數字及手提電話號碼相符的 Summit Bank 信用卡。"
    assert "Summit card" in english.json["details"] or "card" in english.json["details"]


def test_a_malformed_request_keeps_its_code_and_field_in_chinese(api):
    response = api.post(LINKAGE, json={**HAPPY, "citiCardHolderPhoneNumber": ""}, headers=CHINESE)
    assert response.status_code == 400
    assert response.json["type"] == "invalid" and response.json["code"] == "invalidRequest"
    assert response.json["details"] == "請求無效：欄位、標頭或內容缺漏或格式不正確。"


def test_the_token_calls_oauth_description_is_in_chinese_too(client):
    response = client.post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "password", "scope": "/api"},
        headers={"Accept-Language": "zh-Hant", "Authorization": "Basic aGFyYm91ci1tYWxsOmhhcmJvdXItbWFsbC1zZWNyZXQ="},
    )
    assert response.status_code == 400
    assert response.json["code"] == "unsupportedGrantType" and response.json["error"] == "unsupported_grant_type"
    assert response.json["details"] == response.json["error_description"] == "只支援 client_credentials 授權類型。"


def test_every_code_the_partner_api_answers_has_a_chinese_sentence(app):
    missing = {code for _status, code in partner_error_codes()} - set(DETAILS)
    assert not missing
    with app.test_request_context(headers=CHINESE):
        for code, sentence in DETAILS.items():
            text = str(sentence)
            assert re.search(r"[\u4e00-\u9fff]", text), (code, text)


def test_the_openapi_document_lists_accept_language_on_enrol_and_resend(client):
    document = client.get("/openapi.json").json
    header = {"$ref": "#/components/parameters/AcceptLanguage"}
    paths = document["paths"]
    enrol = next(v["post"] for k, v in paths.items() if k.endswith("/linkage"))
    resend = next(v["post"] for k, v in paths.items() if k.endswith("/activations/otp"))
    assert header in enrol["parameters"] and header in resend["parameters"]
    assert document["components"]["parameters"]["AcceptLanguage"]["name"] == "Accept-Language"
