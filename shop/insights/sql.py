"""Two SQL expressions the insights need that SQLite and PostgreSQL spell differently.

SQLite keeps DateTime columns as ISO text (julianday, date modifiers); PostgreSQL has real timestamps
(EXTRACT(EPOCH ...), intervals). Each construct compiles to the right spelling per dialect.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

# Hong Kong has kept UTC+8 all year since 1979: a fixed offset, no time-zone database needed.
HONG_KONG_OFFSET_HOURS = 8


class SecondsBetween(FunctionElement):
    """Whole seconds from ``start`` to ``end`` (NULL when either is NULL)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "seconds_between"


@compiles(SecondsBetween, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"CAST(ROUND((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
        " * 86400) AS INTEGER)"
    )


@compiles(SecondsBetween, "postgresql")
def _seconds_between_postgresql(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"CAST(ROUND(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))) AS BIGINT)"
    )


class HongKongDay(FunctionElement):
    """The Hong Kong calendar day of a UTC timestamp, as 'YYYY-MM-DD' text."""

    type = sa.String()
    inherit_cache = True
    name = "hong_kong_day"


@compiles(HongKongDay, "sqlite")
def _hong_kong_day_sqlite(element, compiler, **kw):
    (moment,) = list(element.clauses)
    return f"date({compiler.process(moment, **kw)}, '+{HONG_KONG_OFFSET_HOURS} hours')"


@compiles(HongKongDay, "postgresql")
def _hong_kong_day_postgresql(element, compiler, **kw):
    (moment,) = list(element.clauses)
    return f"to_char({compiler.process(moment, **kw)} + interval '{HONG_KONG_OFFSET_HOURS} hours', 'YYYY-MM-DD')"


def seconds_between(start: ColumnElement, end: ColumnElement) -> SecondsBetween:
    """Whole seconds from ``start`` to ``end``."""
    return SecondsBetween(start, end)


def hong_kong_day(moment: ColumnElement) -> HongKongDay:
    """The Hong Kong day of ``moment`` as 'YYYY-MM-DD'."""
    return HongKongDay(moment)
