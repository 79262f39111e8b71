"""The merchant's Pay with Points figures, each one SQL aggregate over the orders and their journey rows.

A *journey* is one checkout paid with a Summit points card (``orders.card_points_eligible``) whose payment falls
in the chosen Hong Kong days, in the chosen flow. Orders later cancelled in full are left out of every figure
(and counted, so the page can say so). Each journey's events are already folded into one ``PwpJourney`` row
(first time of each step, codes sent, its latest event's kind and code) by ``record_event`` as they are written,
so a page reads one row per journey and no event; every figure is an aggregate or a window over those rows, and
nothing loops over events in Python. Percentiles are nearest-rank (the value at rank ceil(p x n)), computed with
ROW_NUMBER and COUNT windows because SQLite has no percentile function.

Speed: a page joins each order in range to its journey row and card link once: ``folded_journeys`` writes those
rows, with the seconds spent in each step, into a temporary table inside the request's own transaction; every
figure reads that small table, and the table is dropped before the transaction ends. A temporary table is
private to its connection on both databases, and on SQLite it lives outside the main database file: a read-only
request still takes no write lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.sql.selectable import FromClause

from ..extensions import db
from ..models import CardLink, Order, PwpJourney
from .sql import HONG_KONG_OFFSET_HOURS, hong_kong_day, seconds_between

FLOW_CHOICES = ("all", "native", "legacy")
DEFAULT_RANGE_DAYS = 60
# The funnel's steps in order; "returning" is the already-linked shoppers' own step (offer -> redeemed).
STEPS = ("paid", "offer_shown", "code_sent", "linked", "points_redeemed")


@dataclass(frozen=True)
class InsightsFilter:
    """What the page shows: Hong Kong days ``start``..``end`` (inclusive), a flow, simulated journeys or not."""

    start: date
    end: date
    flow: str = "all"
    hide_simulated: bool = False

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """The range as naive UTC datetimes [from, to): the shop stores UTC, the days are Hong Kong's."""
        offset = timedelta(hours=HONG_KONG_OFFSET_HOURS)
        start = datetime.combine(self.start, datetime.min.time()) - offset
        end = datetime.combine(self.end + timedelta(days=1), datetime.min.time()) - offset
        return start, end


def hong_kong_today(now: datetime) -> date:
    """Today's date in Hong Kong for a naive UTC ``now``."""
    return (now + timedelta(hours=HONG_KONG_OFFSET_HOURS)).date()


def default_filter(now: datetime) -> InsightsFilter:
    """The last 60 Hong Kong days, today included, every flow, simulated journeys shown."""
    today = hong_kong_today(now)
    return InsightsFilter(start=today - timedelta(days=DEFAULT_RANGE_DAYS - 1), end=today)


@dataclass(frozen=True)
class Share:
    """``part`` of ``whole``; no percentage when ``whole`` is 0."""

    part: int
    whole: int

    @property
    def tenths_of_percent(self) -> int | None:
        """The share in tenths of a percent, rounded half up (integer maths: 1 of 3 -> 333)."""
        if self.whole == 0:
            return None
        return (self.part * 2000 + self.whole) // (2 * self.whole)

    @property
    def percent_text(self) -> str:
        tenths = self.tenths_of_percent
        return "—" if tenths is None else f"{tenths // 10}.{tenths % 10}%"


def average_cents(total_cents: int, count: int) -> int | None:
    """The average in whole cents, rounded half up; None when there is nothing to average."""
    if count == 0:
        return None
    return (total_cents * 2 + count) // (2 * count)


@dataclass(frozen=True)
class Kpis:
    purchases: int
    redeemed: int
    points_redeemed: int
    credit_cents: int
    basket_with_points_total_cents: int
    purchases_with_points: int
    basket_without_points_total_cents: int
    purchases_without_points: int
    shoppers: int
    repeat_shoppers: int
    simulated: int  # how many of the shown journeys are simulated
    simulated_hidden: int  # how many were left out by "hide simulated journeys"
    cancelled_left_out: int

    @property
    def uptake(self) -> Share:
        return Share(self.redeemed, self.purchases)

    @property
    def repeat_share(self) -> Share:
        return Share(self.repeat_shoppers, self.shoppers)

    @property
    def simulated_share(self) -> Share:
        return Share(self.simulated, self.purchases)

    @property
    def average_basket_with_points_cents(self) -> int | None:
        return average_cents(self.basket_with_points_total_cents, self.purchases_with_points)

    @property
    def average_basket_without_points_cents(self) -> int | None:
        return average_cents(self.basket_without_points_total_cents, self.purchases_without_points)


