"""Password hashing, one hash at a time in a worker.

werkzeug's scrypt takes ~100 ms of CPU and 32 MiB of memory per hash. With 16 request threads, a burst of
sign-ups or sign-ins ran up to 16 at once: a worker's memory peaked at ~330 MiB and every other request
waited behind them for the CPU. Hashes beyond the bound wait their turn instead. The bound is one per worker:
gunicorn.conf.py runs as many workers as the machine has CPUs (2), so between them they still hash one per
CPU, and a second hash in the same worker would only add 32 MiB to its peak memory (the bench's peak RSS)
without finishing any sooner on cores that are already busy.
"""

from __future__ import annotations

import threading

from werkzeug.security import check_password_hash, generate_password_hash

HASHES_AT_ONCE = 1
_hashing = threading.BoundedSemaphore(HASHES_AT_ONCE)


def hash_password(password: str, method: str = "scrypt") -> str:
    with _hashing:
        return generate_password_hash(password, method=method)


def password_matches(stored_hash: str, password: str) -> bool:
    with _hashing:
        return check_password_hash(stored_hash, password)
