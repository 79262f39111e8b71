"""Password hashes run at most one per CPU at a time in a worker."""

from __future__ import annotations

import os
import threading
import time

from shop import passwords


def test_no_more_hashes_run_at_once_than_there_are_cpus(monkeypatch):
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
    assert 1 <= most <= max(1, os.cpu_count() or 1)


def test_a_hash_checks_against_its_password():
    stored = passwords.hash_password("correct horse", method="pbkdf2:sha256:1000")
    assert passwords.password_matches(stored, "correct horse")
    assert not passwords.password_matches(stored, "wrong horse")
