"""Password hashing with a bound on how many run at once in a worker.

werkzeug's scrypt takes ~100 ms of CPU and 32 MiB of memory per hash. With 16 request threads, a burst of
sign-ups or sign-ins ran up to 16 at once: a worker's memory peaked at ~330 MiB and every other request
waited behind them for the CPU. Hashes beyond the bound (one per CPU) wait their turn instead; they do not
run any faster in parallel on cores that are already busy.
"""

from __future__ import annotations

import os
import threading

from werkzeug.security import check_password_hash, generate_password_hash

_hashing = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


def hash_password(password: str, method: str = "scrypt") -> str:
    with _hashing:
        return generate_password_hash(password, method=method)


def password_matches(stored_hash: str, password: str) -> bool:
    with _hashing:
        return check_password_hash(stored_hash, password)