@dataclass(frozen=True)
class StepTiming:
    """Time spent in a step by the journeys that moved on from it: how many, median and 90th percentile."""

    journeys: int = 0
    median_seconds: int | None = None
    p90_seconds: int | None = None


@dataclass(frozen=True)
class FunnelStep:
    key: str
    count: int
    returning: int = 0  # already-linked shoppers counted in this step (no OTP)
    reached_from: int | None = None  # the journeys that could reach this step from the one before
    timing: StepTiming = field(default_factory=StepTiming)  # time spent in this step before the next

    @property
    def dropped(self) -> int | None:
        return None if self.reached_from is None else self.reached_from - self.count

    @property
    def dropped_share(self) -> Share | None:
        return None if self.reached_from is None else Share(self.reached_from - self.count, self.reached_from)


@dataclass(frozen=True)
class Funnel:
    steps: list[FunnelStep]
    returning_reached: int  # returning shoppers who saw the offer (already linked: no OTP)
    returning_redeemed: int
    returning_timing: StepTiming  # offer shown -> points redeemed, returning shoppers only
    otp_retries: int  # journeys that asked for more than one code
    failures: list[tuple[str, int]]  # failure codes that ended journeys, most frequent first

    def step(self, key: str) -> FunnelStep:
        return next(step for step in self.steps if step.key == key)


@dataclass(frozen=True)
class DayUptake:
    day: date
    purchases: int
    redeemed: int

    @property
    def uptake(self) -> Share:
        return Share(self.redeemed, self.purchases)


@dataclass(frozen=True)
class Insights:
    filter: InsightsFilter
    kpis: Kpis
    funnel: Funnel
    days: list[DayUptake]

    @property
    def is_empty(self) -> bool:
        return self.kpis.purchases == 0


# --- The journeys: one row per checkout ------------------------------------------------------------------


def _order_conditions(selected: InsightsFilter, *, include_simulated: bool = False) -> list[sa.ColumnElement]:
    """Points-card purchases paid in the range and flow (cancelled ones included: callers choose)."""
    start, end = selected.utc_bounds()
    conditions: list[sa.ColumnElement] = [
        Order.card_points_eligible.is_(True),
        Order.paid_at >= start,
        Order.paid_at < end,
    ]
    if selected.flow != "all":
        conditions.append(Order.pwp_flow == selected.flow)
    if selected.hide_simulated and not include_simulated:
        conditions.append(Order.simulated.is_(False))
    return conditions


def journeys_select(selected: InsightsFilter) -> sa.Select:
    """One row per journey: the order's figures and the first time it reached each step (JOURNEYS' columns).

    The steps come from the journey's ``PwpJourney`` row, which ``record_event`` keeps up to date: no event is
    read here. ``is_returning``: the shopper saw the offer with the card already linked (no code sent or verified
    in this journey, and either the link was active before the offer or points were redeemed without an OTP).
    ``linked_at``: when the journey reached "verified (or already linked)". ``ended_by_failure``: its latest
    event was a failure (1) or not (0).
    """
    folded = (
        sa.select(
            Order.id.label("order_id"),
            Order.reference,
            Order.user_id,
            Order.pwp_flow,
            Order.simulated,
            Order.paid_at,
            (Order.total_cents - Order.refunded_cents).label("basket_cents"),
            (Order.points_used - Order.points_reversed).label("points"),
            (Order.statement_credit_cents - Order.credit_reversed_cents).label("credit_cents"),
            PwpJourney.offer_at,
            PwpJourney.code_at,
            sa.func.coalesce(PwpJourney.codes_sent, 0).label("codes_sent"),
            PwpJourney.verified_at,
            PwpJourney.redeemed_at,
            PwpJourney.skipped_at,
            sa.case((PwpJourney.last_kind == "failed", 1), else_=0).label("ended_by_failure"),
            sa.case((PwpJourney.last_kind == "failed", PwpJourney.last_code), else_="").label("failure_code"),
            Order.card_last4,
        )
        .select_from(Order)
        .outerjoin(PwpJourney, PwpJourney.order_id == Order.id)
        .where(*_order_conditions(selected), Order.status != "CANCELLED")
        .subquery("folded")
    )
    # The card's link (one per shopper and card) is looked up once per journey, not once per event.
    returning = sa.and_(
        folded.c.offer_at.is_not(None),
        folded.c.code_at.is_(None),
        folded.c.verified_at.is_(None),
        sa.or_(folded.c.redeemed_at.is_not(None), CardLink.activated_at <= folded.c.offer_at),
    )
    return (
        sa.select(
            *[column for column in folded.c if column.key != "card_last4"],
            sa.case((returning, 1), else_=0).label("is_returning"),
            sa.case((returning, folded.c.offer_at), else_=folded.c.verified_at).label("linked_at"),
            # The time spent in each step before the next (NULL: the journey did not move on from it), worked out
            # here once per journey so the timings read whole seconds.
            seconds_between(folded.c.paid_at, folded.c.offer_at).label("paid_seconds"),
            seconds_between(folded.c.offer_at, folded.c.code_at).label("offer_seconds"),
            seconds_between(folded.c.code_at, folded.c.verified_at).label("code_seconds"),
            sa.case((returning, None), else_=seconds_between(folded.c.verified_at, folded.c.redeemed_at)).label(
                "linked_seconds"
            ),
            sa.case((returning, seconds_between(folded.c.offer_at, folded.c.redeemed_at))).label("returning_seconds"),
        )
        .select_from(folded)
        .outerjoin(CardLink, sa.and_(CardLink.user_id == folded.c.user_id, CardLink.card_last4 == folded.c.card_last4))
    )


