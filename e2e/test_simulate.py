"""`flask --app shop simulate` against both real apps: real checkouts, marked, moved into the past, money equal.

Every expectation comes from the plan the seed draws (shop.simulation.choices), so the test says exactly which
journey redeems, skips or walks away, and on which past day each one lands, and checks the shop and the bank
agree on every point.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from shop.simulation.choices import Odds, ShopperPlan, draw_plans
from shop.simulation.runner import PLENTIFUL_STOCK, today_midnight

from .harness import E2E_SHOP_SETTINGS, Apps, flask_command, start_apps
from .sandbox_api import SandboxApi

DAYS = 30
SIM_EMAIL = re.compile(r"^sim-[0-9a-f]+-(\d+)@example\.com$")


@pytest.fixture(scope="session")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    """This module's own pair (a fresh catalogue, so the seed's plans are known before the run)."""
    started = start_apps(tmp_path_factory.mktemp("simulate"), shop_settings=E2E_SHOP_SETTINGS)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def sandbox(apps: Apps) -> SandboxApi:
    """This module's own pair's sandbox API: the conftest's session-wide one may already be bound to the
    worker's shared pair (when another module ran first on this worker), which this module never uses."""
    return SandboxApi(apps.issuer_url)


def simulate(apps: Apps, *args: str) -> subprocess.CompletedProcess:
    return flask_command("shop", apps.shop.env, "simulate", "--shop-url", apps.shop_url, "--days", str(DAYS), *args)


