"""Idempotent money calls: a request's fingerprint, and the answer stored for an earlier use of its key.

Payments, refunds, redemptions and reversals all keep the first response with the request's fingerprint;
a repeat with the same fingerprint gets that response again, a repeat with another body is a conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Protocol


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
