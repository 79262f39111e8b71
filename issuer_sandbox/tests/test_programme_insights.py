"""The console's programme insights: redemptions by channel and merchant, and each channel's uptake, exactly."""

from __future__ import annotations

import re
from html import unescape

import pytest

from issuer_sandbox.programme_insights import ChannelTotals, Uptake, programme_insights

from .console_support import sign_in as console_sign_in
from .redemption_support import OTHER_CLIENT_ID, partner_api
from .rewards_support import DEBIT, LOW, OTHER_BANK, page, pay, redeem_at_checkout, sign_in


def table_rows(html: str) -> list[list[str]]:
    """Each table row's cells as text, as a reader without CSS or JavaScript gets them."""
    cells = r"<t[hd][^>]*>(.*?)</t[hd]>"
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(cells, row)]
        for row in re.findall(r"<tr>(.*?)</tr>", html)
    ]


@pytest.fixture
def api(app):
    return partner_api(app)


def test_an_empty_programme_shows_zeros_and_no_uptake(client, app):
    with app.app_context():
        insights = programme_insights()
    assert [(row.flow, row.eligible_purchases, row.redeemed, row.uptake_text) for row in insights.uptake] == [
        ("native", 0, 0, "—"),
        ("legacy", 0, 0, "—"),
    ]
    assert insights.by_channel == [
        ChannelTotals("PARTNER_API", "", 0, 0, 0, 0),
        ChannelTotals("BANK_SITE", "", 0, 0, 0, 0),
    ]
    assert insights.by_merchant == [] and insights.uptake_by_merchant == []
    console_sign_in(client)
    response = client.get("/insights")
    assert response.status_code == 200 and "No redemptions yet." in page(response)


@pytest.mark.parametrize(
    ("eligible", "redeemed", "text"),
    [(3, 1, "33.3%"), (3, 2, "66.7%"), (8, 1, "12.5%"), (2, 1, "50.0%"), (1, 1, "100.0%"), (7, 0, "0.0%")],
)
def test_uptake_is_rounded_half_up_to_a_tenth_of_a_percent(eligible, redeemed, text):
    assert Uptake("native", "", eligible, redeemed).uptake_text == text


def test_the_insights_count_each_door_over_the_eligible_purchases_of_its_flow(client, app, api):
    native = [pay(api, app, flow="native")[1]["merchantReference"] for _ in range(3)]
    legacy = [pay(api, app, amount=30000)[1] for _ in range(2)]
    pay(api, app, flow="native", number="4966010000005051", amount=20000)  # declined: not a purchase
    pay(api, app, flow="native", number=OTHER_BANK)  # another bank's card: not eligible
    pay(api, app, number=DEBIT)  # Summit debit card, no programme: not eligible
    assert redeem_at_checkout(api, app, native[0], 50000).status_code == 200  # HK$200.00
    sign_in(client, app)
    paid = client.get("/rewards/purchases")
    payment_id = re.search(
        rf'value="(PAY-[0-9A-F]+)"[^>]*>\s*<label[^>]*><span[^>]*>Harbour Mall {legacy[0]["merchantReference"]}',
        paid.get_data(True),
    )
    assert payment_id, "the legacy purchase is offered"
    assert client.post("/rewards/purchases", data={"purchase": payment_id.group(1), "points": 25000}).status_code == 302
    other = partner_api(app, OTHER_CLIENT_ID)
    pay(other, app, number=LOW, flow="native", amount=40000)  # another merchant's purchase, not redeemed

    with app.app_context():
        insights = programme_insights()
    assert [(row.flow, row.eligible_purchases, row.redeemed, row.uptake_text) for row in insights.uptake] == [
        ("native", 4, 1, "25.0%"),
        ("legacy", 2, 1, "50.0%"),
    ]
    assert insights.by_channel == [
        ChannelTotals("PARTNER_API", "", 1, 50000, 20000, 0),
        ChannelTotals("BANK_SITE", "", 1, 25000, 10000, 0),
    ]
    assert insights.by_merchant == [
        ChannelTotals("BANK_SITE", "Harbour Mall", 1, 25000, 10000, 0),
        ChannelTotals("PARTNER_API", "Harbour Mall", 1, 50000, 20000, 0),
    ]
    assert [
        (row.merchant_name, row.flow, row.eligible_purchases, row.redeemed) for row in insights.uptake_by_merchant
    ] == [
        ("Harbour Mall", "legacy", 2, 1),
        ("Harbour Mall", "native", 3, 1),
        ("Other Mall", "native", 1, 0),
    ]

    console_sign_in(client)
    text = page(client.get("/insights"))
    rows = table_rows(text)
    assert ["On the bank's site", "legacy", "2", "1", "50.0%"] in rows
    assert ["At checkout (partner API)", "1", "50,000", "HK$200.00", "0"] in rows
    assert ["Other Mall", "At checkout (partner API)", "1", "0", "0.0%"] in rows
    assert "Programme insights</a>" in text  # in the console's navigation
