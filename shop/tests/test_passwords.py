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
    assert passwords.hash_password("pw") == "scrypt$pw"
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
