"""Programme insights: what the points programme's two doors did, from SQL aggregates.

The merchant cannot see redemptions made on the bank's own site (that was part of the old flow's pain), so the
bank reports them itself: redemptions, points and credit by channel and by merchant, and each channel's uptake
over the eligible card purchases that led to it (a purchase with a points card through the gateway, captured;
the merchant's flow for it says which door the cardholder was offered). Reads only; nothing here commits.

Every figure covers a range of days (``DayRange``; the console's default is the last 60 days on the sandbox
clock). Days are UTC days, as every time the issuer keeps: a range runs from its first day's midnight up to, not
including, the midnight after its last day. The redemption tables count the redemptions made in the range (with
the points reversed from them so far); the uptake counts the eligible purchases made in the range and how many of
them were redeemed through their flow's channel (whenever), so a purchase and its redemption are counted together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from .extensions import db
from .models import Card, PartnerClient, Payment, Redemption
from .money import cents_to_amount
from .payments import DECLINED, LEGACY_FLOW, NATIVE_FLOW
from .redemptions import BANK_SITE, CHANNELS, PARTNER_API

DEFAULT_RANGE_DAYS = 60
CHANNEL_LABELS = {PARTNER_API: "At checkout (partner API)", BANK_SITE: "On the bank's site"}
# Which door each flow offers: native at the merchant's checkout, legacy through the bank's SMS and site.
CHANNEL_OF_FLOW = {NATIVE_FLOW: PARTNER_API, LEGACY_FLOW: BANK_SITE}


class InvalidDayRange(ValueError):
    """A range whose last day is before its first."""


@dataclass(frozen=True)
class DayRange:
    """The days a report covers, both included (UTC days, as the issuer keeps its times)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidDayRange("The last day must be on or after the first day.")

    @property
    def since(self) -> datetime:
        """The first moment in the range."""
        return datetime.combine(self.first, time())

    @property
    def until(self) -> datetime:
        """The first moment after the range (the midnight after its last day)."""
        return datetime.combine(self.last + timedelta(days=1), time())

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def default_range(now: datetime) -> DayRange:
    """The last 60 days up to and including today (``now`` is the sandbox clock's)."""
    today = now.date()
    return DayRange(today - timedelta(days=DEFAULT_RANGE_DAYS - 1), today)


@dataclass(frozen=True)
class ChannelTotals:
    """Redemptions through one channel (for one merchant, or all of them)."""

    channel: str
    merchant_name: str  # "" for the all-merchant totals
    redemptions: int
    points: int
    credit_cents: int
    points_reversed: int

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self.channel]


@dataclass(frozen=True)
class Uptake:
    """Eligible card purchases made in one flow, and how many of them were redeemed through its channel."""

    flow: str
    merchant_name: str  # "" for all merchants
    eligible_purchases: int
    redeemed: int

    @property
    def channel(self) -> str:
        return CHANNEL_OF_FLOW[self.flow]

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self.channel]

    @property
    def uptake_tenths_of_percent(self) -> int | None:
        """Redeemed over eligible, in tenths of a percent rounded half up (no float); None with no purchases."""
        if not self.eligible_purchases:
            return None
        return (self.redeemed * 2000 + self.eligible_purchases) // (2 * self.eligible_purchases)

    @property
    def uptake_text(self) -> str:
        tenths = self.uptake_tenths_of_percent
        return "—" if tenths is None else f"{tenths // 10}.{tenths % 10}%"


@dataclass(frozen=True)
class ProgrammeInsights:
    day_range: DayRange
    by_channel: list[ChannelTotals]  # one row per channel, zeros included
    by_merchant: list[ChannelTotals]  # merchant x channel rows that have redemptions
    uptake: list[Uptake]  # one row per flow for all merchants, zeros included
    uptake_by_merchant: list[Uptake]  # merchant x flow rows that have eligible purchases


_redemptions = Redemption.__table__
_partners = PartnerClient.__table__
_payments = Payment.__table__
_cards = Card.__table__


def _redemption_totals(day_range: DayRange, *group: sa.ColumnElement) -> sa.Select:
    return (
        sa.select(
            *group,
            _redemptions.c.channel,
            sa.func.count(_redemptions.c.id),
            sa.func.coalesce(sa.func.sum(_redemptions.c.points), 0),
            sa.func.coalesce(sa.func.sum(_redemptions.c.amount_cents), 0),
            sa.func.coalesce(sa.func.sum(_redemptions.c.points_reversed), 0),
        )
        .select_from(_redemptions.join(_partners, _partners.c.id == _redemptions.c.partner_client_id))
        .where(_redemptions.c.created_at >= day_range.since, _redemptions.c.created_at < day_range.until)
        .group_by(*group, _redemptions.c.channel)
    )


