"""How the issuer is put together: views never touch the session, the console cannot vanish, one copy of each helper."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

import issuer_sandbox
from issuer_sandbox import clock, create_app, links, otp

PACKAGE = Path(issuer_sandbox.__file__).parent
ROOT = PACKAGE.parent
# The view modules of the console and the sandbox API: they parse, call a rules function and render.
VIEW_MODULES = sorted((PACKAGE / "console").glob("*.py")) + [PACKAGE / "api" / "sandbox.py"]
# The one use of the session a view module may make: the 500 handler throws away what the request left half-done.
ALLOWED_SESSION_CALLS = {("errors.py", "rollback")}


def _session_uses(path: Path) -> list[tuple[int, str]]:
    """(line, attribute) of every ``<something>.session.<attribute>`` and bare ``.session`` on ``db``."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            inner = node.value
            if inner.attr == "session" and isinstance(inner.value, ast.Name) and inner.value.id == "db":
                uses.append((node.lineno, node.attr))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("extensions"):
            if any(alias.name == "db" for alias in node.names) and path.name != "errors.py":
                uses.append((node.lineno, "import db"))
    return uses


@pytest.mark.parametrize("path", VIEW_MODULES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_console_and_sandbox_api_views_never_touch_the_database_session(path):
    offending = [
        f"{path.name}:{line} db.session.{attribute}" if attribute != "import db" else f"{path.name}:{line} imports db"
        for line, attribute in _session_uses(path)
        if (path.name, attribute) not in ALLOWED_SESSION_CALLS
    ]
    assert not offending, "rules modules commit and read; views call them: " + ", ".join(offending)


def test_the_session_check_catches_a_view_that_commits(tmp_path):
    view = tmp_path / "cards.py"
    view.write_text("from ..extensions import db\n\ndef freeze():\n    db.session.commit()\n")
    assert _session_uses(view) == [(1, "import db"), (4, "commit")]


def test_the_view_modules_checked_include_every_console_module_and_the_merged_sandbox_api():
    names = {f"{path.parent.name}/{path.name}" for path in VIEW_MODULES}
    assert {"console/cards.py", "console/phone.py", "console/requests.py", "api/sandbox.py"} <= names
    assert not (PACKAGE / "api" / "sandbox_controls.py").exists()
    assert not (PACKAGE / "console_forms.py").exists()


@pytest.mark.parametrize("broken", ["issuer_sandbox.console", "issuer_sandbox.console.phone"])
def test_a_console_module_that_fails_to_import_stops_the_app_from_being_created(monkeypatch, tmp_path, broken):
    for name in [name for name in sys.modules if name.startswith("issuer_sandbox.console")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delattr(issuer_sandbox, "console", raising=False)
    monkeypatch.setitem(sys.modules, broken, None)  # the next import of it raises ImportError

    with pytest.raises(ImportError, match=broken.replace(".", r"\.")):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.sqlite3'}"})


def test_the_console_is_registered_on_every_app(app):
    assert {"console_auth", "console_phone", "console_reference", "console_errors"} <= set(app.blueprints)
    assert {"sandbox", "sandbox_controls"} <= set(app.blueprints)


def test_one_pattern_finds_the_one_time_password_in_the_banks_sms():
    text = links.otp_sms_text("Summit Bank", "012345", "8741", "Harbour Mall", 300)

    assert otp.otp_in_sms(text) == "012345"
    assert otp.OTP_IN_SMS.sub("******", text).startswith("Summit Bank: ****** is your one-time password")
    assert otp.otp_in_sms("Your order 123456 has shipped.") is None


def test_times_are_written_one_way_and_a_missing_time_stays_missing():
    assert clock.iso(datetime(2026, 3, 1, 9, 30, 5, 123456)) == "2026-03-01T09:30:05Z"
    assert clock.iso(None) is None


def test_make_demo_the_e2e_harness_and_the_bench_run_gunicorn_from_one_config_file():
    from e2e import harness

    demo = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "gunicorn --config gunicorn.conf.py --bind" in demo
    # The shop's threads also wait on the bank and on sign-ups' password hashes: twice the issuer's.
    for app_spec, threads in (("issuer_sandbox:create_app()", "8"), ("shop:create_app()", "16")):
        command = harness.gunicorn_command(app_spec, 8001)
        assert command[1:3] == ["--config", str(ROOT / "gunicorn.conf.py")]
        printed = subprocess.run(
            [*command[:-1], "--print-config", command[-1]], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        rows = (line.partition(" = ") for line in printed.splitlines())
        settings = {key.strip(): value.strip() for key, _, value in rows}
        # The partner API's `client_id` header survives, and the workers are the ones the bench measures.
        assert (
            settings.items()
            >= {
                "header_map": "dangerous",
                "worker_class": "gthread",
                "workers": "2",
                "threads": threads,
                "control_socket_disable": "True",
                "reuse_port": "True",
                "keepalive": "2",
                "bind": "['127.0.0.1:8001']",
            }.items()
        ), app_spec


def test_a_server_refuses_to_start_on_an_address_something_listens_on_already():
    # Workers' sockets share a port (SO_REUSEPORT) with any other such socket of the same user: without the
    # check a second `make demo` would start quietly and answer half of the first one's requests.
    import runpy
    import socket
    from types import SimpleNamespace

    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    logged: list[str] = []
    log = SimpleNamespace(error=lambda message, *args: logged.append(message % args), info=lambda *args: None)
    listener = socket.socket()
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        taken = SimpleNamespace(cfg=SimpleNamespace(address=[("127.0.0.1", port)], bind=[f"127.0.0.1:{port}"]), log=log)
        with pytest.raises(SystemExit) as refused:
            config["on_starting"](taken)
        assert refused.value.code == 1
        assert logged == [f"127.0.0.1:{port} is in use already: another server listens there (stop it first)"]
    finally:
        listener.close()
    free = SimpleNamespace(cfg=SimpleNamespace(address=[("127.0.0.1", port), "/tmp/x.sock"], bind=["x"]), log=log)
    config["on_starting"](free)  # the address is free again (and a unix socket is not probed)
    assert len(logged) == 1


def test_each_gunicorn_worker_caps_its_malloc_arenas_at_two(monkeypatch):
    # With 8 request threads glibc gave a worker up to 8 arenas of held memory: 2 cut both apps' peak RSS.
    import ctypes
    import runpy

    calls = []

    class FakeLibc:
        def mallopt(self, option: int, value: int) -> int:
            calls.append((option, value))
            return 1

    opened = []
    monkeypatch.setattr(ctypes, "CDLL", lambda name: opened.append(name) or FakeLibc())
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    config["post_fork"](server=None, worker=None)

    assert opened == [None]  # the process's own symbols, whatever the C library's file is called
    # M_ARENA_MAX (glibc's malloc.h), 2 arenas; M_MMAP_THRESHOLD fixed at 1 MiB (freed big blocks go back)
    assert calls == [(-8, 2), (-3, 1 << 20)]


FREED_HASH_MEMORY = """
import hashlib, runpy, sys, threading

def resident_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

if sys.argv[1] == "worker":
    runpy.run_path(sys.argv[2])["post_fork"](None, None)
before = resident_mib()

def one_hash():  # the shop's scrypt: 8 MiB of working memory
    hashlib.scrypt(b"pw", salt=b"s" * 16, n=2**13, r=8, p=4, maxmem=64 * 1024 * 1024)

for _ in range(4):  # on a second thread and on this one: two of glibc's arenas
    thread = threading.Thread(target=one_hash)
    thread.start()
    thread.join()
    one_hash()
print(resident_mib() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_a_worker_gives_a_password_hashs_8_mib_back_when_it_is_done():
    # glibc's raising mmap threshold kept each freed 8 MiB hash buffer in an arena: 16 MiB held for good.
    def held_mib(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", FREED_HASH_MEMORY, mode, str(ROOT / "gunicorn.conf.py")],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(done.stdout)

    assert held_mib("plain") >= 8  # what the worker's settings prevent
    assert held_mib("worker") < 4


GATED_APP = """
import os, time

while os.path.exists(os.path.join(os.path.dirname(__file__), "gate")):  # loading, until the test opens the gate
    time.sleep(0.02)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""


class GatedServer:
    """gunicorn with gunicorn.conf.py serving GATED_APP: while the gate file exists, a worker that starts stays
    loading the app."""

    def __init__(self, tmp_path: Path) -> None:
        from e2e.harness import free_port

        self.tmp_path = tmp_path
        self.gate = tmp_path / "gate"
        (tmp_path / "gated_app.py").write_text(GATED_APP)
        self.port = free_port()
        command = [str(Path(sys.executable).with_name("gunicorn")), "--config", str(ROOT / "gunicorn.conf.py")]
        self.log_file = (tmp_path / "gunicorn.log").open("w")
        self.master = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{self.port}", "--chdir", str(tmp_path), "gated_app:app"],
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
            start_new_session=True,
        )

    def workers(self) -> list[int]:
        from e2e.harness import gunicorn_workers

        return gunicorn_workers(self.master.pid)

    def answering_worker(self) -> int:
        """The pid of the worker that answers a request on a new connection (at most 5 s to answer)."""
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/")
            return int(connection.getresponse().read())
        finally:
            connection.close()

    def answering_workers(self, requests: int) -> set[int]:
        return {self.answering_worker() for _ in range(requests)}

    def accepts_connections(self) -> bool:
        """Whether a TCP connection is taken (by a worker, or queued on its socket) rather than refused."""
        import socket

        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
            return True
        except ConnectionRefusedError:
            return False

    def eventually(self, condition, what: str):
        for _ in range(300):  # bounded polls of processes that start or die
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"gave up waiting for {what}: {self.state()}")

    def state(self) -> str:
        log = (self.tmp_path / "gunicorn.log").read_text()[-2000:]
        return f"workers {self.workers()}, the server's log:\n{log}"

    def both_workers_answer(self) -> list[int]:
        first = self.eventually(lambda: len(self.workers()) == 2 and self.workers(), "2 workers")

        def both_answer():
            try:
                return self.answering_workers(20) == set(first)
            except OSError:
                return False  # not listening yet

        self.eventually(both_answer, "both workers to answer")
        return first

    def stop(self) -> None:
        self.gate.unlink(missing_ok=True)  # a worker still loading would not stop
        self.master.terminate()
        try:
            self.master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.master.pid, signal.SIGKILL)
            raise
        finally:
            self.log_file.close()


