"""Password hashes run one at a time in a worker."""

from __future__ import annotations

import threading
import time

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
