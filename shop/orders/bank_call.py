"""Every call to the bank goes through ``call_bank``: commit the intent, call with no transaction open, re-lock.

Why: on SQLite every writing transaction holds the database's one write lock (see database.py), so a
transaction left open across a slow issuer call would stall every shopper for up to the issuer timeout; on
PostgreSQL it would hold the order's row lock as long. So a step that talks to the bank

1. records its *intent* on the order in the current transaction (an attempt counter, a "check needed" flag,
   the cancellation asked for) and reads everything the call needs into plain values;
2. hands the call to ``call_bank``, which commits that intent, makes the call with no transaction open, and,
   answer or error, re-reads the order in a new transaction holding its row lock (FOR UPDATE on PostgreSQL;
   on SQLite the new transaction's BEGIN IMMEDIATE serialises writers);
3. records the answer only if the re-read order still expects it (another tab may have recorded it first),
   and commits.

Because the intent is committed before the bank is asked, a crash or a timeout mid-call is found again by the
next attempt, which repeats the same idempotent request (same reference or Idempotency-Key) or looks the
outcome up. The bank's errors are the client's exceptions; a rule that cannot settle one raises
``BankRefused``, the shop's own copy of the answer, so views never handle the client's exception classes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from flask import current_app

from ..extensions import db
from ..issuer_client import InvalidOtp, IssuerError, IssuerUnavailable, OutcomeUnknown
from ..models import Order

T = TypeVar("T")


class BankRefused(Exception):
    """The bank answered a step with an error the rules could not settle; ``code`` is the bank's stable code.

    ``unavailable`` is True when the bank could not be reached or did not answer in time (nothing is known to
    have changed); ``attempts_remaining`` is set for a wrong one-time code.
    """

    def __init__(
        self,
        code: str,
        details: str = "",
        *,
        unavailable: bool = False,
        attempts_remaining: int | None = None,
        error_class: type[IssuerError] = IssuerError,
    ) -> None:
        super().__init__(f"{code}: {details}" if details else code)
        self.code = code
        self.details = details
        self.unavailable = unavailable
        self.attempts_remaining = attempts_remaining
        self.error_class = error_class

    @classmethod
    def from_issuer(cls, error: IssuerError) -> BankRefused:
        """The shop's copy of the client's error (raise it ``from error`` to keep the cause)."""
        return cls(
            error.code,
            error.details,
            unavailable=isinstance(error, IssuerUnavailable | OutcomeUnknown),
            attempts_remaining=error.attempts_remaining if isinstance(error, InvalidOtp) else None,
            error_class=type(error),
        )


def record_intent(order: Order) -> None:
    """Stamp the intent about to be committed with the time, so reconciliation can tell a stale one from a live one."""
    order.bank_intent_at = datetime.now(UTC).replace(tzinfo=None)


def intent_is_stale(order: Order, after_seconds: int | None = None) -> bool:
    """Whether the order's latest money intent is older than any worker could still be waiting on it.

    ``after_seconds`` (whole seconds) defaults to RECONCILE_AFTER_SECONDS. An order with no stamp (older rows)
    counts as stale.
    """
    if after_seconds is None:
        after_seconds = int(current_app.config["RECONCILE_AFTER_SECONDS"])
    if order.bank_intent_at is None:
        return True
    now = datetime.now(UTC).replace(tzinfo=None)
    return now - order.bank_intent_at >= timedelta(seconds=after_seconds)


def call_bank(order: Order | None, call: Callable[[], T]) -> T:
    """Commit the pending intent, make ``call`` with no transaction open, then re-lock ``order`` and return.

    ``call`` must use only values read beforehand (touching an ORM attribute inside it would open a new
    transaction). It may make several bank calls in a row (a call and its look-up). Whether it answers or
    raises, ``order`` is re-read under its row lock before control returns, so the caller records the
    answer against the order as it is now. The caller commits.
    """
    db.session.commit()  # the intent; after this, ORM attributes reload (in a new transaction) on first touch
    try:
        return call()
    finally:
        if order is not None:
            db.session.refresh(order, with_for_update=True)
