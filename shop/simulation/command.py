"""`flask --app shop simulate`: the click command (options, progress bar, summary, exit codes)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from .choices import Odds

DEFAULT_SHOP_URL = "http://127.0.0.1:8000"
DEFAULT_SANDBOX_KEY = "demo-sandbox-key"
PROBABILITY = click.FloatRange(0, 1)
DEFAULT_ODDS = Odds()
# (option, Odds field, what it is the probability of)
ODDS_OPTIONS = (
    ("--summit-card", "summit_card", "a shopper pays with a Summit points card of their own (else another bank's)"),
    ("--accept-offer", "accept_offer", "a shopper goes for the points offer (else skips it)"),
    ("--abandon-at-otp", "abandon_at_otp", "a shopper who asked for the code walks away without typing it"),
    ("--wrong-code", "wrong_code", "a shopper types a wrong code once before the right one"),
    ("--use-max", "use_max", "a shopper uses the most points the order allows (else 20-90% of it)"),
    ("--return-rate", "returns", "a shopper comes back for a second purchase (card already linked)"),
    (
        "--follow-sms-link",
        "follow_sms_link",
        "a legacy-flow shopper opens the link in the bank's SMS after paying (else ignores it: counted as skipped)",
    ),
    (
        "--finish-on-bank-site",
        "finish_on_bank_site",
        "a legacy-flow shopper on the bank's site signs in with its code and redeems (else leaves: abandoned)",
    ),
)


def _odds_options(command):
    for option, name, meaning in reversed(ODDS_OPTIONS):
        default = getattr(DEFAULT_ODDS, name)
        command = click.option(
            option, name, type=PROBABILITY, default=default, show_default=True, help=f"Probability that {meaning}."
        )(command)
    return command


@click.command("simulate")
@click.option("--shoppers", type=click.IntRange(1, 1000), required=True, help="How many shoppers to simulate.")
@click.option(
    "--flow",
    type=click.Choice(["native", "legacy"]),
    default="native",
    show_default=True,
    help="The Pay with Points flow the shoppers go through.",
)
@click.option("--seed", type=int, required=True, help="Seed of the shoppers' choices: the same seed, the same plans.")
@click.option(
    "--days",
    type=click.IntRange(1, 365),
    default=30,
    show_default=True,
    help="Journeys are moved to a drawn day among the past DAYS days (yesterday back).",
)
@click.option("--shop-url", default=DEFAULT_SHOP_URL, show_default=True, help="The running shop.")
@click.option(
    "--sandbox-key",
    envvar="ISSUER_SANDBOX_KEY",
    default=DEFAULT_SANDBOX_KEY,
    show_default=True,
    help="Summit Bank's sandbox key (X-Sandbox-Key), also read from ISSUER_SANDBOX_KEY.",
)
@_odds_options
@with_appcontext
def simulate_command(
    shoppers: int, flow: str, seed: int, days: int, shop_url: str, sandbox_key: str, **odds: float
) -> None:
    """Drive SHOPPERS real checkouts through the running shop and Summit Bank's sandbox, over HTTP.

    Each shopper signs up, gets a test cardholder of their own from the sandbox (when they pay with a Summit
    card), fills a cart, gives delivery details, pays, and then skips the points offer, walks away at the code,
    or reads the real one-time password from the sandbox SMS outbox and redeems points, as their choices drawn
    from the seed say. With --flow legacy the shop offers nothing at checkout: the shopper may open the link in
    the bank's SMS, sign in on Summit Bank's own redemption site (last four + mobile, the texted code), pick the
    purchase and redeem points there. The bank is the shop's SHOP_ISSUER_URL.

    Each finished journey is moved to a drawn past day in the shop's database (its order, events and
    adjustments keep the intervals between steps; the sandbox clock only runs forward, so it cannot) and is
    marked simulated, whatever its outcome. Exit codes: 0 done, 1 some journeys failed (listed), 2 bad options,
    3 an app is not reachable or not set up for it.
    """
    # The run's modules (the shop browser, the sandbox client, the time shift), imported when a run starts:
    # about 1 MiB that every gunicorn worker would otherwise carry only for this command to be listed.
    from .runner import CannotSimulate, Settings, run_simulation

    settings = Settings(
        shop_url=shop_url,
        issuer_url=current_app.config["ISSUER_URL"],
        sandbox_key=sandbox_key,
        flow=flow,
        shoppers=shoppers,
        seed=seed,
        days=days,
        odds=Odds(**odds),
    )
    with click.progressbar(length=shoppers, label=f"Simulating {shoppers} shopper(s)", show_pos=True) as bar:

        def advance(_report: object) -> None:
            bar.update(1)

        try:
            summary = run_simulation(settings, advance)
        except CannotSimulate as error:
            click.echo("", err=True)
            click.echo(f"Error: {error}", err=True)
            raise SystemExit(error.exit_code) from None
    outcomes = summary.outcomes
    click.echo(
        f"Shoppers: {len(summary.reports)}, journeys: {summary.journeys}, orders marked simulated: {summary.marked} "
        f"(moved into the past {days} day(s)); redeemed: {outcomes['redeemed']} ({summary.points:,} points), "
        f"skipped: {outcomes['skipped']}, abandoned: {outcomes['abandoned']}, "
        f"no points card: {outcomes['no_points_card']}, errors: {len(summary.errors)}."
    )
    for error in summary.errors:
        click.echo(f"  {error}", err=True)
    if summary.stopped:
        click.echo(f"Error: {summary.stopped}", err=True)
        raise SystemExit(CannotSimulate.exit_code)
    if summary.errors:
        raise SystemExit(1)
