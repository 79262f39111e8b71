"""flask --app shop seed | demo-info | reconcile | simulate (and Flask-Migrate's flask db ...)."""

import click
from flask import Flask

from .database import upgrade_schema
from .extensions import db, migrate
from .simulation.command import simulate_command


def register(app: Flask) -> None:
    migrate.init_app(app, db)  # flask db upgrade | migrate | check ..., and the seed command
    app.cli.add_command(simulate_command)  # demo data: real checkouts through both running apps (simulation/)

    @app.cli.command("seed")
    def seed_command() -> None:
        """Upgrade the schema in place (flask db upgrade), then add the catalogue and demo shoppers (idempotent)."""
        from .seed import seed_database

        upgrade_schema()
        created = seed_database()
        click.echo("Harbour Mall seeded." if created else "Harbour Mall already seeded.")

    @app.cli.command("demo-info")
    def demo_info_command() -> None:
        """Print the demo logins, shoppers and staff (used by make demo)."""
        from .seed import DEMO_SHOPPERS

        click.echo("Harbour Mall demo logins:")
        for shopper in DEMO_SHOPPERS:
            click.echo(f"  {shopper.email:<28} password {shopper.password:<10} {shopper.note}")

    @app.cli.command("reconcile")
    @click.option(
        "--stale-after",
        type=click.IntRange(min=0),
        default=None,
        help="Seconds after which an intent with no answer is stale (default: RECONCILE_AFTER_SECONDS).",
    )
    def reconcile_command(stale_after: int | None) -> None:
        """Settle every order whose bank outcome is unknown or stale through the bank's look-ups (safe to repeat).

        Prints one line per change and a summary; exits 1, listing them, when some order is still unknown
        because the bank could not be reached or could not confirm it yet.
        """
        from .issuer_client import get_issuer_client
        from .orders.reconciliation import reconcile_all

        report = reconcile_all(get_issuer_client(), after_seconds=stale_after)
        for order in report.changed:
            for change in order.changes:
                click.echo(f"{order.reference} {change}")
        for reference in report.left_for_now:
            click.echo(f"{reference} left for now: its intent is recent, a worker may still be waiting on the bank")
        unknown = report.still_unknown
        click.echo(
            f"Reconciled {len(report.orders)} order(s): {len(report.changed)} changed, "
            f"{len(unknown)} still unknown, {len(report.left_for_now)} left for now."
        )
        if unknown:
            click.echo("Still unknown (the bank could not be reached or confirm it yet):", err=True)
            for order in unknown:
                click.echo(f"  {order.reference}: {order.still_unknown}", err=True)
            raise SystemExit(1)
