"""Password hashing: one hash at a time in a worker, on a thread the kernel schedules last.

The hash is scrypt with N=2**13, r=8, p=4 (``SCRYPT_METHOD``), not werkzeug's default N=2**15, r=8, p=1: the same
CPU work per hash (N x p block mixes, ~90 ms here) in a quarter of the memory, 8 MiB instead of 32. OWASP's
password storage cheat sheet lists scrypt settings of equal strength that trade memory for parallel passes
(N=2**15 with p=3 is as strong as N=2**13 with p=10), by which this one is at least werkzeug's default. Each
worker's one hash at a time had put 32 MiB on its peak memory (`make bench`: the shop's peak RSS, master and two
workers, 263 MiB, of which 64 MiB were the two hashes). Hashes stored with other settings still check (werkzeug
reads the settings from the stored hash) and are hashed again with these at the next sign-in
(``needs_rehash``).

A hash releases the GIL while it runs. With
16 request threads, a burst of sign-ups or sign-ins ran up to 16 at once: a worker's memory peaked at ~330 MiB,
and with one hash per worker the two workers' hashes still filled both CPUs, so every other shopper's page
waited behind them (20 sign-ups at once put ~300 ms on each later checkout step).

So every hash runs on one thread per worker (one at a time: a second would only add 32 MiB to the peak without
finishing sooner), and on Linux that thread runs at the lowest priority (nice 19). A request thread that wants
the CPU gets it first; a hash takes the time left over. Signing up stays slow on purpose, but it no longer makes
the rest of the shop slow.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from werkzeug.security import check_password_hash, generate_password_hash

# werkzeug's method string: scrypt:N:r:p. Memory per hash is 128 * r * N bytes (8 MiB).
SCRYPT_METHOD = "scrypt:8192:8:4"
HASHES_AT_ONCE = 1
# The nice value of the hashing thread: 19 is the lowest priority, a weight of 15 against a request's 1024.
HASHING_NICENESS = 19

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _lower_priority() -> None:
    """Make the calling thread (only it: on Linux a thread has its own nice value) the last to get a CPU."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: the hash still runs, at normal priority
        pass


def _hasher() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=HASHES_AT_ONCE, thread_name_prefix="password-hash", initializer=_lower_priority
            )
        return _executor


def _forget_hasher() -> None:
    """A forked child (a gunicorn worker) starts its own thread: the parent's is not copied by fork."""
    global _executor, _lock
    _executor = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_hasher)


def hash_password(password: str, method: str = SCRYPT_METHOD) -> str:
    return _hasher().submit(generate_password_hash, password, method=method).result()


def password_matches(stored_hash: str, password: str) -> bool:
    return _hasher().submit(check_password_hash, stored_hash, password).result()


def needs_rehash(stored_hash: str, method: str) -> bool:
    """Whether a stored hash was made with other settings than ``method`` (a full werkzeug method string).

    werkzeug stores ``method$salt$hash`` with every setting spelled out (``scrypt:32768:8:1``); a method given
    without its settings ("scrypt") is werkzeug's defaults, which it does not spell out here: never rehashed.
    """
    stored_method = stored_hash.partition("$")[0]
    return ":" in method and stored_method != method
