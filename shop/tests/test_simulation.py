"""`flask --app shop simulate`: the seeded draws, the move into the past, the options, the refusals.

The journeys themselves run against both real apps in e2e/test_simulate.py.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import CardLink, Order, PwpEvent, PwpJourney, User
from shop.orders.rules import utcnow
from shop.simulation.choices import (
    FIRST_SECOND_OF_DAY,
    LAST_START_SECOND_OF_DAY,
    RETURN_SAME_DAY_GAP,
    CartItem,
    JourneyPlan,
    Odds,
    ShopperPlan,
    draw_plans,
    points_to_use,
)
from shop.simulation.html_forms import FormNotFound, find_form, find_form_with, parse_forms
from shop.simulation.journeys import bank_site_points
from shop.simulation.runner import shopper_name
from shop.simulation.sandbox import SimulationError
from shop.simulation.timeshift import shift_and_mark

from .conftest import close_app, make_app
from .support import fresh_interpreter_output

PRODUCTS = [f"product-{number}" for number in range(1, 11)]


# --- The draws --------------------------------------------------------------------------------------


def test_the_same_seed_draws_the_same_plans_and_another_seed_other_plans():
    first = draw_plans(42, 20, Odds(), 30, PRODUCTS)
    assert draw_plans(42, 20, Odds(), 30, PRODUCTS) == first
    assert draw_plans(43, 20, Odds(), 30, PRODUCTS) != first
    assert [plan.number for plan in first] == list(range(1, 21))


def test_seed_1_draws_exactly_this_first_shopper():
    """Pinned: a change to the order of the draws changes every replayed demo, so it must be deliberate."""
    assert draw_plans(1, 1, Odds(), 30, PRODUCTS)[0] == ShopperPlan(
        number=1,
        summit_card=True,
        opening_points=26_000,
        journeys=(
            JourneyPlan(
                cart=(CartItem("product-7", 1), CartItem("product-4", 2)),
                accept_offer=True,
                abandon_at_otp=False,
                wrong_code=False,
                use_max=False,
                points_share_percent=20,
                days_ago=16,
                start_second=58_257,
                follows_sms_link=False,
                finishes_on_bank_site=False,
            ),
            JourneyPlan(
                cart=(CartItem("product-4", 1), CartItem("product-2", 1), CartItem("product-6", 1)),
                accept_offer=True,
                abandon_at_otp=True,
                wrong_code=False,
                use_max=False,
                points_share_percent=74,
                days_ago=2,
                start_second=46_254,
                follows_sms_link=True,
                finishes_on_bank_site=True,
            ),
        ),
    )


def test_every_draw_stays_within_its_range():
    for plan in draw_plans(9, 200, Odds(returns=1.0), 30, PRODUCTS):
        assert 10_000 <= plan.opening_points <= 150_000 and plan.opening_points % 1_000 == 0
        for journey in plan.journeys:
            assert 1 <= journey.days_ago <= 30
            assert FIRST_SECOND_OF_DAY <= journey.start_second < LAST_START_SECOND_OF_DAY + 2 * 3600
            assert 1 <= len(journey.cart) <= 3 and len({item.slug for item in journey.cart}) == len(journey.cart)
            assert all(item.slug in PRODUCTS and 1 <= item.quantity <= 2 for item in journey.cart)
            assert 20 <= journey.points_share_percent <= 90


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_a_probability_of_zero_or_one_decides_every_shopper(probability):
    odds = Odds(
        summit_card=probability,
        accept_offer=probability,
        abandon_at_otp=probability,
        wrong_code=probability,
        use_max=probability,
        returns=probability,
    )
    plans = draw_plans(7, 30, odds, 10, PRODUCTS)
    expected = probability == 1.0
    assert all(plan.summit_card is expected for plan in plans)
    assert all(plan.returns is expected for plan in plans)
    journeys = [journey for plan in plans for journey in plan.journeys]
    for choice in ("accept_offer", "abandon_at_otp", "wrong_code", "use_max"):
        assert all(getattr(journey, choice) is expected for journey in journeys), choice


def test_choices_are_drawn_whatever_the_odds_so_carts_and_days_do_not_move():
    """Changing one probability changes that choice only: every other draw of every shopper stays."""
    plans = draw_plans(5, 15, Odds(accept_offer=0.0), 30, PRODUCTS)
    others = draw_plans(5, 15, Odds(accept_offer=1.0), 30, PRODUCTS)
    for plan, other in zip(plans, others, strict=True):
        assert [dataclasses.replace(j, accept_offer=True) for j in plan.journeys] == list(other.journeys)
        assert (plan.summit_card, plan.opening_points) == (other.summit_card, other.opening_points)


def test_about_as_many_shoppers_as_asked_pay_with_a_summit_card():
    plans = draw_plans(11, 1000, Odds(summit_card=0.3), 30, PRODUCTS)
    share = sum(plan.summit_card for plan in plans)
    assert 240 <= share <= 360  # 0.3 of 1,000, well within the binomial's spread


def test_journeys_land_on_the_past_days_asked_and_a_return_never_comes_first():
    plans = draw_plans(3, 300, Odds(returns=1.0), 7, PRODUCTS)
    midnight = datetime(2026, 12, 2)
    for plan in plans:
        first, second = plan.journeys
        assert 1 <= first.days_ago <= 7 and 1 <= second.days_ago <= first.days_ago
        assert midnight - timedelta(days=7) <= first.starts_at(midnight) < midnight
        assert first.starts_at(midnight) < second.starts_at(midnight) < midnight
        if second.days_ago == first.days_ago:
            assert second.start_second == first.start_second + RETURN_SAME_DAY_GAP.total_seconds()
    assert {plan.journeys[0].days_ago for plan in plans} == set(range(1, 8))


def test_a_journey_starts_at_its_day_and_second():
    journey = JourneyPlan((), True, False, False, True, 50, days_ago=3, start_second=9 * 3600 + 30)
    assert journey.starts_at(datetime(2026, 12, 2)) == datetime(2026, 11, 29, 9, 0, 30)


@pytest.mark.parametrize(
    ("use_max", "percent", "minimum", "maximum", "increment", "expected"),
    [
        (True, 50, 1_000, 52_000, 25, 52_000),  # the most the order allows
        (False, 50, 1_000, 52_000, 25, 26_000),
        (False, 33, 1_000, 52_010, 25, 17_150),  # 17,163 rounded down to the increment
        (False, 20, 1_000, 2_000, 25, 1_000),  # 400 is below the minimum: the minimum
        (False, 20, 990, 2_000, 25, 1_000),  # the smallest whole increment at or above the minimum
        (False, 90, 1_000, 1_000, 25, 1_000),
    ],
)
def test_points_used_are_the_maximum_or_the_drawn_share_in_whole_increments(
    use_max, percent, minimum, maximum, increment, expected
):
    journey = JourneyPlan((), True, False, False, use_max, percent, days_ago=1, start_second=FIRST_SECOND_OF_DAY)
    assert points_to_use(journey, minimum, maximum, increment) == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0, Odds(), 30, PRODUCTS), "At least one shopper"),
        ((1, Odds(), 0, PRODUCTS), "At least one day"),
        ((1, Odds(), 30, []), "No product is in stock"),
    ],
)
def test_impossible_plans_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        draw_plans(1, *arguments)


def test_a_probability_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="wrong_code must be a probability from 0 to 1"):
        Odds(wrong_code=1.5)


@pytest.mark.parametrize(
    ("number", "name"), [(1, "SIMULATED SHOPPER A"), (26, "SIMULATED SHOPPER Z"), (27, "SIMULATED SHOPPER AA")]
)
def test_test_cardholders_are_named_in_letters_as_the_sandbox_takes_them(number, name):
    assert shopper_name(number) == name


# --- The pages' forms -------------------------------------------------------------------------------

PAGE = """
<form action="/search" method="get"><input name="q" value=""></form>
<form class="points-picker" method="post" action="/checkout/HM-123456/points/redeem" data-min="1000" data-max="52000">
  <input id="csrf_token" name="csrf_token" type="hidden" value="token-1">
  <input type="range" hidden data-points-range min="1000">
  <input class="field__input" name="points" type="text" value="52000">
  <input name="use_max" type="submit" value="Use maximum">
  <input name="submit" type="submit" value="Use points">
