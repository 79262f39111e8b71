"""The sandbox controls' rules: cards, points adjustments, test cardholders, fault rules, links, clock, reset."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, controls, ledger
from issuer_sandbox.extensions import db
from issuer_sandbox.models import Card, FaultRule, LedgerEntry, LedgerTransaction, RewardLink
from issuer_sandbox.payments import luhn_valid

ENDPOINTS = ["redemptions.redeem", "links.enroll"]


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def entry_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))


# --- Cards and points ---------------------------------------------------------------------------


def test_find_card_returns_the_card_with_those_last_four_digits(ctx):
    assert controls.find_card("8741").cardholder.name == "CHAN TAI MAN"


@pytest.mark.parametrize("last4", ["0000", "874", "87411", "abcd", ""])
def test_find_card_refuses_unknown_or_malformed_last_four(ctx, last4):
    with pytest.raises(controls.CardNotFound, match="No card ends in"):
        controls.find_card(last4)


def test_freezing_then_unfreezing_a_card_is_saved(ctx):
    controls.freeze_card(controls.find_card("8741"))
    db.session.expire_all()
    assert controls.find_card("8741").status == "FROZEN"
    controls.unfreeze_card(controls.find_card("8741"))
    db.session.expire_all()
    assert controls.find_card("8741").status == "ACTIVE"


def test_a_card_status_other_than_active_or_frozen_is_refused(ctx):
    with pytest.raises(controls.InvalidControl, match="ACTIVE or FROZEN"):
        controls.set_card_status(controls.find_card("8741"), "LOST")


def test_adjusting_points_posts_one_balanced_adjust_transaction_with_the_reason(ctx):
    card = controls.find_card("8741")
    transaction = controls.adjust_points(card, -20_000, "Goodwill correction", clock.now())
    db.session.expire_all()
    assert ledger.balance_of(controls.find_card("8741")) == 100_000
    assert transaction.kind == "ADJUST"
    assert transaction.description == "Adjustment: Goodwill correction"
    assert sum(entry.amount for entry in transaction.entries) == 0
    assert ledger.check_ledger() == []


def test_the_card_ledger_lists_every_entry_with_its_running_balance_and_transaction(ctx):
    card = controls.find_card("8741")
    controls.adjust_points(card, 500, "Bonus", clock.now())
    lines = controls.card_ledger(card)
    assert [(line.kind, line.amount, line.balance_after) for line in lines] == [
        ("ISSUE", 120_000, 120_000),
        ("ADJUST", 500, 120_500),
    ]
    assert lines[1].description == "Adjustment: Bonus"
    assert lines[1].transaction_id == db.session.scalar(sa.select(sa.func.max(LedgerTransaction.id)))


def test_removing_more_points_than_the_card_holds_writes_nothing(ctx):
    before = entry_count()
    with pytest.raises(controls.PointsShortfall, match="Card ending 0102 does not hold 801 points"):
        controls.adjust_points(controls.find_card("0102"), -801, "Too much", clock.now())
    db.session.expire_all()
    assert ledger.balance_of(controls.find_card("0102")) == 800
    assert entry_count() == before


@pytest.mark.parametrize(
    ("delta", "reason", "message"),
    [
        (0, "Nothing", "must not be zero"),
        (500, "", "Give a reason"),
        (500, "   ", "Give a reason"),
        (500, "x" * 151, "at most 150 characters"),
        (controls.MAX_ADJUSTMENT + 1, "Huge", "at most"),
        (True, "A boolean", "whole number"),
        ("500", "A string", "whole number"),
    ],
)
def test_bad_adjustments_are_refused_and_write_nothing(ctx, delta, reason, message):
    before = entry_count()
    with pytest.raises(controls.InvalidControl, match=message):
        controls.adjust_points(controls.find_card("8741"), delta, reason, clock.now())
    assert entry_count() == before


def test_a_card_without_a_programme_cannot_have_its_points_adjusted(ctx):
    with pytest.raises(controls.InvalidControl, match="not in a points programme"):
        controls.adjust_points(controls.find_card("4300"), 100, "Debit card", clock.now())


# --- Test cardholders ---------------------------------------------------------------------------


def test_the_luhn_check_digit_completes_known_test_numbers():
    assert controls.luhn_check_digit("496601000000874") == "1"
    assert controls.luhn_check_digit("424242424242424") == "2"


def test_a_new_test_cardholder_gets_a_valid_4966_card_with_opening_points(ctx):
    wanted = controls.NewCardholder("tam  wai kei", "9876 5432", "PREMIER", 30_000, 2_000_000)
    card = controls.create_test_cardholder(wanted, clock.now())
    db.session.expire_all()
    card = db.session.get(Card, card.id)
    assert card.number.startswith("496602") and len(card.number) == 16 and luhn_valid(card.number)
    assert card.cardholder.name == "TAM WAI KEI"
    assert card.cardholder.phone == "98765432"
    assert card.programme.code == "PREMIER"
    assert card.credit_limit_cents == 2_000_000
    assert ledger.balance_of(card) == 30_000
    assert ledger.check_ledger() == []


def test_a_test_cardholder_without_a_programme_gets_a_debit_card_without_points(ctx):
    card = controls.create_test_cardholder(
        controls.NewCardholder("NG KA YI", "61234567", None, 0, 100_000), clock.now()
    )
    assert card.kind == "debit" and card.programme is None and card.number.startswith("496603")


def test_new_card_numbers_never_reuse_the_last_four_digits_of_another_card(ctx):
    for index in range(15):
        controls.create_test_cardholder(
            controls.NewCardholder(f"TESTER {chr(65 + index)}", "51234567", "REWARDS", 0, 100), clock.now()
        )
    last4s = db.session.scalars(sa.select(Card.last4)).all()
    assert len(last4s) == len(set(last4s)) == 22


@pytest.mark.parametrize(
    ("name", "mobile", "programme", "points", "limit", "message"),
    [
        ("", "98765432", "REWARDS", 0, 100, "The name must be"),
        ("X", "98765432", "REWARDS", 0, 100, "The name must be"),
        ("R2-D2", "98765432", "REWARDS", 0, 100, "The name must be"),
        ("TAM WAI KEI", "1234567", "REWARDS", 0, 100, "8 digits"),
        ("TAM WAI KEI", "12345678", "REWARDS", 0, 100, "8 digits"),
        ("TAM WAI KEI", "9876543a", "REWARDS", 0, 100, "8 digits"),
        ("TAM WAI KEI", "98765432", "GOLD", 0, 100, "programme must be"),
        ("TAM WAI KEI", "98765432", "REWARDS", -1, 100, "must not be negative"),
        ("TAM WAI KEI", "98765432", "REWARDS", controls.MAX_OPENING_POINTS + 1, 100, "at most"),
        ("TAM WAI KEI", "98765432", None, 1000, 100, "cannot hold points"),
        ("TAM WAI KEI", "98765432", "REWARDS", 0, -100, "must not be negative"),
        ("TAM WAI KEI", "98765432", "REWARDS", 0, controls.MAX_CREDIT_LIMIT_CENTS + 1, "at most"),
    ],
)
def test_a_bad_test_cardholder_request_is_refused_and_creates_nothing(
    ctx, name, mobile, programme, points, limit, message
):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Card))
    with pytest.raises(controls.InvalidControl, match=message):
        controls.create_test_cardholder(controls.NewCardholder(name, mobile, programme, points, limit), clock.now())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Card)) == before


# --- Fault rules --------------------------------------------------------------------------------


def test_faultable_endpoints_are_the_partner_api_and_gateway_endpoints_only(ctx):
    names = {endpoint.name for endpoint in controls.faultable_endpoints(ctx.url_map.iter_rules())}
    assert "redemptions.redeem" in names
    assert any(name.startswith("gateway.") for name in names)
    assert not any(name.startswith(("sandbox", "console", "static", "health")) for name in names)


def test_a_fault_rule_is_stored_as_asked(ctx):
    spec = controls.FaultSpec("redemptions.redeem", 250, 503, "serviceUnavailable", 2, False)
    rule = controls.create_fault(spec, ENDPOINTS, clock.now())
    stored = db.session.get(FaultRule, rule.id)
    assert (stored.latency_ms, stored.error_status, stored.error_code, stored.remaining_failures) == (
        250,
        503,
        "serviceUnavailable",
        2,
    )
    assert controls.describe_fault(stored) == "HTTP 503 serviceUnavailable; +250 ms; next 2 calls"


def test_a_commit_then_drop_fault_lasts_until_removed_when_no_count_is_given(ctx):
    rule = controls.create_fault(
        controls.FaultSpec("links.enroll", drop_response_after_commit=True), ENDPOINTS, clock.now()
    )
    assert rule.remaining_failures is None
    assert controls.describe_fault(rule) == "commit, then drop the response; until removed"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (controls.FaultSpec("nope.endpoint", 100), "Unknown endpoint"),
        (controls.FaultSpec("links.enroll"), "must add latency, force an error or drop"),
        (controls.FaultSpec("links.enroll", -1), "between 0"),
        (controls.FaultSpec("links.enroll", controls.MAX_LATENCY_MS + 1), "between 0"),
        (controls.FaultSpec("links.enroll", error_status=200, error_code="ok"), "between 400"),
        (controls.FaultSpec("links.enroll", error_status=503), "needs an error code"),
        (controls.FaultSpec("links.enroll", error_code="serviceUnavailable"), "needs a forced status"),
        (controls.FaultSpec("links.enroll", error_status=503, error_code="bad code!"), "letters and digits"),
        (controls.FaultSpec("links.enroll", 0, 503, "x", None, True), "not both"),
        (controls.FaultSpec("links.enroll", 100, fail_times=0), "between 1"),
        (controls.FaultSpec("links.enroll", "100"), "whole number"),
    ],
)
def test_a_bad_fault_rule_is_refused_and_nothing_is_stored(ctx, spec, message):
    with pytest.raises(controls.InvalidControl, match=message):
        controls.create_fault(spec, ENDPOINTS, clock.now())
    assert controls.list_faults() == []


def test_removing_a_fault_rule_deletes_it_and_an_unknown_id_is_not_found(ctx):
    rule = controls.create_fault(controls.FaultSpec("links.enroll", 100), ENDPOINTS, clock.now())
    controls.delete_fault(rule.id)
    assert controls.list_faults() == []
    with pytest.raises(controls.FaultNotFound, match="no fault rule"):
        controls.delete_fault(rule.id)


# --- Links, clock, reset, health ----------------------------------------------------------------


def make_link(status: str = "ACTIVE") -> RewardLink:
    link = RewardLink(
        code=f"RL-test-{status}",
        partner_client_id=1,
        merchant_customer_reference="C-1001",
        card_id=controls.find_card("8741").id,
        status=status,
        failed_attempts=0,
        resends_used=0,
        created_at=clock.now(),
    )
    db.session.add(link)
    db.session.commit()
    return link


def test_unlinking_ends_the_link_and_a_second_unlink_is_refused(ctx):
    link = make_link()
    controls.unlink(link.id, clock.now())
    db.session.expire_all()
    assert db.session.get(RewardLink, link.id).status == "UNLINKED"
    assert db.session.get(RewardLink, link.id).unlinked_at is not None
    with pytest.raises(controls.InvalidControl, match="already unlinked"):
        controls.unlink(link.id, clock.now())
    with pytest.raises(controls.LinkNotFound):
        controls.unlink(999_999, clock.now())


def test_advancing_the_clock_moves_it_forward_by_whole_minutes(ctx):
    assert controls.advance_clock(10) == 600
    assert clock.offset_seconds() == 600


@pytest.mark.parametrize("minutes", [0, -5, controls.MAX_CLOCK_MINUTES + 1, "5"])
def test_the_clock_refuses_to_move_by_a_bad_amount(ctx, minutes):
    with pytest.raises(controls.InvalidControl, match="Minutes"):
        controls.advance_clock(minutes)
    assert clock.offset_seconds() == 0


def test_reset_restores_the_seed_state(ctx):
    controls.adjust_points(controls.find_card("8741"), 1000, "Before reset", clock.now())
    controls.freeze_card(controls.find_card("8741"))
    controls.create_fault(controls.FaultSpec("links.enroll", 100), ENDPOINTS, clock.now())
    controls.reset_to_seed()
    card = controls.find_card("8741")
    assert card.status == "ACTIVE"
    assert ledger.balance_of(card) == 120_000
    assert controls.list_faults() == []


def test_ledger_health_reports_totals_and_a_clean_check(ctx):
    controls.adjust_points(controls.find_card("8741"), -1000, "Correction", clock.now())
    health = controls.ledger_health()
    seeded = 120_000 + 800 + 2_000_000 + 50_000 + 60_000 + 40_000
    assert health.issued == seeded - 1000
    assert health.liability == seeded - 1000
    assert (health.redeemed, health.reversed) == (0, 0)
    assert health.ok and health.problems == []
