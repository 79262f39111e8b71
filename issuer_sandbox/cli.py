"""flask --app issuer_sandbox seed | reset | ledger-check | demo-info."""

import click
from flask import Flask

from .extensions import db


def register(app: Flask) -> None:
    @app.cli.command("seed")
    def seed_command() -> None:
        """Create the tables and the sandbox test data (idempotent)."""
        from .seed import seed_database

        db.create_all()
        created = seed_database()
        click.echo("Summit Bank sandbox seeded." if created else "Summit Bank sandbox already seeded.")

    @app.cli.command("reset")
    def reset_command() -> None:
        """Throw away everything and restore the seed state."""
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
