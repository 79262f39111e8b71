"""Alembic's environment for the sandbox: the app's engine and models, run by Flask-Migrate
(`flask --app issuer_sandbox db ...`).

Flask-Migrate passes ``compare_type=True`` and ``render_as_batch=True`` (SQLite alters a table by copying
it), so autogenerate notices type changes and writes migrations that run on SQLite and PostgreSQL alike.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
# The command line gets alembic.ini's log format; inside a configured process (gunicorn, pytest) its
# logging is left alone.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate = current_app.extensions["migrate"]
target_metadata = migrate.db.metadata


def process_revision_directives(_context, _revision, directives) -> None:
    """`flask db migrate` with no model change writes no empty revision."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline() -> None:
    """`flask db upgrade --sql`: print the SQL instead of running it."""
    url = migrate.db.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, **migrate.configure_args)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    configure_args = {"process_revision_directives": process_revision_directives, **migrate.configure_args}
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **configure_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