def shop_query(apps: Apps, sql: str, **params) -> list[sa.Row]:
    engine = sa.create_engine(apps.shop.env["SHOP_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def plannable_products(apps: Apps) -> list[str]:
    rows = shop_query(apps, "SELECT slug FROM products WHERE stock >= :stock ORDER BY id", stock=PLENTIFUL_STOCK)
    return [row.slug for row in rows]


def last_order_id(apps: Apps) -> int:
    return shop_query(apps, "SELECT COALESCE(MAX(id), 0) AS id FROM orders")[0].id


def orders_since(apps: Apps, order_id: int) -> list[sa.Row]:
    return shop_query(
        apps,
        "SELECT o.id, o.reference, o.status, o.simulated, o.points_used, o.statement_credit_cents, o.points_skipped, "
        "o.card_last4, o.card_points_eligible, o.created_at, o.paid_at, u.email FROM orders o "
        "JOIN users u ON u.id = o.user_id WHERE o.id > :id ORDER BY o.id",
        id=order_id,
    )


def events_of(apps: Apps, order_id: int) -> list[sa.Row]:
    return shop_query(apps, "SELECT kind, code, at FROM pwp_events WHERE order_id = :id ORDER BY id", id=order_id)


def parse_time(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def expected_outcomes(plan: ShopperPlan) -> list[str]:
    """What each of the shopper's journeys must end as, from the plan (a linked card needs no code)."""
    outcomes, linked = [], False
    for journey in plan.journeys:
        if not plan.summit_card:
            outcomes.append("no_points_card")
        elif not journey.accept_offer:
            outcomes.append("skipped")
        elif not linked and journey.abandon_at_otp:
            outcomes.append("abandoned")
        else:
            outcomes.append("redeemed")
            linked = True
    return outcomes


def outcome_of(apps: Apps, order: sa.Row) -> str:
    kinds = [event.kind for event in events_of(apps, order.id)]
    if not order.card_points_eligible:
        return "no_points_card"
    if order.points_skipped:
        return "skipped"
    if order.status == "POINTS_APPLIED" and order.points_used > 0:
        return "redeemed"
    if order.status == "PAID" and "code_sent" in kinds and "verified" not in kinds:
        return "abandoned"
    return f"unexpected ({order.status}, {kinds})"


def journeys_by_shopper(orders: list[sa.Row]) -> dict[int, list[sa.Row]]:
    by_shopper: dict[int, list[sa.Row]] = {}
    for order in orders:
        match = SIM_EMAIL.match(order.email)
        assert match, f"{order.reference} belongs to {order.email}, not a simulated shopper"
        by_shopper.setdefault(int(match.group(1)), []).append(order)
    return by_shopper


def test_three_shoppers_seed_1_become_marked_journeys_on_past_days_and_the_bank_took_exactly_their_points(
    apps: Apps, sandbox: SandboxApi
):
    plans = draw_plans(1, 3, Odds(), DAYS, plannable_products(apps))
    before = last_order_id(apps)
    midnights = {today_midnight()}

    result = simulate(apps, "--shoppers", "3", "--seed", "1")

    midnights.add(today_midnight())
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    orders = orders_since(apps, before)
    by_shopper = journeys_by_shopper(orders)
    assert sorted(by_shopper) == [1, 2, 3]
    planned = {plan.number: plan for plan in plans}
    outcomes = []
    for number, shopper_orders in by_shopper.items():
        plan = planned[number]
        assert [outcome_of(apps, order) for order in shopper_orders] == expected_outcomes(plan), number
        outcomes += expected_outcomes(plan)
        for order, journey in zip(shopper_orders, plan.journeys, strict=True):
            assert order.simulated
            created = parse_time(order.created_at)
            # On the drawn past day, at the drawn second (plus the seconds the journey really took).
            assert any(
                journey.starts_at(midnight) <= created < journey.starts_at(midnight) + timedelta(minutes=2)
                for midnight in midnights
            ), f"{order.reference} at {created}, planned {journey.days_ago} day(s) ago at {journey.start_second} s"
            for event in events_of(apps, order.id):
                assert created <= parse_time(event.at) < created + timedelta(minutes=2), order.reference
    assert len(orders) == sum(len(plan.journeys) for plan in plans)
    assert len({parse_time(order.created_at).date() for order in orders}) > 1, "all on one day"
    assert all(parse_time(order.created_at) < min(midnights) for order in orders), "a journey in the future"
    summary = result.stdout
    assert f"Shoppers: 3, journeys: {len(orders)}" in summary
    for outcome, label in [("redeemed", "redeemed"), ("skipped", "skipped"), ("abandoned", "abandoned")]:
        assert f"{label}: {outcomes.count(outcome)}" in summary
    assert "errors: 0" in summary
    assert "redeemed" in outcomes and "skipped" in outcomes

    # The bank took exactly the points on the orders, card by card, and posted their credits.
    for last4 in {order.card_last4 for order in orders if order.card_points_eligible}:
        card_orders = [order for order in orders if order.card_last4 == last4]
        taken = -sum(entry["points"] for entry in sandbox.redemption_debits(last4))
        assert taken == sum(order.points_used for order in card_orders), last4
        for order in card_orders:
            if order.points_used:
                debits = sandbox.debits_for_order(last4, order.reference)
                assert -sum(entry["points"] for entry in debits) == order.points_used, order.reference
    assert sum(order.points_used for order in orders) > 0
    assert f"({sum(order.points_used for order in orders):,} points)" in summary
    ledger = flask_command("issuer_sandbox", apps.issuer.env, "ledger-check")
    assert ledger.returncode == 0, f"{ledger.stdout}\n{ledger.stderr}"


def test_a_wrong_code_first_then_the_real_one_from_the_outbox_and_a_shopper_who_walks_away_at_the_code(
    apps: Apps,
):
    before = last_order_id(apps)
    always = ["--summit-card", "1", "--accept-offer", "1", "--return-rate", "0"]
    wrong_then_right = simulate(apps, "--shoppers", "2", "--seed", "2", *always, "--wrong-code", "1",
                                "--abandon-at-otp", "0")  # fmt: skip
    assert wrong_then_right.returncode == 0, f"{wrong_then_right.stdout}\n{wrong_then_right.stderr}"
    walk_away = simulate(apps, "--shoppers", "1", "--seed", "3", *always, "--abandon-at-otp", "1")
    assert walk_away.returncode == 0, f"{walk_away.stdout}\n{walk_away.stderr}"

    orders = orders_since(apps, before)
    assert len(orders) == 3 and all(order.simulated for order in orders)
    for order in orders[:2]:
        events = events_of(apps, order.id)
        assert [event.kind for event in events] == [
            "card_paid_eligible",
            "offer_shown",
            "code_sent",
            "failed",
            "verified",
            "points_redeemed",
        ], order.reference
        assert events[3].code == "invalidLinkageConfirmationCode"
        assert order.status == "POINTS_APPLIED" and order.points_used > 0
    abandoned = orders[2]
    assert [event.kind for event in events_of(apps, abandoned.id)] == ["card_paid_eligible", "offer_shown", "code_sent"]
    assert abandoned.status == "PAID" and abandoned.points_used == 0
    assert "redeemed: 2" in wrong_then_right.stdout and "abandoned: 1" in walk_away.stdout


def test_a_legacy_run_redeems_on_the_banks_own_site_from_its_sms_and_the_shop_sees_only_the_payments(
    apps: Apps, sandbox: SandboxApi
):
    before = last_order_id(apps)
    always = ["--summit-card", "1", "--return-rate", "0", "--wrong-code", "1", "--finish-on-bank-site", "1"]
    redeeming = simulate(apps, "--shoppers", "2", "--seed", "6", "--flow", "legacy", *always, "--follow-sms-link", "1")
    assert redeeming.returncode == 0, f"{redeeming.stdout}\n{redeeming.stderr}"
    ignoring = simulate(apps, "--shoppers", "1", "--seed", "7", "--flow", "legacy", *always, "--follow-sms-link", "0")
    assert ignoring.returncode == 0, f"{ignoring.stdout}\n{ignoring.stderr}"

    assert "redeemed: 2" in redeeming.stdout and "errors: 0" in redeeming.stdout
    assert "skipped: 1" in ignoring.stdout and "redeemed: 0" in ignoring.stdout
    orders = orders_since(apps, before)
    assert len(orders) == 3
    flows = shop_query(apps, "SELECT pwp_flow FROM orders WHERE id > :id ORDER BY id", id=before)
    assert [row.pwp_flow for row in flows] == ["legacy"] * 3
    for order in orders:
        # The shop offered nothing and cannot see what the bank's site did: a paid order, no points on it.
        assert order.simulated and order.status == "PAID" and order.points_used == 0, order.reference
        assert [event.kind for event in events_of(apps, order.id)] == ["card_paid_eligible"], order.reference
    # The bank recorded each redemption on its own site, against that purchase, on the card's statement.
    for order in orders[:2]:
        credits = [line for line in sandbox.statement(order.card_last4) if line["kind"] == "POINTS_CREDIT"]
        assert [line["reference"] for line in credits] == [order.reference]
        assert credits[0]["amount"].startswith("-")
        assert sandbox.redemption_debits(order.card_last4), order.reference
    assert [line["kind"] for line in sandbox.statement(orders[2].card_last4)] == ["PURCHASE"]
    assert not sandbox.redemption_debits(orders[2].card_last4)
    # Each redeeming cardholder signed in with a code the bank's site texted (the wrong one typed first took
    # nothing more); the one who ignored the SMS never asked for one.
    for order, codes in zip(orders, (1, 1, 0), strict=True):
        texted = [
            sms
            for sms in sandbox.sms()
            if f"sign in to Summit Bank Rewards with your card ending {order.card_last4}" in sms["body"]
        ]
        assert len(texted) == codes, order.reference
    ledger = flask_command("issuer_sandbox", apps.issuer.env, "ledger-check")
    assert ledger.returncode == 0, f"{ledger.stdout}\n{ledger.stderr}"


def test_a_sandbox_key_the_bank_refuses_stops_the_run_before_any_shopper(apps: Apps):
    before = last_order_id(apps)
    result = simulate(apps, "--shoppers", "1", "--seed", "1", "--sandbox-key", "not-the-key")
    assert result.returncode == 3, f"{result.stdout}\n{result.stderr}"
    assert "refused the sandbox key" in result.stderr
    assert orders_since(apps, before) == []


def test_a_journey_the_bank_refuses_half_way_is_listed_as_an_error_and_still_marked_simulated(
    apps: Apps, sandbox: SandboxApi
):
    before = last_order_id(apps)
    sandbox.add_fault("redemptions.redeem", error_status=422, error_code="notEligibleToRedeem")
    always = ["--summit-card", "1", "--accept-offer", "1", "--abandon-at-otp", "0", "--return-rate", "0"]

    result = simulate(apps, "--shoppers", "1", "--seed", "4", *always)

    assert result.returncode == 1, f"{result.stdout}\n{result.stderr}"
    assert "Shoppers: 1, journeys: 1, orders marked simulated: 1" in result.stdout
    assert "redeemed: 0" in result.stdout and "errors: 1" in result.stdout
    [order] = orders_since(apps, before)
    assert f"shopper 1, journey 1: Using points on {order.reference} did not apply them" in result.stderr
    assert order.simulated and order.status == "PAID" and order.points_used == 0
    assert parse_time(order.created_at) < today_midnight()  # moved into the past like any other journey
    failures = [event.code for event in events_of(apps, order.id) if event.kind == "failed"]
    assert failures == ["notEligibleToRedeem"]
