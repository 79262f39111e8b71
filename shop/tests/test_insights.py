"""The insights figures on hand-built journeys with exact expected numbers, the page, its access, the CSVs."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from shop.checkout.events import record_event
from shop.extensions import db
from shop.insights import queries
from shop.insights.queries import InsightsFilter
from shop.models import CardLink, Order, User

from .conftest import make_app
from .support import on_both_databases

NOVEMBER = InsightsFilter(start=date(2026, 11, 1), end=date(2026, 11, 30))
DAY_ONE = datetime(2026, 11, 10, 2, 0)  # 10:00 in Hong Kong
DAY_TWO = datetime(2026, 11, 12, 3, 0)
_references = itertools.count(1)


def shopper(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=email.split("@")[0], password_hash="x", created_at=DAY_ONE)
        db.session.add(user)
        db.session.flush()
    return user


def journey(user: User, paid_at: datetime, steps: list[tuple], *, total_cents: int = 10_000, **order_fields) -> Order:
    """An order paid by a points card at ``paid_at`` with its events: (kind, seconds after payment[, code])."""
    order = Order(
        reference=f"HM-T{next(_references):05d}",
        user_id=user.id,
        status=order_fields.pop("status", "PAID"),
        subtotal_cents=total_cents,
        delivery_fee_cents=0,
        total_cents=total_cents,
        recipient_name=user.name,
        recipient_phone="91234567",
        address_line="1 Harbour Road",
        district="Wan Chai",
        card_last4=order_fields.pop("card_last4", "8741"),
        card_brand="Summit",
        card_issued_by_summit=True,
        card_points_eligible=True,
        created_at=paid_at,
        paid_at=paid_at,
        **order_fields,
    )
    db.session.add(order)
    db.session.flush()
    for kind, *rest in [("card_paid_eligible", 0), *steps]:
        seconds, code = rest[0], (rest[1] if len(rest) > 1 else "")
        record_event(order, kind, code, at=paid_at + timedelta(seconds=seconds))
        db.session.flush()  # ids follow the order of the steps
    return order


def build_november() -> None:
    """Six counted journeys, one cancelled, one outside the range (see each comment)."""
    chan, wong = shopper("chan.taiman@example.com"), shopper("wong.siuming@example.com")
    third, fourth = shopper("third@example.com"), shopper("fourth@example.com")
    # A: new shopper who mistyped the OTP, asked again, verified and redeemed.
    journey(
        chan,
        DAY_ONE,
        [
            ("offer_shown", 10),
            ("code_sent", 40),
            ("failed", 70, "invalidLinkageConfirmationCode"),
            ("code_sent", 100),
            ("verified", 130),
            ("points_redeemed", 190),
        ],
        total_cents=52_000,
        points_used=50_000,
        statement_credit_cents=20_000,
        status="POINTS_APPLIED",
    )
    db.session.add(
        CardLink(
            user_id=chan.id,
            card_last4="8741",
            reward_link_code="RL-1",
            status="ACTIVE",
            created_at=DAY_ONE,
            activated_at=DAY_ONE + timedelta(seconds=130),
        )
    )
    # B: saw the offer and skipped it.
    journey(wong, DAY_ONE, [("offer_shown", 20), ("skipped", 50)], total_cents=30_000, card_last4="0102")
    # C: asked for the code and left.
    journey(third, DAY_ONE, [("offer_shown", 5), ("code_sent", 35)], total_cents=10_000, card_last4="1190")
    # D: chan again, two days later: card already linked, no OTP, redeemed.
    journey(
        chan,
        DAY_TWO,
        [("offer_shown", 8), ("points_redeemed", 68)],
        total_cents=40_000,
        points_used=25_000,
        statement_credit_cents=10_000,
        status="POINTS_APPLIED",
    )
    # E: redeemed, then cancelled in full: left out of every figure.
    journey(
        third,
        DAY_ONE,
        [("offer_shown", 5), ("points_redeemed", 30)],
        card_last4="1190",
        points_used=5_000,
        points_reversed=5_000,
        statement_credit_cents=2_000,
        credit_reversed_cents=2_000,
        status="CANCELLED",
    )
    # F: a simulated journey in the legacy flow: the shop offers nothing.
    journey(fourth, DAY_ONE, [], total_cents=20_000, card_last4="5051", pwp_flow="legacy", simulated=True)
    # G: the link locked after too many wrong codes and the shopper gave up.
    journey(
        fourth,
        DAY_ONE,
        [("offer_shown", 12), ("code_sent", 30), ("failed", 90, "maxAttemptsExceeded")],
        total_cents=15_000,
        card_last4="5051",
    )
    # H: October: outside the range.
    journey(wong, datetime(2026, 10, 15, 2, 0), [("offer_shown", 1), ("points_redeemed", 2)], card_last4="0102")
    db.session.commit()


@on_both_databases
def test_every_kpi_on_hand_built_journeys(ctx):
    build_november()
    kpis = queries.insights(NOVEMBER).kpis

    assert (kpis.purchases, kpis.redeemed) == (6, 2)
    assert kpis.uptake.percent_text == "33.3%"
    assert (kpis.points_redeemed, kpis.credit_cents) == (75_000, 30_000)
    assert kpis.average_basket_with_points_cents == 46_000  # (520 + 400) / 2
    assert kpis.average_basket_without_points_cents == 18_750  # (300 + 100 + 200 + 150) / 4
    assert (kpis.shoppers, kpis.repeat_shoppers) == (4, 2)  # chan (A, D) and fourth (F, G) bought again
    assert kpis.repeat_share.percent_text == "50.0%"
    assert (kpis.simulated, kpis.simulated_hidden, kpis.cancelled_left_out) == (1, 0, 1)


@on_both_databases
def test_every_funnel_figure_on_hand_built_journeys(ctx):
    build_november()
    funnel = queries.insights(NOVEMBER).funnel
    counts = {step.key: (step.count, step.returning, step.dropped) for step in funnel.steps}

    assert counts == {
        "paid": (6, 0, None),
        "offer_shown": (5, 1, 1),  # F (legacy) never saw an offer
        "code_sent": (3, 0, 1),  # of the 4 new shoppers at the offer, B skipped; D was already linked
        "linked": (2, 1, 2),  # A verified, D already linked; C and G did not verify
        "points_redeemed": (2, 1, 0),
    }
    timings = {
        step.key: (step.timing.journeys, step.timing.median_seconds, step.timing.p90_seconds) for step in funnel.steps
    }
    assert timings == {
        "paid": (5, 10, 20),  # 5, 8, 10, 12, 20 s to the offer
        "offer_shown": (3, 30, 30),  # 18, 30, 30 s to the first code
        "code_sent": (1, 90, 90),  # A: first code to verified, the retry included
        "linked": (1, 60, 60),  # A: verified to redeemed
        "points_redeemed": (0, None, None),
    }
    assert (funnel.returning_reached, funnel.returning_redeemed) == (1, 1)
    assert (funnel.returning_timing.median_seconds, funnel.returning_timing.p90_seconds) == (60, 60)
    assert funnel.otp_retries == 1
    assert funnel.failures == [("maxAttemptsExceeded", 1)]  # A's wrong code did not end its journey


@on_both_databases
def test_uptake_per_day_uses_hong_kong_days(ctx):
    build_november()
    days = [(entry.day, entry.purchases, entry.redeemed) for entry in queries.insights(NOVEMBER).days]
    assert days == [(date(2026, 11, 10), 5, 1), (date(2026, 11, 12), 1, 1)]


def test_a_purchase_is_counted_on_its_hong_kong_day(ctx):
    user = shopper("late@example.com")
    journey(user, datetime(2026, 10, 31, 16, 30), [])  # 00:30 on 1 November in Hong Kong
    journey(user, datetime(2026, 11, 30, 16, 30), [])  # 00:30 on 1 December in Hong Kong
    db.session.commit()
    report = queries.insights(NOVEMBER)
    assert report.kpis.purchases == 1
    assert [entry.day for entry in report.days] == [date(2026, 11, 1)]


def test_hiding_simulated_journeys_leaves_them_out_and_counts_them(ctx):
    build_november()
    kpis = queries.insights(InsightsFilter(NOVEMBER.start, NOVEMBER.end, hide_simulated=True)).kpis
    assert (kpis.purchases, kpis.simulated, kpis.simulated_hidden) == (5, 0, 1)
    assert kpis.uptake.percent_text == "40.0%"


@pytest.mark.parametrize(("flow", "purchases", "redeemed"), [("native", 5, 2), ("legacy", 1, 0), ("all", 6, 2)])
def test_the_flow_filter_counts_only_that_flows_journeys(ctx, flow, purchases, redeemed):
    build_november()
    kpis = queries.insights(InsightsFilter(NOVEMBER.start, NOVEMBER.end, flow=flow)).kpis
    assert (kpis.purchases, kpis.redeemed) == (purchases, redeemed)


@on_both_databases
def test_an_empty_range_has_zero_counts_and_no_percentages(ctx):
    build_november()
    report = queries.insights(InsightsFilter(date(2025, 1, 1), date(2025, 1, 31)))
    assert report.is_empty
    assert report.kpis.uptake.percent_text == "—"
    assert report.kpis.average_basket_with_points_cents is None
    assert [step.count for step in report.funnel.steps] == [0, 0, 0, 0, 0]
    assert report.funnel.step("paid").timing.median_seconds is None
    assert report.days == [] and report.funnel.failures == []


def _temporary_journey_tables() -> int:
    if db.engine.dialect.name == "sqlite":
        sql = "SELECT count(*) FROM sqlite_temp_master WHERE name = 'insights_journeys'"
    else:
        sql = "SELECT count(*) FROM pg_class WHERE relname = 'insights_journeys' AND relpersistence = 't'"
    return db.session.scalar(sa.text(sql))


@on_both_databases
def test_a_page_folds_the_journeys_into_a_temporary_table_it_drops_and_the_next_page_reads_fresh_data(ctx):
    build_november()
    assert queries.insights(NOVEMBER).kpis.purchases == 6
    assert _temporary_journey_tables() == 0  # dropped inside the page's own transaction
    wong = shopper("wong.siuming@example.com")
    journey(wong, DAY_TWO, [("offer_shown", 3), ("skipped", 9)], card_last4="0102")
    db.session.commit()
    kpis = queries.insights(NOVEMBER).kpis  # the same connection: a fresh fold, not the last page's rows
    assert (kpis.purchases, kpis.redeemed) == (7, 2)


@on_both_databases
def test_a_failed_page_leaves_no_temporary_table_behind(ctx, monkeypatch):
    build_november()

    def broken(_journeys):
        raise RuntimeError("a figure failed")

    monkeypatch.setattr(queries, "_failures", broken)
    with pytest.raises(RuntimeError):
        queries.insights(NOVEMBER)
    db.session.rollback()  # what the request's teardown does
    assert _temporary_journey_tables() == 0
    monkeypatch.undo()
    assert queries.insights(NOVEMBER).kpis.purchases == 6


@pytest.mark.sqlite_only(reason="SQLite's write lock, probed with sqlite3 on the app's file")
def test_the_insights_read_takes_no_write_lock_on_sqlite(app, tmp_path):
    """The temporary table lives outside the database file: the page reads while a writer holds the lock."""
    import sqlite3

    from shop.database import reading

    with app.app_context():
        build_november()
        path = db.engine.url.database
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    try:
        with app.app_context(), reading():
            db.session.execute(sa.text("PRAGMA busy_timeout=0"))
            assert queries.insights(NOVEMBER).kpis.purchases == 6
            db.session.rollback()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@on_both_databases
def test_journey_rows_give_each_outcome_and_the_code_that_ended_it(ctx):
    build_november()
    rows = [tuple(row) for row in queries.journey_rows(NOVEMBER)]
    outcomes = [(row[0][-1:], row[11], row[12]) for row in rows]
    assert sorted(outcome[1:] for outcome in outcomes) == sorted(
        [
            ("redeemed", ""),
            ("skipped", ""),
            ("abandoned", ""),
            ("redeemed", ""),
            ("not_offered", ""),
            ("failed", "maxAttemptsExceeded"),
        ]
    )


# --- The page, its access and the CSVs ------------------------------------------------------------------


def sign_in(client, email: str) -> None:
    response = client.post("/account/sign-in", data={"email": email, "password": "demo1234"})
    assert response.status_code == 302


STAFF = "ops@harbourmall.example"
NOVEMBER_ARGS = "?start=2026-11-01&end=2026-11-30&flow=all"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/insights")
    assert response.status_code == 302
    assert "/account/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/insights", "/insights/kpis.csv", "/insights/journeys.csv"])
def test_shoppers_get_a_friendly_403(client, path):
    sign_in(client, "chan.taiman@example.com")
    response = client.get(path)
    assert response.status_code == 403
    assert "Insights are for shop staff" in response.get_data(as_text=True)


def test_the_seeded_staff_login_opens_an_empty_friendly_page(client):
    sign_in(client, STAFF)
    response = client.get("/insights")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No purchases with a points card in this range yet" in page
    assert response.headers["Cache-Control"] == "no-store"


def test_the_header_greets_the_staff_login_by_its_mailbox_and_a_shopper_by_first_name(app, client):
    sign_in(client, STAFF)
    page = client.get("/insights").get_data(as_text=True)
    assert "Hi, Ops" in page and "Hi, Harbour" not in page
    shopper_client = app.test_client()
    sign_in(shopper_client, "chan.taiman@example.com")
    assert "Hi, Chan" in shopper_client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "email", "is_staff", "greeting"),
    [
        ("Harbour Mall Ops", "ops@harbourmall.example", True, "Ops"),
        ("Harbour Mall", "night_shift.desk@harbourmall.example", True, "Night Shift Desk"),
        ("Chan Tai Man", "chan.taiman@example.com", False, "Chan"),
        ("   ", "lee-ka.yan@example.com", False, "Lee Ka Yan"),
    ],
)
def test_greeting_names(name, email, is_staff, greeting):
    assert User(name=name, email=email, is_staff=is_staff).greeting_name == greeting


def test_demo_info_lists_the_staff_login(runner):
    output = runner.invoke(args=["demo-info"]).output
    assert "ops@harbourmall.example" in output and "shop staff" in output


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?start=2026-13-01&end=2026-11-30", "2026-13-01 is not a date on the calendar."),
        ("?start=yesterday&end=2026-11-30", "Enter the date as YYYY-MM-DD"),
        ("?start=2026-11-30&end=2026-11-01", "The last day must be on or after the first day."),
        ("?start=2024-01-01&end=2026-11-30", "Choose at most 366 days."),
        ("?start=&end=2026-11-30", "Enter a date."),
        ("?start=２０２６-11-01&end=2026-11-30", "Enter the date as YYYY-MM-DD"),
        ("?start=2026-11-01&end=2026-11-30&flow=both", "Not a valid choice"),
    ],
)
def test_bad_filters_get_a_clear_message_and_no_figures(client, query, message):
    sign_in(client, STAFF)
    response = client.get(f"/insights{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    assert "Headline figures" not in page


def test_the_page_shows_the_figures_and_the_simulated_count(app, client):
    with app.app_context():
        build_november()
    sign_in(client, STAFF)
    page = client.get(f"/insights{NOVEMBER_ARGS}").get_data(as_text=True)
    assert "33.3%" in page and "2 of 6 purchases redeemed points" in page
    assert "1 of the shown journeys is simulated." in page
    assert "1 purchase cancelled in full is left out of every figure." in page
    assert "<code>maxAttemptsExceeded</code>" in page
    assert "<svg" in page and "<script" not in page.split("<main", 1)[-1]


def _csv(client, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_csvs_match_the_page(app, client):
    with app.app_context():
        build_november()
        report = queries.insights(NOVEMBER)
    sign_in(client, STAFF)
    page = client.get(f"/insights{NOVEMBER_ARGS}").get_data(as_text=True)
    figures = dict(_csv(client, f"/insights/kpis.csv{NOVEMBER_ARGS}")[1:])
    journeys = _csv(client, f"/insights/journeys.csv{NOVEMBER_ARGS}")

    assert figures["purchases_paid_with_points_card"] == "6" and figures["uptake_percent"] == "33.3"
    assert f"{figures['uptake_percent']}%" in page
    assert (
        f"{figures['purchases_that_redeemed_points']} of {figures['purchases_paid_with_points_card']} purchases" in page
    )
    assert figures["credit_hkd"] == "300.00" and "HK$300.00" in page
    assert figures["average_basket_with_points_hkd"] == "460.00" and "HK$460.00" in page
    for step in report.funnel.steps:
        assert figures[f"funnel_{step.key}_count"] == str(step.count)
    assert figures["failure_maxAttemptsExceeded_journeys"] == "1"
    header, rows = journeys[0], journeys[1:]
    assert header == list(queries.JOURNEY_COLUMNS)
    assert len(rows) == int(figures["purchases_paid_with_points_card"])
    outcome = header.index("outcome")
    assert sum(row[outcome] == "redeemed" for row in rows) == int(figures["purchases_that_redeemed_points"])
    assert sum(int(row[header.index("points")]) for row in rows) == int(figures["points_redeemed"])
    retried = [row for row in rows if row[header.index("codes_sent")] == "2"]
    assert len(retried) == 1 and retried[0][header.index("verified_at")].endswith("Z")


def test_the_flow_switch_changes_only_this_sessions_flow(app, client):
    response = client.post("/insights/flow", data={"flow": "legacy"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert session["pwp_flow"] == "legacy"
    other = app.test_client()
    sign_in(other, STAFF)
    assert "This browser sees the native flow" in other.get("/insights").get_data(as_text=True)
    other.post("/insights/flow", data={"flow": "legacy", "next": "/insights"})
    assert "This browser sees the legacy flow" in other.get("/insights").get_data(as_text=True)


def test_the_flow_switch_refuses_an_unknown_flow(client):
    client.post("/insights/flow", data={"flow": "sideways"})
    with client.session_transaction() as session:
        assert "pwp_flow" not in session


def test_the_flow_switch_needs_the_csrf_token(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/insights/flow", data={"flow": "legacy"})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "pwp_flow" not in session