</form>
<form method="post" action="/checkout">
  <input name="csrf_token" type="hidden" value="token-1">
  <select name="district"><option value="">Choose</option><option selected value="Wan Chai">Wan Chai</option></select>
</form>
"""


def test_a_form_is_submitted_with_its_own_values_the_typed_ones_and_only_the_pressed_button():
    form = find_form(PAGE, "/points/redeem")
    assert form.attributes["data-max"] == "52000"
    assert form.data("submit", points="26000") == {"csrf_token": "token-1", "points": "26000", "submit": "Use points"}
    assert form.data("use_max") == {"csrf_token": "token-1", "points": "52000", "use_max": "Use maximum"}
    assert find_form(PAGE, "/checkout").data(district="Sha Tin") == {"csrf_token": "token-1", "district": "Sha Tin"}
    assert find_form(PAGE, "/checkout").values["district"] == "Wan Chai"
    assert [form.method for form in parse_forms(PAGE)] == ["get", "post", "post"]


def test_a_missing_form_field_or_button_is_named_not_bypassed():
    with pytest.raises(FormNotFound, match="No form posting to …/points/verify"):
        find_form(PAGE, "/points/verify")
    with pytest.raises(FormNotFound, match="has no field otp"):
        find_form(PAGE, "/points/redeem").data(otp="123456")
    with pytest.raises(FormNotFound, match="has no button skip"):
        find_form(PAGE, "/points/redeem").data("skip")


# --- Moving a journey into the past ---------------------------------------------------------------


def _journey(checkout, client, fake) -> str:
    """A real checkout through the shop's forms (fake bank): paid, offer shown, code sent, verified, redeemed."""
    reference = checkout.paid_order()
    client.get(f"/checkout/{reference}/points")
    checkout.link_card(reference, fake)
    checkout.use_points(reference, 10_000)
    return reference


