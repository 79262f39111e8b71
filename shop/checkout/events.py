"""The Pay with Points events that measure uptake: one row per step a shopper reached, failures with the code.

Each event also folds itself into its checkout's ``PwpJourney`` row in the same transaction (one upsert), so the
insights page aggregates one row per journey instead of grouping every event on every request.
``rebuild_journeys`` recomputes those rows from the events themselves (after moving events in time, in bulk
seeding, and in the tests that check both ways agree).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import Order, PwpEvent, PwpJourney
from ..orders.rules import utcnow

EVENT_KINDS = (
    "card_paid_eligible",
    "offer_shown",
    "code_sent",
    "verified",
    "points_redeemed",
    "skipped",
    "failed",
)
# The journey's "first time it reached this step" columns, by the event kind that marks the step.
FIRST_AT = {
    "card_paid_eligible": "paid_event_at",
    "offer_shown": "offer_at",
    "code_sent": "code_at",
    "verified": "verified_at",
    "points_redeemed": "redeemed_at",
    "skipped": "skipped_at",
}


# One Core INSERT per event: an ORM object would cost the session's unit of work more than the row itself.
_INSERT_EVENT = PwpEvent.__table__.insert()


def record_event(order: Order, kind: str, code: str = "", detail: str = "", *, at: datetime | None = None) -> None:
    """Add a timestamped Pay with Points event for this order and fold it into the order's journey row.

    The caller's transaction commits both. ``at`` defaults to now (tests and bulk seeding give their own).
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"Unknown event kind {kind!r}")
    code, at = code[:60], at or utcnow()
    order_id = order.id
    db.session.execute(
        _INSERT_EVENT,
        {"order_id": order_id, "user_id": order.user_id, "kind": kind, "code": code, "detail": detail[:200], "at": at},
    )
    _fold_into_journey(order_id, kind, code, at)


def _earliest(existing: sa.ColumnElement, new: sa.ColumnElement) -> sa.ColumnElement:
    """The earlier of two nullable timestamps (NULL only when both are)."""
    return sa.case(
        (existing.is_(None), new),
        (new.is_(None), existing),
        (new < existing, new),
        else_=existing,
    )


def _dialect_insert(dialect: str) -> Callable[[sa.Table], Any]:
    """The dialect's INSERT with ON CONFLICT, imported on first use: SQLAlchemy's PostgreSQL package (its four
    drivers' modules, about 2 MiB in every worker) is loaded only where the shop runs on PostgreSQL."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _fold_into_journey(order_id: int, kind: str, code: str, at: datetime) -> None:
    """One atomic upsert: concurrent events of one checkout never race to create or overwrite its row."""
    values = {column: (at if FIRST_AT.get(kind) == column else None) for column in FIRST_AT.values()}
    values |= {
        "order_id": order_id,
        "codes_sent": 1 if kind == "code_sent" else 0,
        "last_kind": kind,
        "last_code": code,
        "events": 1,
    }
    db.session.execute(_fold_statement(db.session.get_bind().dialect.name), values)


# The upsert per dialect, built once: building it (and so its cache key) on every event cost more than running it.
_FOLD_STATEMENTS: dict[str, Any] = {}


def _fold_statement(dialect: str) -> Any:
    """The journey upsert with a bound parameter per column (``_fold_into_journey`` passes their values)."""
    statement = _FOLD_STATEMENTS.get(dialect)
    if statement is None:
        table = PwpJourney.__table__
        columns = [*FIRST_AT.values(), "order_id", "codes_sent", "last_kind", "last_code", "events"]
        parameters = {column: sa.bindparam(column, type_=table.c[column].type) for column in columns}
        insert = _dialect_insert(dialect)(table).values(**parameters)
        update = {column: _earliest(table.c[column], insert.excluded[column]) for column in FIRST_AT.values()}
        update |= {
            "codes_sent": table.c.codes_sent + insert.excluded.codes_sent,
            "last_kind": insert.excluded.last_kind,
            "last_code": insert.excluded.last_code,
            "events": table.c.events + 1,
        }
        statement = insert.on_conflict_do_update(index_elements=[table.c.order_id], set_=update)
        _FOLD_STATEMENTS[dialect] = statement
    return statement


def journeys_from_events(order_ids: list[int] | None = None) -> sa.Select:
    """Each order's journey row computed from its events alone (of ``order_ids``; every order when None)."""

    def first(kind: str) -> sa.ColumnElement:
        return sa.func.min(sa.case((PwpEvent.kind == kind, PwpEvent.at)))

    folded = (
        sa.select(
            PwpEvent.order_id,
            *[first(kind).label(column) for kind, column in FIRST_AT.items()],
            sa.func.count(sa.case((PwpEvent.kind == "code_sent", 1))).label("codes_sent"),
            sa.func.max(PwpEvent.id).label("last_event_id"),
            sa.func.count().label("events"),
        )
        .where(PwpEvent.order_id.is_not(None) if order_ids is None else PwpEvent.order_id.in_(order_ids))
        .group_by(PwpEvent.order_id)
        .subquery("folded")
    )
    last = sa.orm.aliased(PwpEvent, name="last_event")
    return sa.select(
        folded.c.order_id,
        *[folded.c[column] for column in FIRST_AT.values()],
        folded.c.codes_sent,
        last.kind.label("last_kind"),
        last.code.label("last_code"),
        folded.c.events,
    ).join(last, last.id == folded.c.last_event_id)


def rebuild_journeys(order_ids: Iterable[int] | None = None) -> None:
    """Recompute the journey rows of ``order_ids`` (every order when None) from their events."""
    table = PwpJourney.__table__
    ids = None if order_ids is None else list(order_ids)
    if ids == []:
        return
    delete = sa.delete(table) if ids is None else sa.delete(table).where(table.c.order_id.in_(ids))
    db.session.execute(delete)
    source = journeys_from_events(ids)
    db.session.execute(table.insert().from_select([column.name for column in source.selected_columns], source))


_events = PwpEvent.__table__
_HAS_EVENT = sa.select(
    sa.exists().where(_events.c.order_id == sa.bindparam("order_id"), _events.c.kind == sa.bindparam("kind"))
)  # a Core select built once: the points page asks on every visit


def has_event(order: Order, kind: str) -> bool:
    """Whether this order has recorded an event of ``kind``."""
    return bool(db.session.execute(_HAS_EVENT, {"order_id": order.id, "kind": kind}).scalar())
