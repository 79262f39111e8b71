"""Password hashes run one at a time in a worker, on a thread at the lowest CPU priority."""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

import pytest

from shop import passwords


def test_a_worker_runs_one_password_hash_at_a_time(monkeypatch):
    running = 0
    most = 0
    lock = threading.Lock()

    def slow_hash(password: str, method: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)  # stands in for scrypt's CPU time, so the threads overlap
        with lock:
            running -= 1
        return f"{method}${password}"

    monkeypatch.setattr(passwords, "generate_password_hash", slow_hash)
    threads = [threading.Thread(target=passwords.hash_password, args=("pw",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == passwords.HASHES_AT_ONCE == 1


def test_a_hash_checks_against_its_password():
    stored = passwords.hash_password("correct horse", method="pbkdf2:sha256:1000")
    assert passwords.password_matches(stored, "correct horse")
    assert not passwords.password_matches(stored, "wrong horse")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_a_hash_runs_on_a_thread_the_kernel_schedules_last(monkeypatch):
    """Request threads must win the CPU from scrypt: the hash runs off the request's thread, at nice 19."""
    seen = {}

    def recording_hash(password: str, method: str) -> str:
        seen["thread"] = threading.get_native_id()
        seen["niceness"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return f"{method}${password}"

    monkeypatch.setattr(passwords, "generate_password_hash", recording_hash)
    assert passwords.hash_password("pw") == f"{passwords.SCRYPT_METHOD}$pw"
    assert seen["thread"] != threading.get_native_id()
    assert seen["niceness"] == passwords.HASHING_NICENESS == 19
    # The request's own thread keeps its priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < 19


def test_a_forked_worker_starts_its_own_hashing_thread():
    passwords.hash_password("pw", method="pbkdf2:sha256:1000")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: a hash must not wait for the parent's thread, which fork did not copy
        try:
            ok = passwords.password_matches(passwords.hash_password("pw", method="pbkdf2:sha256:1000"), "pw")
            os.write(write_end, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 10)
    if not ready:  # the child waits for a thread that is not there: fail rather than hang
        os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    assert ready and os.read(read_end, 2) == b"ok"


def _scrypt_settings(method: str) -> tuple[int, int, int]:
    name, n, r, p = method.split(":")
    assert name == "scrypt"
    return int(n), int(r), int(p)


def test_the_default_hash_is_scrypt_in_8_mib_with_no_less_work_than_werkzeugs_default():
    """A quarter of werkzeug's 32 MiB per hash, and as many block mixes (N x p) as its N=2**15, p=1."""
    n, r, p = _scrypt_settings(passwords.SCRYPT_METHOD)
    assert 128 * r * n == 8 * 1024 * 1024
    assert n * p >= 2**15 and r == 8
    stored = passwords.hash_password("correct horse")
    assert stored.startswith(passwords.SCRYPT_METHOD + "$")
    assert passwords.password_matches(stored, "correct horse")
    assert not passwords.password_matches(stored, "wrong horse")


def test_the_shops_configured_hash_is_the_8_mib_scrypt():
    from shop.config import DEFAULTS

    assert DEFAULTS["PASSWORD_HASH_METHOD"] == passwords.SCRYPT_METHOD


def test_a_hash_of_werkzeugs_default_scrypt_still_checks():
    """Accounts made before the change keep signing in (werkzeug reads N, r, p from the stored hash)."""
    from werkzeug.security import generate_password_hash

    old = generate_password_hash("correct horse", method="scrypt:32768:8:1")
    assert passwords.password_matches(old, "correct horse")
    assert passwords.needs_rehash(old, passwords.SCRYPT_METHOD)


@pytest.mark.parametrize(
    ("stored_method", "method", "expected"),
    [
        ("scrypt:32768:8:1", "scrypt:8192:8:4", True),
        ("scrypt:8192:8:4", "scrypt:8192:8:4", False),
        ("pbkdf2:sha256:1001", "pbkdf2:sha256:1000", True),
        ("pbkdf2:sha256:1000", "scrypt:8192:8:4", True),
        ("scrypt:32768:8:1", "scrypt", False),  # werkzeug's own defaults, not spelled out: left alone
    ],
)
def test_needs_rehash_compares_the_stored_settings_with_the_configured_ones(stored_method, method, expected):
    assert passwords.needs_rehash(f"{stored_method}$salt$digest", method) is expected