@pytest.fixture
def gated_server(tmp_path):
    server = GatedServer(tmp_path)
    yield server
    server.stop()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
def test_a_replacement_worker_takes_connections_only_once_it_has_loaded_the_app(gated_server):
    # gunicorn binds a worker's own SO_REUSEPORT socket before the worker loads the app: connections the kernel
    # drew for a replacement waited out its whole load, and were reset when it died loading (the chaos test).
    server = gated_server
    survivor, victim = server.both_workers_answer()
    server.gate.touch()  # replacements now stay loading
    os.kill(victim, signal.SIGKILL)
    # (the victim is the master's child too until the master reaps it)
    replacement = server.eventually(lambda: set(server.workers()) - {survivor, victim}, "a replacement")

    # The replacement is loading: every new connection goes to the worker that can serve it.
    answered = server.answering_workers(40)
    assert answered == {survivor}, f"answered by {answered}, survivor {survivor}; {server.state()}"
    # Killed before it was up, it took no connection with it (none reset, none waiting).
    killed_loading = replacement.pop()
    os.kill(killed_loading, signal.SIGKILL)
    server.eventually(lambda: set(server.workers()) - {survivor, victim, killed_loading}, "another one")
    answered = server.answering_workers(40)
    assert answered == {survivor}, f"answered by {answered}, survivor {survivor}; {server.state()}"

    server.gate.unlink()  # loaded, the replacement takes its share of connections
    server.eventually(lambda: len(server.answering_workers(20)) == 2, "the replacement to answer")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
