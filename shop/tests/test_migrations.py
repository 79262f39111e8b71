"""The shop's migrations: they build exactly the models' schema, and seed upgrades an older database in place.

The other tests build their schema with ``create_all()`` for speed; the comparison here is what keeps that
honest: a model changed without a migration fails it, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from shop import create_app
from shop.catalog_data import PRODUCTS
from shop.database import BASELINE_REVISION, upgrade_schema
from shop.extensions import MIGRATIONS_DIRECTORY, db
from shop.models import Product, User

DATA = Path(__file__).with_name("data")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_app(request, tmp_path):
    """The shop on an empty database (no tables): SQLite, and PostgreSQL when TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def schema_differences(metadata: sa.MetaData | None = None) -> list:
    """What autogenerate would write into a new migration: the models against the database as it is."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata if metadata is not None else db.metadata)


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(app) -> str:
    directory = app.extensions["migrate"].directory
    return ScriptDirectory(directory).get_current_head()


def load_schema_before_migrations() -> None:
    """The tables create_all() made before migrations (a snapshot checked in under tests/data/)."""
    ddl = (DATA / f"schema_before_migrations.{db.engine.dialect.name}.sql").read_text()
    statements = [part.strip() for part in ddl.split(";")]
    with db.engine.begin() as connection:
        for statement in statements:
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
            if body:
                connection.exec_driver_sql(body)


def test_the_migrations_build_exactly_the_models_schema(empty_app):
    with empty_app.app_context():
        flask_migrate.upgrade()
        assert schema_differences() == []
        assert current_revision() == head_revision(empty_app)


def test_a_model_change_without_a_migration_is_caught(empty_app):
    with empty_app.app_context():
        flask_migrate.upgrade()
        changed = sa.MetaData(naming_convention=db.metadata.naming_convention)
        for table in db.metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["users"].append_column(sa.Column("nickname", sa.String(40), nullable=True))
        differences = schema_differences(changed)
        assert [(kind, table, col.name) for kind, _schema, table, col in differences] == [
            ("add_column", "users", "nickname")
        ]


def test_the_seed_command_migrates_an_empty_database_and_seeds_it(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "Harbour Mall seeded." in result.output
    with empty_app.app_context():
        assert current_revision() == head_revision(empty_app)
        assert db.session.scalar(sa.select(sa.func.count(Product.id))) == len(PRODUCTS)


def test_seed_upgrades_a_database_made_before_migrations_and_keeps_its_rows(empty_app):
    with empty_app.app_context():
        load_schema_before_migrations()
        assert "alembic_version" not in sa.inspect(db.engine).get_table_names()
        with db.engine.begin() as connection:
            # Only the columns that schema had: today's model has more, with defaults of its own.
            old_users = sa.table(
                "users", *(sa.column(name) for name in ("email", "name", "password_hash", "phone", "created_at"))
            )
            connection.execute(
                sa.insert(old_users).values(
                    email="existing@example.com",
                    name="Existing Shopper",
                    password_hash="x",
                    phone="98765432",
                    created_at=datetime(2026, 1, 2, 3, 4, 5),
                )
            )

    result = empty_app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output

    with empty_app.app_context():
        assert current_revision() == head_revision(empty_app)
        assert schema_differences() == []
        existing = db.session.scalar(sa.select(User).where(User.email == "existing@example.com"))
        assert (existing.name, existing.phone, existing.created_at) == (
            "Existing Shopper",
            "98765432",
            datetime(2026, 1, 2, 3, 4, 5),
        )
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 4  # and the demo shoppers and staff login
        assert db.session.scalar(sa.select(sa.func.count(Product.id))) == len(PRODUCTS)


def test_upgrading_twice_changes_nothing(empty_app):
    with empty_app.app_context():
        upgrade_schema()
        upgrade_schema()
        assert current_revision() == head_revision(empty_app)
        assert schema_differences() == []


def test_the_initial_revision_is_the_baseline_a_database_before_migrations_is_stamped_at(empty_app):
    script = ScriptDirectory(empty_app.extensions["migrate"].directory)
    assert script.get_revision(BASELINE_REVISION).down_revision is None
    assert [revision.revision for revision in script.walk_revisions()][-1] == BASELINE_REVISION


def test_a_database_of_another_app_is_refused_not_stamped(empty_app):
    with empty_app.app_context():
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE something_else (id INTEGER PRIMARY KEY)")
        with pytest.raises(RuntimeError, match="lacks the tables card_links, categories"):
            upgrade_schema()
        assert "alembic_version" not in sa.inspect(db.engine).get_table_names()


def test_a_worker_serving_requests_never_imports_alembic():
    # Alembic, Mako and Pygments are about 11 MiB per process; only the schema upgrade and `flask db` need them.
    code = (
        "import sys; from shop import create_app; create_app(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'flask_migrate', 'mako', 'pygments'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)

    assert done.stdout.strip() == "[]"


def test_flask_db_commands_bind_flask_migrate_on_first_use(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    app = create_app({"DATABASE_URL": url})

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output
    with sa.create_engine(url).connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory(MIGRATIONS_DIRECTORY).get_current_head()