# The folded journeys of one page, as a temporary table. Its own MetaData, never db.metadata: it is no part of
# the schema (migrations and the models/migrations comparison never see it).
JOURNEYS = sa.Table(
    "insights_journeys",
    sa.MetaData(),
    sa.Column("order_id", sa.Integer),
    sa.Column("reference", sa.String(20)),
    sa.Column("user_id", sa.Integer),
    sa.Column("pwp_flow", sa.String(10)),
    sa.Column("simulated", sa.Boolean),
    sa.Column("paid_at", sa.DateTime),
    sa.Column("basket_cents", sa.BigInteger),
    sa.Column("points", sa.BigInteger),
    sa.Column("credit_cents", sa.BigInteger),
    sa.Column("offer_at", sa.DateTime),
    sa.Column("code_at", sa.DateTime),
    sa.Column("codes_sent", sa.Integer),
    sa.Column("verified_at", sa.DateTime),
    sa.Column("redeemed_at", sa.DateTime),
    sa.Column("skipped_at", sa.DateTime),
    sa.Column("ended_by_failure", sa.Integer),
    sa.Column("failure_code", sa.String(60)),
    sa.Column("is_returning", sa.Integer),
    sa.Column("linked_at", sa.DateTime),
    *[sa.Column(f"{step}_seconds", sa.BigInteger) for step in ("paid", "offer", "code", "linked", "returning")],
    prefixes=["TEMPORARY"],
)
# The schema each database keeps its temporary tables in: DROP ... IF EXISTS never reaches a real table.
_TEMPORARY_SCHEMA = {"sqlite": "temp", "postgresql": "pg_temp"}


def _drop_journeys_table(connection: sa.Connection) -> None:
    schema = _TEMPORARY_SCHEMA[connection.dialect.name]
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{JOURNEYS.name}")


@contextmanager
def folded_journeys(selected: InsightsFilter) -> Iterator[FromClause]:
    """The journeys of ``selected`` folded once into a temporary table, for every figure of one page.

    Created in the session's current transaction and dropped when the block ends. When the block fails, the
    transaction's rollback takes the table with it (DDL is transactional on both databases), and the next page
    drops any table left by an earlier one before it creates its own.
    """
    connection = db.session.connection()
    _drop_journeys_table(connection)
    JOURNEYS.create(connection)
    connection.execute(JOURNEYS.insert().from_select([column.name for column in JOURNEYS.c], journeys_select(selected)))
    yield JOURNEYS
    _drop_journeys_table(connection)


