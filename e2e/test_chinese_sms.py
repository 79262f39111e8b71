"""The bank's SMS in the cardholder's language, over real HTTP: an enrolment with Accept-Language: zh-HK texts
the OTP in Traditional Chinese, the sandbox's SMS outbox still reads the code out of it, and that code activates
the link; the error details of the same caller are Chinese while the code stays the same."""

from __future__ import annotations

import re

from .sandbox_api import PartnerApi, SandboxApi

HAPPY_CARD = "8741"
HAPPY_PHONE = "91234567"
REWARDS = "/gcb/api/v1/apac/rewards"
CHINESE = {"Accept-Language": "zh-HK"}


def test_a_chinese_enrolment_texts_a_chinese_otp_the_sandbox_reads_and_the_link_activates_with(
    partner: PartnerApi, sandbox: SandboxApi
):
    enrol = partner.post(
        f"{REWARDS}/linkage",
        json={
            "lastFourDigitsCardNumber": HAPPY_CARD,
            "citiCardHolderPhoneNumber": HAPPY_PHONE,
            "merchantCustomerReferenceId": "C-ZH-1",
        },
        headers=CHINESE,
    )
    assert enrol.status_code == 200, enrol.text
    link = enrol.json()["rewardLinkCode"]

    code = sandbox.wait_for_otp(link_code=link)
    [message] = sandbox.sms(link_code=link)
    assert re.fullmatch(
        r"Summit Bank：你的一次性密碼為 \d{6}，用於將尾號 8741 的信用卡連結至 Harbour Mall。"
        r"5 分鐘內有效，切勿向任何人透露。",
        message["body"],
    ), message["body"]
    assert code in message["body"]

    wrong = partner.put(
        f"{REWARDS}/{link}/activations",
        json={"linkageConfirmationCode": "000000" if code != "000000" else "111111"},
        headers=CHINESE,
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "invalidLinkageConfirmationCode"
    assert wrong.json()["details"] == "一次性密碼不正確。"

    activate = partner.put(f"{REWARDS}/{link}/activations", json={"linkageConfirmationCode": code})
    assert activate.status_code == 200, activate.text
