"""The per-journey summary rows (pwp_journeys) that record_event keeps equal a recomputation from the events."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.checkout import events as journey_events
from shop.checkout.events import EVENT_KINDS, journeys_from_events, rebuild_journeys, record_event
from shop.extensions import db
from shop.models import PwpJourney

from .support import fresh_interpreter_output, on_both_databases
from .test_insights import DAY_ONE, build_november, journey, shopper

MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "e5f3a8c1b2d7_pwp_journeys_summary.py"
COLUMNS = [column.name for column in PwpJourney.__table__.c]


def kept_rows() -> list[tuple]:
    """Every summary row as record_event left it, in PwpJourney's column order."""
    return [tuple(row) for row in db.session.execute(sa.select(PwpJourney.__table__).order_by("order_id"))]


def recomputed_rows() -> list[tuple]:
    """The same rows folded from the events alone."""
    source = journeys_from_events().subquery()
    return [tuple(row) for row in db.session.execute(sa.select(*[source.c[n] for n in COLUMNS]).order_by("order_id"))]


@on_both_databases
def test_the_hand_built_journeys_summary_equals_the_events_fold(ctx):
    build_november()  # a retried OTP, a cancelled order, a returning shopper, failures, a legacy journey
    kept = kept_rows()
    assert kept == recomputed_rows()
    assert len(kept) == 8
    by_order = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in kept}
    retried = by_order[min(by_order)]  # journey A: two codes, a wrong one in between, then redeemed
    assert retried["codes_sent"] == 2 and retried["events"] == 7
    assert retried["last_kind"] == "points_redeemed" and retried["last_code"] == ""
    assert retried["code_at"] == DAY_ONE + timedelta(seconds=40)  # the first code, not the resend


@on_both_databases
def test_a_journey_that_ends_in_a_failure_keeps_its_code_and_a_later_step_replaces_it(ctx):
    user = shopper("failing@example.com")
    order = journey(user, DAY_ONE, [("offer_shown", 5), ("code_sent", 10), ("failed", 20, "otpExpired")])
    row = db.session.get(PwpJourney, order.id)
    assert (row.last_kind, row.last_code, row.codes_sent) == ("failed", "otpExpired", 1)
    record_event(order, "skipped", at=DAY_ONE + timedelta(seconds=30))
    db.session.flush()
    db.session.refresh(row)
    assert (row.last_kind, row.last_code, row.skipped_at) == ("skipped", "", DAY_ONE + timedelta(seconds=30))
    assert kept_rows() == recomputed_rows()


@on_both_databases
def test_rebuilding_gives_back_the_rows_record_event_kept_and_only_for_the_orders_asked(ctx):
    build_november()
    kept = kept_rows()
    first, *others = [row[0] for row in kept]
    db.session.execute(sa.delete(PwpJourney.__table__))
    rebuild_journeys([first])
    assert [row[0] for row in kept_rows()] == [first]
    rebuild_journeys()
    assert kept_rows() == kept
    rebuild_journeys([])  # nothing asked: nothing changes
    assert kept_rows() == kept


@on_both_databases
def test_the_migrations_back_fill_folds_existing_events_the_same_way(ctx):
    build_november()
    kept = kept_rows()
    spec = importlib.util.spec_from_file_location("summary_revision", MIGRATION)
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    db.session.execute(sa.delete(PwpJourney.__table__))
    db.session.execute(sa.text(revision.BACK_FILL))
    assert kept_rows() == kept


# Any order of steps (and of timestamps: a step may be recorded with an earlier time than the one before).
steps = st.lists(
    st.tuples(st.sampled_from(EVENT_KINDS), st.integers(min_value=0, max_value=3600), st.sampled_from(["", "otpX"])),
    max_size=12,
)


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(journeys=st.lists(steps, min_size=1, max_size=4))
def test_any_sequence_of_events_keeps_a_summary_equal_to_the_events_fold(ctx, journeys):
    user = shopper("property@example.com")
    paid_at = datetime(2026, 11, 20, 4, 0)
    for events in journeys:
        journey(user, paid_at, list(events))
    assert kept_rows() == recomputed_rows()
    db.session.rollback()


def test_an_unknown_kind_is_refused_before_anything_is_written(ctx):
    order = journey(shopper("unknown@example.com"), DAY_ONE, [])
    with pytest.raises(ValueError, match="Unknown event kind 'teleported'"):
        record_event(order, "teleported")
    assert db.session.get(PwpJourney, order.id).events == 1


def test_a_worker_on_sqlite_never_imports_sqlalchemys_postgresql_dialect():
    # Its package loads four drivers' modules, about 2 MiB per worker; the journey upsert picks its INSERT lazily.
    code = (
        "import sys; from shop import create_app; create_app(); import shop.checkout.events; "
        "print('sqlalchemy.dialects.postgresql' in sys.modules)"
    )
    assert fresh_interpreter_output(code) == "False"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_journey_upsert_uses_its_own_dialects_insert(dialect):
    module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")

    assert journey_events._dialect_insert(dialect) is module.insert
