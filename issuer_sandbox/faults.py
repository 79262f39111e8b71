"""Injected faults: which rule applies to a call of an endpoint, and using up its count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from .database import writing
from .extensions import db
from .models import FaultRule


@dataclass(frozen=True)
class Fault:
    """The fault applied to one call, detached from the session (it outlives the transaction)."""

    rule_id: int
    endpoint: str
    latency_ms: int
    error_status: int | None
    error_code: str | None
    drop_response_after_commit: bool

    @property
    def label(self) -> str:
        """How the request log names it."""
        parts = []
        if self.error_status or self.error_code:
            parts.append(f"error {self.error_status or 503} {self.error_code or ''}".rstrip())
        if self.latency_ms:
            parts.append(f"latency {self.latency_ms} ms")
        if self.drop_response_after_commit:
            parts.append("drop after commit")
        return ", ".join(parts)[:80]


def add_rule(
    endpoint: str,
    now: datetime,
    *,
    latency_ms: int = 0,
    error_status: int | None = None,
    error_code: str | None = None,
    remaining_failures: int | None = None,
    drop_response_after_commit: bool = False,
) -> FaultRule:
    """Create a fault rule for a Flask endpoint name such as 'redemptions.redeem' (the caller commits)."""
    rule = FaultRule(
        endpoint=endpoint,
        latency_ms=latency_ms,
        error_status=error_status,
        error_code=error_code,
        remaining_failures=remaining_failures,
        drop_response_after_commit=drop_response_after_commit,
        created_at=now,
    )
    db.session.add(rule)
    return rule


def take_fault(endpoint: str) -> Fault | None:
    """The oldest live rule of this endpoint, with one use consumed; None when no rule applies.

    ``remaining_failures`` counts the calls a rule still affects, whatever the fault; None means until the
    rule is removed. A rule used up is deleted. Nearly every call finds no rule: that costs one read,
    without SQLite's write lock; only spending a counted rule writes, in a transaction of its own (committed).
    """
    live = sa.or_(FaultRule.remaining_failures.is_(None), FaultRule.remaining_failures > 0)
    first_live = sa.select(FaultRule).where(FaultRule.endpoint == endpoint, live).order_by(FaultRule.id).limit(1)
    rule = db.session.scalar(first_live)
    if rule is None:
        return None
    if rule.remaining_failures is None:
        return _fault_of(rule)
    db.session.rollback()  # a read so far: spend the use in a write transaction
    with writing():
        # PostgreSQL: two concurrent calls must not both spend the last failure.
        rule = db.session.scalar(first_live.with_for_update())
        if rule is None:  # a concurrent call spent the last use
            db.session.rollback()
            return None
        fault = _fault_of(rule)
        if rule.remaining_failures is not None:
            rule.remaining_failures -= 1
            if rule.remaining_failures <= 0:
                db.session.delete(rule)
        db.session.commit()
    return fault


def _fault_of(rule: FaultRule) -> Fault:
    return Fault(
        rule_id=rule.id,
        endpoint=rule.endpoint,
        latency_ms=max(0, rule.latency_ms or 0),
        error_status=rule.error_status,
        error_code=rule.error_code,
        drop_response_after_commit=bool(rule.drop_response_after_commit),
    )