def test_a_replacement_listens_at_once_when_no_other_worker_listens(gated_server):
    # The chaos test's case: one worker killed, its replacement loading (not listening yet), then the last one
    # that listened killed too. Its replacement must listen at once, or nothing would (refused connections).
    server = gated_server
    first_killed, last_listening = server.both_workers_answer()
    server.gate.touch()
    os.kill(first_killed, signal.SIGKILL)
    loading = server.eventually(lambda: set(server.workers()) - {first_killed, last_listening}, "a replacement")
    os.kill(last_listening, signal.SIGKILL)
    server.eventually(lambda: set(server.workers()) - {first_killed, last_listening} - loading, "its replacement")

    assert server.accepts_connections(), server.state()  # queued on the loading worker's socket, not refused
    server.gate.unlink()
    assert server.answering_worker() not in (first_killed, last_listening)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
def test_a_reloads_new_workers_listen_at_once_so_connections_wait_instead_of_being_refused(gated_server):
    # A HUP forks a new set of workers and stops the old ones straight away: had the new ones waited to listen,
    # nothing would listen while they load.
    server = gated_server
    first = server.both_workers_answer()
    server.gate.touch()
    os.kill(server.master.pid, signal.SIGHUP)
    server.eventually(lambda: not set(server.workers()) & set(first), "the old workers to stop")
    assert server.accepts_connections(), server.state()
    server.gate.unlink()
    assert server.answering_worker() not in first
