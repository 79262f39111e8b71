"""The sandbox's migrations and reset: the schema the migrations build is the models', seed upgrades an older
database in place, and a reset empties the tables a running sandbox keeps using instead of dropping them.

The other tests build their schema with ``create_all()`` for speed; the comparison here is what keeps that
honest: a model changed without a migration fails it, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from issuer_sandbox import clock, create_app, ledger
from issuer_sandbox.database import BASELINE_REVISION, upgrade_schema
from issuer_sandbox.extensions import MIGRATIONS_DIRECTORY, db
from issuer_sandbox.models import Card, FaultRule, LedgerEntry
from issuer_sandbox.seed import TEST_CARDS, seed_database

from .conftest import SANDBOX_KEY, close_app

DATA = Path(__file__).with_name("data")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database: a SQLite file, and a fresh PostgreSQL database when TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'issuer.sqlite3'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def empty_app(database_url):
    """The sandbox on an empty database (no tables)."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False})
    yield app
    close_app(app)


def schema_differences(metadata: sa.MetaData | None = None) -> list:
    """What autogenerate would write into a new migration: the models against the database as it is."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata if metadata is not None else db.metadata)


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(app) -> str:
    return ScriptDirectory(app.extensions["migrate"].directory).get_current_head()


def load_schema_before_migrations() -> None:
    """The tables create_all() made before migrations (a snapshot checked in under tests/data/)."""
    ddl = (DATA / f"schema_before_migrations.{db.engine.dialect.name}.sql").read_text()
    with db.engine.begin() as connection:
        for statement in ddl.split(";"):
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
            if body:
                connection.exec_driver_sql(body)


def card_ending(last4: str) -> Card:
    return db.session.scalar(sa.select(Card).where(Card.last4 == last4))


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
        changed.tables["cards"].append_column(sa.Column("nickname", sa.String(40), nullable=True))
        differences = schema_differences(changed)
        assert [(kind, table, column.name) for kind, _schema, table, column in differences] == [
            ("add_column", "cards", "nickname")
        ]


def test_the_initial_revision_is_the_baseline_a_database_before_migrations_is_stamped_at(empty_app):
    script = ScriptDirectory(empty_app.extensions["migrate"].directory)
    assert script.get_revision(BASELINE_REVISION).down_revision is None
    assert [revision.revision for revision in script.walk_revisions()][-1] == BASELINE_REVISION


def test_the_seed_command_migrates_an_empty_database_and_seeds_it(empty_app):
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "Summit Bank sandbox seeded." in result.output
    with empty_app.app_context():
        assert current_revision() == head_revision(empty_app)
        assert ledger.balance_of(card_ending("8741")) == 120_000
    assert runner.invoke(args=["ledger-check"]).exit_code == 0


def test_seed_upgrades_a_database_made_before_migrations_and_keeps_its_rows(empty_app):
    with empty_app.app_context():
        load_schema_before_migrations()
        assert "alembic_version" not in sa.inspect(db.engine).get_table_names()
        seed_database()  # what `seed` did before migrations: create_all(), then this
        ledger.issue_points(card_ending("0102"), 1_200, "Points earned before the upgrade", clock.now(), "OLD-1")
        db.session.commit()
        entries_before = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
        db.session.remove()

    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "Summit Bank sandbox already seeded." in result.output

    with empty_app.app_context():
        assert current_revision() == head_revision(empty_app)
        assert schema_differences() == []
        assert ledger.balance_of(card_ending("0102")) == 800 + 1_200
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == entries_before
    assert runner.invoke(args=["ledger-check"]).exit_code == 0


def test_a_database_of_another_app_is_refused_not_stamped(empty_app):
    with empty_app.app_context():
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE something_else (id INTEGER PRIMARY KEY)")
        with pytest.raises(RuntimeError, match="lacks the tables access_tokens, card_statement_lines"):
            upgrade_schema()
        assert "alembic_version" not in sa.inspect(db.engine).get_table_names()


def table_identity(connection: sa.Connection, table: str):
    """What changes when a table is dropped and created again (its OID, its root page), not when it is emptied."""
    if connection.dialect.name == "postgresql":
        return connection.execute(sa.text("SELECT CAST(:t AS regclass)::oid"), {"t": table}).scalar_one()
    query = sa.text("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = :t")
    return connection.execute(query, {"t": table}).scalar_one()


@pytest.mark.parametrize("reset_through", ["sandbox API", "command"])
def test_a_reset_while_another_worker_is_connected_restores_the_seed_state_in_the_same_tables(
    empty_app, database_url, reset_through
):
    client = empty_app.test_client()
    runner = empty_app.test_cli_runner()
    assert runner.invoke(args=["seed"]).exit_code == 0
    with empty_app.app_context():
        happy = card_ending("8741")
        happy_id = happy.id
        ledger.issue_points(happy, 5_000, "Bonus", clock.now(), reference="BONUS-1")
        card_ending("0102").status = "FROZEN"
        db.session.add(FaultRule(endpoint="balance", latency_ms=0, created_at=clock.now()))
        db.session.commit()
        clock.advance(3_600)
        db.session.remove()

    # Another worker of the running sandbox: its own engine, a connection it keeps open and reuses.
    other_worker = sa.create_engine(database_url)
    try:
        with other_worker.connect() as worker_connection:
            cards_table = table_identity(worker_connection, "cards")
            assert (
                worker_connection.execute(sa.text("SELECT status FROM cards WHERE last4 = '0102'")).scalar() == "FROZEN"
            )
            worker_connection.rollback()  # idle between requests, connection still open

            if reset_through == "sandbox API":
                response = client.post("/sandbox/api/reset", headers={"X-Sandbox-Key": SANDBOX_KEY})
                assert response.status_code == 200, response.get_data(as_text=True)
            else:
                result = runner.invoke(args=["reset"])
                assert result.exit_code == 0, result.output

            # The worker's open connection goes on with the same tables, now in the seed state.
            assert table_identity(worker_connection, "cards") == cards_table
            statuses = dict(worker_connection.execute(sa.text("SELECT last4, status FROM cards")).all())
            assert statuses == {card.number[-4:]: card.status for card in TEST_CARDS}
            assert worker_connection.execute(sa.text("SELECT count(*) FROM fault_rules")).scalar() == 0
    finally:
        other_worker.dispose()

    with empty_app.app_context():
        assert card_ending("8741").id == happy_id  # ids start again where a fresh seed starts them
        assert ledger.balance_of(card_ending("8741")) == 120_000
        assert clock.offset_seconds() == 0
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.transaction.has(reference="BONUS-1"))
            )
            == 0
        )
    result = runner.invoke(args=["ledger-check"])
    assert result.exit_code == 0, result.output


def test_a_worker_serving_requests_never_imports_alembic():
    # Alembic, Mako and Pygments are about 11 MiB per process; only the schema upgrade and `flask db` need them.
    code = (
        "import sys; from issuer_sandbox import create_app; create_app(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'flask_migrate', 'mako', 'pygments'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)

    assert done.stdout.strip() == "[]"


def test_flask_db_commands_bind_flask_migrate_on_first_use(tmp_path):
    url = f"sqlite:///{tmp_path / 'issuer.sqlite3'}"
    app = create_app({"DATABASE_URL": url})

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output
    with sa.create_engine(url).connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory(MIGRATIONS_DIRECTORY).get_current_head()
