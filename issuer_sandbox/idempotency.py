"""Idempotent money calls: a request's fingerprint, and the answer stored for an earlier use of its key.

Payments, refunds, redemptions and reversals all keep the first response with the request's fingerprint;
a repeat with the same fingerprint gets that response again, a repeat with another body is a conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from . import request_log
from .extensions import db

Locked = TypeVar("Locked")
Answer = TypeVar("Answer")


class StoresResponse(Protocol):
    request_fingerprint: str
    response_body: str


def fingerprint(fields: dict[str, Any], key: bytes | None = None) -> str:
    """SHA-256 of the canonical request (parsed values, sorted keys, no whitespace).

    Pass a key when the fields hold something secret (a card number): a keyed hash cannot be reversed by
    trying every possible number.
    """
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    if key is not None:
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical).hexdigest()


def stored_response(existing: StoresResponse | None, request_fingerprint: str, conflict: Exception) -> str | None:
    """The response stored for this key, if the key was used before; raises ``conflict`` if with another body."""
    if existing is None:
        return None
    if not hmac.compare_digest(existing.request_fingerprint, request_fingerprint):
        raise conflict
    return existing.response_body


def replay_or_write(
    lock: Callable[[], Locked],
    replay: Callable[[Locked], Answer | None],
    write: Callable[[Locked], Answer],
) -> Answer:
    """Answer a keyed money call exactly once, in one transaction, and commit.

    ``lock`` takes the row locks the call needs (so the look-up that follows cannot change before the
    write), ``replay`` returns the stored answer if the key was used before, ``write`` does the work. A
    concurrent twin that committed the same key first makes our insert fail on its unique constraint: ours
    is then rolled back whole and the twin's answer returned. Any error rolls everything back. A call that
    writes commits its request-log row in the same transaction (``request_log.insert_money_call_row``).
    """
    try:
        return _locked_replay_or_write(lock, replay, write)
    except IntegrityError:
        try:
            previous = replay(lock())
        finally:
            db.session.rollback()
        if previous is None:
            raise
        return previous


def _locked_replay_or_write(
    lock: Callable[[], Locked],
    replay: Callable[[Locked], Answer | None],
    write: Callable[[Locked], Answer],
) -> Answer:
    committed = False
    try:
        locked = lock()
        previous = replay(locked)
        if previous is not None:
            return previous
        answer = write(locked)
        # The call's request-log row goes in with the money it logs: a worker killed before its buffered log
        # is written cannot lose the row of a call that moved money (see request_log.py).
        log_row_id = request_log.insert_money_call_row()
        db.session.commit()
        committed = True
        request_log.money_call_committed(log_row_id)
        return answer
    finally:
        if not committed:
            db.session.rollback()  # a replay, a refusal or a failure: nothing of this call stays