def _order(reference: str) -> Order:
    return db.session.scalar(sa.select(Order).where(Order.reference == reference))


def test_a_journey_moves_to_its_past_moment_keeping_every_interval_and_is_marked_simulated(
    app, client, checkout, fake_issuer
):
    joined = datetime(2026, 1, 15, 8, 0)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "chan.taiman@example.com"))
        user.created_at = joined  # an account from before this journey
        user_id = user.id
        db.session.commit()
    started_at = utcnow()
    reference = _journey(checkout, client, fake_issuer)
    moved_to = datetime(2026, 10, 5, 9, 30)
    with app.app_context():
        order = _order(reference)
        before = [order.created_at, order.paid_at, *(event.at for event in order.events)]
        kinds = [event.kind for event in order.events]
        link = db.session.scalar(sa.select(CardLink).where(CardLink.user_id == user_id))
        linked = (link.created_at, link.activated_at)
        db.session.rollback()

        marked = shift_and_mark(user_id, started_at, moved_to)

        offset = moved_to - started_at
        assert marked.references == (reference,) and marked.offset == offset
        order = _order(reference)
        after = [order.created_at, order.paid_at, *(event.at for event in order.events)]
        assert after == [value + offset for value in before]
        assert kinds == ["card_paid_eligible", "offer_shown", "code_sent", "verified", "points_redeemed"]
        assert order.simulated is True and order.status == "POINTS_APPLIED"
        # The journey's summary row moved with its events: the insights page places it on the past day.
        summary = db.session.get(PwpJourney, order.id)
        assert (summary.paid_event_at, summary.offer_at, summary.redeemed_at) == (
            after[2],
            after[3],
            after[6],
        )
        assert moved_to <= order.created_at < moved_to + timedelta(minutes=1)
        link = db.session.scalar(sa.select(CardLink).where(CardLink.user_id == user_id))
        assert (link.created_at, link.activated_at) == tuple(value + offset for value in linked)
        # The account is older than the journey (and the clock's slack): it stays where it was.
        assert db.session.get(User, user_id).created_at == joined


