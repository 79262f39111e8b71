"""The CSV exports: the page's figures (one per row) and the journeys behind them (one row per checkout)."""

from __future__ import annotations

from datetime import datetime

from . import queries


def decimal_text(cents: int | None) -> str:
    """Integer cents as a decimal string ('1234.50'), empty when there is no value."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def percent_text(share: queries.Share) -> str:
    """A share as a percentage with one decimal ('33.3'), empty when its whole is 0."""
    tenths = share.tenths_of_percent
    return "" if tenths is None else f"{tenths // 10}.{tenths % 10}"


def timestamp_text(value: datetime | str | None) -> str:
    """A stored naive-UTC timestamp as ISO 8601 with a Z, to the second."""
    if value is None:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(microsecond=0).isoformat() + "Z"


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)


def kpi_csv_rows(report: queries.Insights) -> list[list[str]]:
    """figure,value rows: the filter, the headline KPIs, each funnel step, the returning shoppers, failures."""
    selected, kpis, funnel = report.filter, report.kpis, report.funnel
    rows = [
        ["figure", "value"],
        ["range_start", selected.start.isoformat()],
        ["range_end", selected.end.isoformat()],
        ["flow", selected.flow],
        ["hide_simulated", "true" if selected.hide_simulated else "false"],
        ["purchases_paid_with_points_card", str(kpis.purchases)],
        ["purchases_that_redeemed_points", str(kpis.redeemed)],
        ["uptake_percent", percent_text(kpis.uptake)],
        ["points_redeemed", str(kpis.points_redeemed)],
        ["credit_hkd", decimal_text(kpis.credit_cents)],
        ["average_basket_with_points_hkd", decimal_text(kpis.average_basket_with_points_cents)],
        ["average_basket_without_points_hkd", decimal_text(kpis.average_basket_without_points_cents)],
        ["shoppers", str(kpis.shoppers)],
        ["shoppers_who_bought_again", str(kpis.repeat_shoppers)],
        ["shoppers_who_bought_again_percent", percent_text(kpis.repeat_share)],
        ["simulated_journeys_shown", str(kpis.simulated)],
        ["simulated_journeys_hidden", str(kpis.simulated_hidden)],
        ["cancelled_purchases_left_out", str(kpis.cancelled_left_out)],
    ]
    for step in funnel.steps:
        prefix = f"funnel_{step.key}"
        rows += [
            [f"{prefix}_count", str(step.count)],
            [f"{prefix}_returning", str(step.returning)],
            [f"{prefix}_dropped_before", _optional(step.dropped)],
            [f"{prefix}_median_seconds", _optional(step.timing.median_seconds)],
            [f"{prefix}_p90_seconds", _optional(step.timing.p90_seconds)],
        ]
    rows += [
        ["returning_shoppers_at_offer", str(funnel.returning_reached)],
        ["returning_shoppers_redeemed", str(funnel.returning_redeemed)],
        ["returning_median_seconds", _optional(funnel.returning_timing.median_seconds)],
        ["returning_p90_seconds", _optional(funnel.returning_timing.p90_seconds)],
        ["journeys_with_more_than_one_code", str(funnel.otp_retries)],
    ]
    rows += [[f"failure_{code}_journeys", str(count)] for code, count in funnel.failures]
    return rows


def journeys_csv_rows(selected: queries.InsightsFilter) -> list[list[str]]:
    """One row per journey (queries.JOURNEY_COLUMNS), oldest first; money as decimal strings."""
    rows = [list(queries.JOURNEY_COLUMNS)]
    for row in queries.journey_rows(selected):
        (reference, flow, simulated, paid, offer, code, codes_sent, verified, returning, redeemed, skipped,
         outcome, failure_code, points, credit) = row  # fmt: skip
        rows.append(
            [
                reference,
                flow,
                "true" if simulated else "false",
                timestamp_text(paid),
                timestamp_text(offer),
                timestamp_text(code),
                str(codes_sent),
                timestamp_text(verified),
                "true" if returning else "false",
                timestamp_text(redeemed),
                timestamp_text(skipped),
                outcome,
                failure_code or "",
                str(points),
                decimal_text(int(credit)),
            ]
        )
    return rows
