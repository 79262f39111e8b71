"""flask --app issuer_sandbox seed | reset | ledger-check | demo-info (and Flask-Migrate's flask db ...)."""

import click
from flask import Flask

from .database import upgrade_schema
from .extensions import db, migrate


def register(app: Flask) -> None:
    migrate.init_app(app, db)  # flask db upgrade | migrate | check ..., and the seed command

    @app.cli.command("seed")
    def seed_command() -> None:
        """Upgrade the schema in place (flask db upgrade), then create the sandbox test data (idempotent)."""
        from .seed import seed_database

        upgrade_schema()
        created = seed_database()
        click.echo("Summit Bank sandbox seeded." if created else "Summit Bank sandbox already seeded.")

    @app.cli.command("reset")
    def reset_command() -> None:
        """Empty every table and restore the seed state (tables stay: safe while the sandbox runs)."""
        from .seed import reset_database

        reset_database()
        click.echo("Summit Bank sandbox reset to its seed state.")

    @app.cli.command("ledger-check")
    def ledger_check_command() -> None:
        """Recompute every points balance from the ledger; exit 1 on any mismatch."""
        from .ledger import check_ledger

        problems = check_ledger()
        for problem in problems:
            click.echo(f"MISMATCH {problem}", err=True)
        if problems:
            raise SystemExit(1)
        click.echo("Ledger OK: every balance equals the sum of its entries, and all entries sum to zero.")

    @app.cli.command("demo-info")
    def demo_info_command() -> None:
        """Print the sandbox's test cards and credentials (used by make demo)."""
        from .seed import describe_test_data

        click.echo(describe_test_data())
