"""flask --app shop seed."""

import click
from flask import Flask

from .extensions import db


def register(app: Flask) -> None:
    @app.cli.command("seed")
    def seed_command() -> None:
        """Create the tables, the catalogue and the demo shoppers (idempotent)."""
        from .seed import seed_database

        db.create_all()
        created = seed_database()
        click.echo("Harbour Mall seeded." if created else "Harbour Mall already seeded.")

    @app.cli.command("demo-info")
    def demo_info_command() -> None:
        """Print the demo shopper logins (used by make demo)."""
        from .seed import DEMO_SHOPPERS

        click.echo("Harbour Mall demo shoppers:")
        for shopper in DEMO_SHOPPERS:
            click.echo(f"  {shopper.email:<28} password {shopper.password:<10} {shopper.note}")