def test_a_journey_already_marked_is_not_moved_again_and_other_shoppers_are_left_alone(
    app, client, checkout, fake_issuer
):
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "chan.taiman@example.com"))
        other_id = db.session.scalar(sa.select(User.id).where(User.email == "wong.siuming@example.com"))
    first_start = utcnow()
    first = checkout.paid_order()
    with app.app_context():
        shift_and_mark(user_id, first_start, datetime(2026, 11, 1, 10, 0))
        first_paid = _order(first).paid_at
        db.session.rollback()
    second_start = utcnow()
    second = checkout.paid_order()
    with app.app_context():
        marked = shift_and_mark(user_id, second_start, datetime(2026, 11, 3, 12, 0))
        assert marked.references == (second,)
        assert _order(first).paid_at == first_paid  # the first visit stays on its own day
        assert datetime(2026, 11, 3, 12, 0) <= _order(second).paid_at < datetime(2026, 11, 3, 12, 1)
        assert shift_and_mark(other_id, second_start, datetime(2026, 11, 3)).references == ()
        assert all(order.simulated for order in db.session.scalars(sa.select(Order).where(Order.user_id == user_id)))


def test_a_journey_that_failed_half_way_is_still_marked(app, client, checkout, fake_issuer):
    """Paid, then the points step never finished: the order is marked, so it never passes for a real one."""
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "chan.taiman@example.com"))
    started_at = utcnow()
    with app.app_context():
        db.session.get(User, user_id).created_at = utcnow()  # as if the shopper signed up in this journey
        db.session.commit()
    reference = checkout.paid_order()
    client.get(f"/checkout/{reference}/points")
    checkout.send_code(reference)
    with app.app_context():
        marked = shift_and_mark(user_id, started_at, datetime(2026, 11, 20, 15, 0))
        assert marked.references == (reference,)
        assert datetime(2026, 11, 20, 15, 0) <= db.session.get(User, user_id).created_at < _order(reference).created_at
        events = db.session.scalars(sa.select(PwpEvent).join(Order).where(Order.reference == reference)).all()
        assert [event.kind for event in events] == ["card_paid_eligible", "offer_shown", "code_sent"]
        assert all(datetime(2026, 11, 20, 15, 0) <= event.at < datetime(2026, 11, 20, 15, 1) for event in events)
        assert _order(reference).simulated is True


# --- The command ------------------------------------------------------------------------------------


