"""The console's programme insights: redemptions by channel and merchant, and each channel's uptake, exactly."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock
from issuer_sandbox.extensions import db
from issuer_sandbox.models import Payment, Redemption
from issuer_sandbox.programme_insights import (
    CSV_HEADER,
    ChannelTotals,
    DayRange,
    InvalidDayRange,
    Uptake,
    default_range,
    programme_insights,
)

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
        insights = programme_insights(default_range(clock.now()))
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
    assert response.status_code == 200 and "No redemptions in these days." in page(response)


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
        insights = programme_insights(default_range(clock.now()))
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


# --- The range of days ------------------------------------------------------------------------------


def backdate(app, reference: str, moment: datetime) -> None:
    """Move a purchase (and its redemption, if any) to ``moment``, as if made then."""
    with app.app_context():
        db.session.execute(sa.update(Payment).where(Payment.merchant_reference == reference).values(created_at=moment))
        db.session.execute(
            sa.update(Redemption).where(Redemption.transaction_reference == reference).values(created_at=moment)
        )
        db.session.commit()


def test_the_default_range_is_the_last_sixty_days_up_to_today_on_the_sandbox_clock():
    day_range = default_range(datetime(2026, 12, 2, 23, 59, 59))
    assert (day_range.first, day_range.last, day_range.days) == (date(2026, 10, 4), date(2026, 12, 2), 60)
    assert (day_range.since, day_range.until) == (datetime(2026, 10, 4), datetime(2026, 12, 3))


def test_a_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(InvalidDayRange, match="on or after the first day"):
        DayRange(date(2026, 11, 2), date(2026, 11, 1))


@pytest.fixture
def four_purchases_around_a_range(app, api):
    """Native purchases, each redeemed with 25,000 points (HK$100), at the edges of 2026-11-01..2026-11-30, and
    one more in the range that was not redeemed."""
    moments = {
        "before": datetime(2026, 10, 31, 23, 59, 59),
        "first": datetime(2026, 11, 1, 0, 0, 0),
        "last": datetime(2026, 11, 30, 23, 59, 59),
        "after": datetime(2026, 12, 1, 0, 0, 0),
    }
    for name, moment in moments.items():
        reference = f"HM-{name}"
        pay(api, app, flow="native", reference=reference)
        assert redeem_at_checkout(api, app, reference, 25000).status_code == 200
        backdate(app, reference, moment)
    pay(api, app, flow="native", reference="HM-skipped")
    backdate(app, "HM-skipped", datetime(2026, 11, 15, 12, 0))
    return moments


def test_every_figure_counts_only_the_range_and_both_of_its_edge_days(app, four_purchases_around_a_range):
    with app.app_context():
        insights = programme_insights(DayRange(date(2026, 11, 1), date(2026, 11, 30)))
    assert [(row.flow, row.eligible_purchases, row.redeemed, row.uptake_text) for row in insights.uptake] == [
        ("native", 3, 2, "66.7%"),
        ("legacy", 0, 0, "—"),
    ]
    assert insights.by_channel == [
        ChannelTotals("PARTNER_API", "", 2, 50000, 20000, 0),
        ChannelTotals("BANK_SITE", "", 0, 0, 0, 0),
    ]
    assert insights.by_merchant == [ChannelTotals("PARTNER_API", "Harbour Mall", 2, 50000, 20000, 0)]
    assert [(row.merchant_name, row.eligible_purchases, row.redeemed) for row in insights.uptake_by_merchant] == [
        ("Harbour Mall", 3, 2)
    ]


@pytest.mark.parametrize(
    ("first", "last", "purchases", "redemptions"),
    [
        (date(2026, 10, 31), date(2026, 10, 31), 1, 1),  # the day before: only its last second
        (date(2026, 11, 1), date(2026, 11, 1), 1, 1),  # one day: its first second counts
        (date(2026, 12, 1), date(2026, 12, 1), 1, 1),  # the day after: its first second
        (date(2026, 11, 2), date(2026, 11, 29), 1, 0),  # the inside days: the unredeemed purchase only
        (date(2026, 10, 31), date(2026, 12, 1), 5, 4),
    ],
)
def test_one_day_and_wider_ranges_count_exactly_their_own_purchases(
    app, four_purchases_around_a_range, first, last, purchases, redemptions
):
    with app.app_context():
        insights = programme_insights(DayRange(first, last))
    native = insights.uptake[0]
    assert (native.eligible_purchases, native.redeemed) == (purchases, redemptions)
    assert insights.by_channel[0].redemptions == redemptions


def test_an_empty_range_shows_zeros_and_the_friendly_empty_text(client, app, four_purchases_around_a_range):
    with app.app_context():
        insights = programme_insights(DayRange(date(2025, 1, 1), date(2025, 12, 31)))
    assert [(row.eligible_purchases, row.redeemed) for row in insights.uptake] == [(0, 0), (0, 0)]
    assert [row.redemptions for row in insights.by_channel] == [0, 0]
    assert insights.by_merchant == [] and insights.uptake_by_merchant == []
    console_sign_in(client)
    text = page(client.get("/insights?start=2025-01-01&end=2025-12-31"))
    assert "Figures for 2025-01-01 to 2025-12-31 (365 days" in text and "No redemptions in these days." in text


def test_the_page_shows_the_chosen_range_and_the_csv_carries_the_same_figures(
    client, app, four_purchases_around_a_range
):
    console_sign_in(client)
    response = client.get("/insights?start=2026-11-01&end=2026-11-30")
    assert response.status_code == 200
    text = page(response)
    assert 'value="2026-11-01"' in text and 'value="2026-11-30"' in text
    rows = table_rows(text)
    assert ["At checkout (partner API)", "native", "3", "2", "66.7%"] in rows
    assert ["At checkout (partner API)", "2", "50,000", "HK$200.00", "0"] in rows
    assert "/insights.csv?start=2026-11-01&amp;end=2026-11-30" in text

    exported = client.get("/insights.csv?start=2026-11-01&end=2026-11-30")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert 'filename="programme-insights-2026-11-01-to-2026-11-30.csv"' in exported.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(exported.get_data(as_text=True)))) == [
        CSV_HEADER,
        ["uptake", "PARTNER_API", "", "native", "3", "2", "66.7%", "", "", "", ""],
        ["uptake", "BANK_SITE", "", "legacy", "0", "0", "", "", "", "", ""],
        ["uptake_by_merchant", "PARTNER_API", "Harbour Mall", "native", "3", "2", "66.7%", "", "", "", ""],
        ["by_channel", "PARTNER_API", "", "", "", "", "", "2", "50000", "200.00", "0"],
        ["by_channel", "BANK_SITE", "", "", "", "", "", "0", "0", "0.00", "0"],
        ["by_merchant", "PARTNER_API", "Harbour Mall", "", "", "", "", "2", "50000", "200.00", "0"],
    ]


def test_the_page_defaults_to_the_last_sixty_days_of_the_sandbox_clock(client, app):
    with app.app_context():
        today = clock.now().date()
    console_sign_in(client)
    text = page(client.get("/insights"))
    first = (today - timedelta(days=59)).isoformat()
    assert f"Figures for {first} to {today.isoformat()} (60 days" in text
    assert f'value="{first}"' in text and f'value="{today.isoformat()}"' in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-11-31&end=2026-12-01", "2026-11-31 is not a date on the calendar."),
        ("start=1/11/2026&end=2026-12-01", "Enter the date as YYYY-MM-DD, for example 2026-10-03."),
        ("start=&end=2026-12-01", "Enter a date."),
        ("start=1999-12-31&end=2026-12-01", "Choose a day between 2000 and 2099."),
        ("start=2026-12-02&end=2026-12-01", "The last day must be on or after the first day."),
    ],
)
def test_bad_days_get_a_clear_error_and_no_figures(client, query, message):
    console_sign_in(client)
    for path in ("/insights", "/insights.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400 and response.mimetype == "text/html"
        text = page(response)
        assert message in text and "Fix the days above to see the figures." in text
        assert 'data-testid="uptake-table"' not in text
