"""Flask extensions, created unbound and bound in create_app."""

from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app, has_app_context
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Stable constraint names keep migrations and error messages readable on SQLite and PostgreSQL alike.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention))
csrf = CSRFProtect()
# Per-address limits on failed sign-ins and client authentications (rate_limits.py); no limit unless a view has one.
limiter = Limiter(key_func=get_remote_address)
# English and Traditional Chinese (Hong Kong); bound with its locale selector by i18n.init_app.
babel = Babel()


# The schema's history: Alembic revisions in this package's migrations/ folder (see database.upgrade_schema).
MIGRATIONS_DIRECTORY = str(Path(__file__).with_name("migrations"))


class LazyMigrate:
    """Flask-Migrate, imported the first time something needs it: the schema upgrade, `flask db ...`, a test.

    Alembic (and Mako and Pygments behind it) is about 11 MiB in every process that imports it, and a worker
    serving requests never uses it. ``init_app`` registers stand-ins, ``app.extensions["migrate"]`` and the
    ``db`` command group, that bind the real extension on first use.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._migrate: Any = None

    def init_app(self, app: Flask, database: SQLAlchemy) -> None:
        app.extensions["migrate"] = _PendingMigrateConfig(self, app, database)
        app.cli.add_command(_MigrateCommands(name="db", help="Perform database migrations (Flask-Migrate)."))

    def bind(self, app: Flask, database: SQLAlchemy) -> Any:
        """Bind the real Flask-Migrate to the app (importing it); returns its ``app.extensions["migrate"]``."""
        from flask_migrate import Migrate

        if self._migrate is None:
            self._migrate = Migrate(directory=self.directory)
        self._migrate.init_app(app, database)  # replaces both stand-ins
        return app.extensions["migrate"]


class _PendingMigrateConfig:
    """``app.extensions["migrate"]`` until Flask-Migrate is first used: any attribute binds the real one."""

    def __init__(self, lazy: LazyMigrate, app: Flask, database: SQLAlchemy) -> None:
        self._lazy, self._app, self._database = lazy, app, database

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lazy.bind(self._app, self._database), name)


class _MigrateCommands(click.Group):
    """``flask db ...``: Flask-Migrate's command group, imported when the group is used."""

    def _group(self) -> click.Group:
        if has_app_context():
            current_app.extensions["migrate"].directory  # noqa: B018 - binds the real extension to this app
        from flask_migrate.cli import db as group

        return group

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any):
        # The real group parses its own options (-d, -x) and runs its callback, then its subcommand.
        return self._group().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._group().get_command(ctx, cmd_name)


migrate = LazyMigrate(MIGRATIONS_DIRECTORY)