def test_help_states_every_default(runner):
    result = runner.invoke(args=["simulate", "--help"])
    assert result.exit_code == 0, result.output
    text = "".join(result.output.split())  # help wraps lines anywhere, even inside a value
    for option, default in [
        ("--summit-card", "0.85"),
        ("--accept-offer", "0.65"),
        ("--abandon-at-otp", "0.15"),
        ("--wrong-code", "0.2"),
        ("--use-max", "0.5"),
        ("--return-rate", "0.3"),
        ("--follow-sms-link", "0.4"),
        ("--finish-on-bank-site", "0.6"),
        ("--days", "30"),
        ("--flow", "native"),
        ("--shop-url", "http://127.0.0.1:8000"),
        ("--sandbox-key", "demo-sandbox-key"),
    ]:
        assert option in text
        assert f"[default:{default}" in text.split(option, 1)[1], option


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--shoppers", "0", "--seed", "1"], "Invalid value for '--shoppers'"),
        (["--shoppers", "many", "--seed", "1"], "Invalid value for '--shoppers'"),
        (["--shoppers", "3"], "Missing option '--seed'"),
        (["--seed", "1"], "Missing option '--shoppers'"),
        (["--shoppers", "3", "--seed", "1", "--flow", "sideways"], "Invalid value for '--flow'"),
        (["--shoppers", "3", "--seed", "1", "--days", "0"], "Invalid value for '--days'"),
        (["--shoppers", "3", "--seed", "1", "--summit-card", "1.5"], "Invalid value for '--summit-card'"),
        (["--shoppers", "3", "--seed", "1", "--wrong-code", "-0.1"], "Invalid value for '--wrong-code'"),
        (["--shoppers", "3", "--seed", "1", "--return-rate", "often"], "Invalid value for '--return-rate'"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(runner, arguments, message):
    result = runner.invoke(args=["simulate", *arguments])
    assert result.exit_code == 2
    assert message in result.output


def test_a_shop_that_does_not_answer_stops_the_run_with_a_clear_error_and_exit_code_3(runner):
    result = runner.invoke(args=["simulate", "--shoppers", "2", "--seed", "1", "--shop-url", "http://127.0.0.1:9"])
    assert result.exit_code == 3, result.output
    assert "The shop is not reachable at http://127.0.0.1:9" in result.output
    assert "Is it running?" in result.output


class _StubApp(BaseHTTPRequestHandler):
    """A stand-in for a running app: /healthz answers ``health`` and everything else 404."""

    health = 200

    def do_GET(self):  # noqa: N802 - http.server's name
        status = self.health if self.path == "/healthz" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_app():
    """A local HTTP server that answers like an app with nothing but /healthz (the flow switch is missing)."""
    handler = type("Handler", (_StubApp,), {"health": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _simulate(tmp_path, issuer_url: str, *arguments: str):
    app = make_app(tmp_path, ISSUER_URL=issuer_url)
    try:
        return app.test_cli_runner().invoke(args=["simulate", "--shoppers", "2", "--seed", "1", *arguments])
    finally:
        close_app(app)


def test_a_bank_that_does_not_answer_stops_the_run_with_exit_code_3(tmp_path, stub_app):
    _, shop_url = stub_app
    result = _simulate(tmp_path, "http://127.0.0.1:9", "--shop-url", shop_url)
    assert result.exit_code == 3, result.output
    assert "Summit Bank's sandbox is not reachable at http://127.0.0.1:9" in result.output


def test_an_app_that_answers_unhealthy_stops_the_run_with_exit_code_3(tmp_path, stub_app):
    handler, url = stub_app
    handler.health = 503
    result = _simulate(tmp_path, url, "--shop-url", url)
    assert result.exit_code == 3, result.output
    assert f"The shop at {url} is not healthy: GET /healthz answered 503." in result.output


def test_the_legacy_flow_needs_the_shops_flow_switch_and_stops_with_exit_code_3_before_any_shopper(tmp_path, stub_app):
    _, url = stub_app
    result = _simulate(tmp_path, url, "--shop-url", url, "--flow", "legacy")
    assert result.exit_code == 3, result.output
    assert "The shop has no flow switch (POST /insights/flow): --flow legacy needs it." in result.output


def test_the_legacy_choices_come_from_their_own_draws_and_leave_the_native_plans_as_they_were():
    usual = draw_plans(5, 20, Odds(), 30, PRODUCTS)
    always = draw_plans(5, 20, Odds(follow_sms_link=1, finish_on_bank_site=0), 30, PRODUCTS)
    assert [dataclasses.replace(plan, journeys=()) for plan in always] == [
        dataclasses.replace(plan, journeys=()) for plan in usual
    ]
    for plan, same in zip(usual, always, strict=True):
        for journey, other in zip(plan.journeys, same.journeys, strict=True):
            assert other == dataclasses.replace(journey, follows_sms_link=True, finishes_on_bank_site=False)
    drawn = [journey.follows_sms_link for plan in usual for journey in plan.journeys]
    assert True in drawn and False in drawn  # 0.4 by default: some follow the link, some do not


# --- The bank's own site (legacy flow) ----------------------------------------------------------------

BANK_PURCHASES_PAGE = """
<p class="rw-lead">Card **** 8741 · <strong>120,000 points</strong> available.
    Redeem at least 1,000 points, in steps of 25;
    each point is worth HK$0.004.</p>
<form method="post" novalidate>
  <input id="csrf_token" name="csrf_token" type="hidden" value="bank-token">
  <table><tbody>
  <tr><td><input type="radio" name="purchase" id="purchase-1" value="PAY-OLD">
    <label for="purchase-1"><span class="visually-hidden">Harbour Mall HM-000001, </span>HK$1,000.00</label></td></tr>
  <tr><td><input type="radio" name="purchase" id="purchase-2" value="PAY-NEW" checked>
    <label for="purchase-2"><span class="visually-hidden">Harbour Mall HM-000002, </span>HK$368.00</label></td></tr>
  </tbody></table>
  <input id="points" name="points" type="text" value="">
  <input id="submit" name="submit" type="submit" value="Redeem points">
</form>
<form method="post" action="/rewards/sign-out"><input name="csrf_token" type="hidden" value="bank-token"></form>
"""


def test_a_form_without_an_action_is_found_by_its_field_with_the_checked_radio_and_every_option():
    form = find_form_with(BANK_PURCHASES_PAGE, "purchase")
    assert form.action == "" and form.radios == {"purchase": ["PAY-OLD", "PAY-NEW"]}
    assert form.data(points="1000") == {"csrf_token": "bank-token", "purchase": "PAY-NEW", "points": "1000"}
    assert find_form_with(BANK_PURCHASES_PAGE, "points") is not None
    with pytest.raises(FormNotFound, match="No form with a field last4"):
        find_form_with(BANK_PURCHASES_PAGE, "last4")


def _plan(**choices) -> JourneyPlan:
    return dataclasses.replace(draw_plans(1, 1, Odds(), 30, PRODUCTS)[0].journeys[0], **choices)


@pytest.mark.parametrize(
    ("purchase", "choices", "points"),
    [
        ("PAY-NEW", {"use_max": True}, 92_000),  # HK$368.00 / HK$0.004: the whole purchase, below the balance
        ("PAY-OLD", {"use_max": True}, 120_000),  # HK$1,000.00 would take 250,000: the balance is the most
        ("PAY-NEW", {"use_max": False, "points_share_percent": 50}, 46_000),
        ("PAY-NEW", {"use_max": False, "points_share_percent": 1}, 1_000),  # never below the minimum
    ],
)
def test_the_points_on_the_banks_site_are_the_plans_share_of_what_the_purchase_and_card_allow(
    purchase, choices, points
):
    assert bank_site_points(BANK_PURCHASES_PAGE, purchase, _plan(**choices)) == points


def test_a_bank_page_without_its_limits_or_the_purchase_is_an_error_not_a_guess():
    with pytest.raises(SimulationError, match="does not state the points limits"):
        bank_site_points(BANK_PURCHASES_PAGE, "PAY-GONE", _plan())
    poor = BANK_PURCHASES_PAGE.replace("120,000 points", "500 points")
    with pytest.raises(SimulationError, match="cannot redeem the minimum of 1000 points"):
        bank_site_points(poor, "PAY-NEW", _plan())


def test_a_worker_loads_the_simulate_command_but_not_the_simulation_run():
    # The run's modules are about 1 MiB per gunicorn worker; `flask simulate` imports them when it starts.
    code = (
        "import sys; from shop import create_app; app = create_app(); "
        "print('simulate' in app.cli.commands, sorted(m for m in sys.modules if m.startswith('shop.simulation.')))"
    )
    assert fresh_interpreter_output(code) == "True ['shop.simulation.choices', 'shop.simulation.command']"