def _flag(condition: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _total(expression: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(expression), 0)


# --- The figures ----------------------------------------------------------------------------------------


def _step_counts(journeys: FromClause) -> sa.Row:
    redeemed = journeys.c.redeemed_at.is_not(None)
    return db.session.execute(
        sa.select(
            sa.func.count().label("paid"),
            sa.func.count(journeys.c.offer_at).label("offer_shown"),
            sa.func.count(journeys.c.code_at).label("code_sent"),
            sa.func.count(journeys.c.verified_at).label("verified"),
            sa.func.count(journeys.c.linked_at).label("linked"),
            sa.func.count(journeys.c.redeemed_at).label("points_redeemed"),
            _total(journeys.c.is_returning).label("returning_count"),
            _flag(sa.and_(journeys.c.is_returning == 1, redeemed)).label("returning_redeemed"),
            _flag(journeys.c.codes_sent > 1).label("otp_retries"),
            _flag(journeys.c.simulated.is_(True)).label("simulated"),
            _total(journeys.c.points).label("points"),
            _total(journeys.c.credit_cents).label("credit_cents"),
            _total(sa.case((redeemed, journeys.c.basket_cents), else_=0)).label("basket_with_points"),
            _total(sa.case((redeemed, 0), else_=journeys.c.basket_cents)).label("basket_without_points"),
        ).select_from(journeys)
    ).one()


def _repeat_shoppers(journeys: FromClause) -> sa.Row:
    per_shopper = (
        sa.select(journeys.c.user_id, sa.func.count().label("purchases")).group_by(journeys.c.user_id).subquery()
    )
    return db.session.execute(
        sa.select(sa.func.count().label("shoppers"), _flag(per_shopper.c.purchases >= 2).label("repeat"))
    ).one()


def _left_out(selected: InsightsFilter) -> sa.Row:
    """Purchases in range left out of every figure: cancelled in full, or simulated and hidden."""
    conditions = _order_conditions(selected, include_simulated=True)
    hidden = sa.and_(Order.simulated.is_(True), Order.status != "CANCELLED") if selected.hide_simulated else sa.false()
    cancelled = Order.status == "CANCELLED"
    if selected.hide_simulated:
        cancelled = sa.and_(cancelled, Order.simulated.is_(False))
    return db.session.execute(
        sa.select(_flag(cancelled).label("cancelled"), _flag(hidden).label("simulated_hidden")).where(*conditions)
    ).one()


def _step_durations(journeys: FromClause) -> sa.Select:
    """(step, seconds, journeys): how many journeys spent exactly that many seconds in a step before the next."""
    j = journeys.c
    parts = [
        ("paid", j.paid_seconds),
        ("offer_shown", j.offer_seconds),
        ("code_sent", j.code_seconds),
        ("linked", j.linked_seconds),
        ("returning", j.returning_seconds),
    ]
    return sa.union_all(
        *[
            sa.select(sa.literal(step).label("step"), seconds.label("seconds"), sa.func.count().label("journeys"))
            .where(seconds.is_not(None))
            .group_by(seconds)
            for step, seconds in parts
        ]
    )


def _timings(journeys: FromClause) -> dict[str, StepTiming]:
    """Median and 90th percentile (nearest rank) of each step's durations, in one query for every step.

    The durations are counted per (step, whole second) first: a few hundred distinct values instead of one row
    per journey and step, so the windows run over that histogram. The value at rank r is the smallest duration
    whose running count reaches r, exactly what ranking every row would give.
    """
    histogram = _step_durations(journeys).subquery("histogram")
    # PostgreSQL's SUM of counts is numeric: cast back, so ceil(n x p / 100) below stays integer division.
    running = sa.select(
        histogram.c.step,
        histogram.c.seconds,
        histogram.c.journeys,
        sa.cast(
            sa.func.sum(histogram.c.journeys).over(partition_by=histogram.c.step, order_by=histogram.c.seconds),
            sa.BigInteger,
        ).label("reached"),
        sa.cast(sa.func.sum(histogram.c.journeys).over(partition_by=histogram.c.step), sa.BigInteger).label("n"),
    ).subquery("running")

    def at_rank(percent: int) -> sa.ColumnElement:
        # rank ceil(n x p / 100), in integer arithmetic on both databases
        return sa.func.min(sa.case((running.c.reached >= (running.c.n * percent + 99) // 100, running.c.seconds)))

    rows = db.session.execute(
        sa.select(running.c.step, sa.func.sum(running.c.journeys), at_rank(50), at_rank(90)).group_by(running.c.step)
    ).all()
    return {step: StepTiming(int(count), int(median), int(p90)) for step, count, median, p90 in rows}


def _ended_by_failure(journeys: FromClause) -> sa.ColumnElement:
    """The journey's last event was a failure and it neither redeemed nor skipped afterwards."""
    return sa.and_(
        journeys.c.redeemed_at.is_(None),
        journeys.c.skipped_at.is_(None),
        journeys.c.ended_by_failure == 1,
    )


def _failures(journeys: FromClause) -> list[tuple[str, int]]:
    count = sa.func.count().label("journeys")
    code = journeys.c.failure_code
    rows = db.session.execute(
        sa.select(code, count).where(_ended_by_failure(journeys)).group_by(code).order_by(count.desc(), code)
    ).all()
    return [(code or "unknown", int(total)) for code, total in rows]


def uptake_by_day(journeys: FromClause) -> list[DayUptake]:
    """Journeys and redemptions per Hong Kong day of payment (days without purchases are left out)."""
    day = hong_kong_day(journeys.c.paid_at).label("day")
    rows = db.session.execute(
        sa.select(day, sa.func.count(), sa.func.count(journeys.c.redeemed_at)).group_by(day).order_by(day)
    ).all()
    return [
        DayUptake(date.fromisoformat(str(day_text)), int(total), int(redeemed)) for day_text, total, redeemed in rows
    ]


def _funnel(counts: sa.Row, timings: dict[str, StepTiming], failures: list[tuple[str, int]]) -> Funnel:
    new_at_offer = counts.offer_shown - counts.returning_count  # returning shoppers are never sent a code
    steps = [
        FunnelStep("paid", counts.paid, timing=timings.get("paid", StepTiming())),
        FunnelStep(
            "offer_shown",
            counts.offer_shown,
            returning=counts.returning_count,
            reached_from=counts.paid,
            timing=timings.get("offer_shown", StepTiming()),
        ),
        FunnelStep(
            "code_sent", counts.code_sent, reached_from=new_at_offer, timing=timings.get("code_sent", StepTiming())
        ),
        FunnelStep(
            "linked",
            counts.linked,
            returning=counts.returning_count,
            reached_from=counts.code_sent + counts.returning_count,
            timing=timings.get("linked", StepTiming()),
        ),
        FunnelStep(
            "points_redeemed",
            counts.points_redeemed,
            returning=counts.returning_redeemed,
            reached_from=counts.linked,
        ),
    ]
    return Funnel(
        steps=steps,
        returning_reached=counts.returning_count,
        returning_redeemed=counts.returning_redeemed,
        returning_timing=timings.get("returning", StepTiming()),
        otp_retries=counts.otp_retries,
        failures=failures,
    )


def insights(selected: InsightsFilter) -> Insights:
    """Every figure of the insights page for ``selected``."""
    left_out = _left_out(selected)
    with folded_journeys(selected) as journeys:
        counts = _step_counts(journeys)
        shoppers = _repeat_shoppers(journeys)
        timings, failures, days = _timings(journeys), _failures(journeys), uptake_by_day(journeys)
    kpis = Kpis(
        purchases=counts.paid,
        redeemed=counts.points_redeemed,
        points_redeemed=int(counts.points),
        credit_cents=int(counts.credit_cents),
        basket_with_points_total_cents=int(counts.basket_with_points),
        purchases_with_points=counts.points_redeemed,
        basket_without_points_total_cents=int(counts.basket_without_points),
        purchases_without_points=counts.paid - counts.points_redeemed,
        shoppers=shoppers.shoppers,
        repeat_shoppers=int(shoppers.repeat),
        simulated=int(counts.simulated),
        simulated_hidden=int(left_out.simulated_hidden),
        cancelled_left_out=int(left_out.cancelled),
    )
    return Insights(filter=selected, kpis=kpis, funnel=_funnel(counts, timings, failures), days=days)


# --- The journeys behind the figures (CSV) ---------------------------------------------------------------

JOURNEY_COLUMNS = (
    "reference",
    "flow",
    "simulated",
    "paid_at",
    "offer_shown_at",
    "code_sent_at",
    "codes_sent",
    "verified_at",
    "returning",
    "points_redeemed_at",
    "skipped_at",
    "outcome",
    "failure_code",
    "points",
    "credit",
)


def journey_rows(selected: InsightsFilter) -> sa.Result:
    """One row per journey in JOURNEY_COLUMNS order (timestamps as the database returns them), oldest first.

    outcome: redeemed | skipped | failed (its last event was a failure; failure_code says which) |
    not_offered (legacy flow: the shop offers nothing) | abandoned (left without finishing).
    """
    j = journeys_select(selected).subquery("journeys")
    outcome = sa.case(
        (j.c.redeemed_at.is_not(None), "redeemed"),
        (j.c.skipped_at.is_not(None), "skipped"),
        (j.c.ended_by_failure == 1, "failed"),
        (sa.and_(j.c.offer_at.is_(None), j.c.pwp_flow == "legacy"), "not_offered"),
        else_="abandoned",
    )
    return db.session.execute(
        sa.select(
            j.c.reference,
            j.c.pwp_flow,
            j.c.simulated,
            j.c.paid_at,
            j.c.offer_at,
            j.c.code_at,
            j.c.codes_sent,
            j.c.verified_at,
            j.c.is_returning,
            j.c.redeemed_at,
            j.c.skipped_at,
            outcome,
            sa.case((_ended_by_failure(j), j.c.failure_code), else_=""),
            j.c.points,
            j.c.credit_cents,
        )
        .select_from(j)
        .order_by(j.c.paid_at, j.c.reference)
    )
