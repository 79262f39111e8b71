"""flask --app shop seed | demo-info (and Flask-Migrate's flask db ...)."""

import click
from flask import Flask

from .database import upgrade_schema
from .extensions import db, migrate


def register(app: Flask) -> None:
    migrate.init_app(app, db)  # flask db upgrade | migrate | check ..., and the seed command

    @app.cli.command("seed")
    def seed_command() -> None:
        """Upgrade the schema in place (flask db upgrade), then add the catalogue and demo shoppers (idempotent)."""
        from .seed import seed_database

        upgrade_schema()
        created = seed_database()
        click.echo("Harbour Mall seeded." if created else "Harbour Mall already seeded.")

    @app.cli.command("demo-info")
    def demo_info_command() -> None:
        """Print the demo shopper logins (used by make demo)."""
        from .seed import DEMO_SHOPPERS

        click.echo("Harbour Mall demo shoppers:")
        for shopper in DEMO_SHOPPERS:
            click.echo(f"  {shopper.email:<28} password {shopper.password:<10} {shopper.note}")