def _uptake_query(day_range: DayRange, *group: sa.ColumnElement) -> sa.Select:
    """Eligible purchases by flow, each joined to the redemption under its merchant reference (at most one)."""
    redeemed_through_its_channel = sa.case(
        *(
            (sa.and_(_payments.c.pwp_flow == flow, _redemptions.c.channel == channel), 1)
            for flow, channel in CHANNEL_OF_FLOW.items()
        ),
        else_=0,
    )
    joined = (
        _payments.join(_cards, _cards.c.id == _payments.c.card_id)
        .join(_partners, _partners.c.id == _payments.c.partner_client_id)
        .outerjoin(
            _redemptions,
            sa.and_(
                _redemptions.c.partner_client_id == _payments.c.partner_client_id,
                _redemptions.c.transaction_reference == _payments.c.merchant_reference,
            ),
        )
    )
    return (
        sa.select(
            *group, _payments.c.pwp_flow, sa.func.count(_payments.c.id), sa.func.sum(redeemed_through_its_channel)
        )
        .select_from(joined)
        .where(
            _cards.c.programme_id.is_not(None),
            _payments.c.status != DECLINED,
            _payments.c.created_at >= day_range.since,
            _payments.c.created_at < day_range.until,
        )
        .group_by(*group, _payments.c.pwp_flow)
    )


def programme_insights(day_range: DayRange) -> ProgrammeInsights:
    """The four tables of the console's programme insights page for ``day_range``, in four aggregate queries."""
    totals = {row[0]: row for row in db.session.execute(_redemption_totals(day_range))}
    by_channel = [
        ChannelTotals(channel, "", *(int(value) for value in totals[channel][1:]))
        if channel in totals
        else ChannelTotals(channel, "", 0, 0, 0, 0)
        for channel in CHANNELS
    ]
    merchant = _partners.c.merchant_name
    by_merchant = [
        ChannelTotals(channel, name, int(count), int(points), int(credit), int(reversed_points))
        for name, channel, count, points, credit, reversed_points in db.session.execute(
            _redemption_totals(day_range, merchant).order_by(merchant, _redemptions.c.channel)
        )
    ]
    flows = {
        flow: (int(count), int(redeemed or 0)) for flow, count, redeemed in db.session.execute(_uptake_query(day_range))
    }
    uptake = [Uptake(flow, "", *flows.get(flow, (0, 0))) for flow in CHANNEL_OF_FLOW]
    uptake_by_merchant = [
        Uptake(flow, name, int(count), int(redeemed or 0))
        for name, flow, count, redeemed in db.session.execute(
            _uptake_query(day_range, merchant).order_by(merchant, _payments.c.pwp_flow)
        )
        if flow in CHANNEL_OF_FLOW
    ]
    return ProgrammeInsights(day_range, by_channel, by_merchant, uptake, uptake_by_merchant)


CSV_HEADER = [
    "table",
    "channel",
    "merchant",
    "flow",
    "eligible_purchases",
    "redeemed",
    "uptake",
    "redemptions",
    "points_redeemed",
    "credit_hkd",
    "points_reversed",
]


def csv_rows(insights: ProgrammeInsights) -> list[list[str]]:
    """The page's four tables as CSV rows (money as decimal strings, as on the wire), header first."""
    rows = [CSV_HEADER]
    for table, uptakes in (("uptake", insights.uptake), ("uptake_by_merchant", insights.uptake_by_merchant)):
        rows += [
            [table, row.channel, row.merchant_name, row.flow, str(row.eligible_purchases), str(row.redeemed)]
            + [row.uptake_text if row.eligible_purchases else "", "", "", "", ""]
            for row in uptakes
        ]
    for table, totals in (("by_channel", insights.by_channel), ("by_merchant", insights.by_merchant)):
        rows += [
            [table, row.channel, row.merchant_name, "", "", "", "", str(row.redemptions), str(row.points)]
            + [cents_to_amount(row.credit_cents), str(row.points_reversed)]
            for row in totals
        ]
    return rows
