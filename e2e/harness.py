"""Start both apps as real processes (gunicorn, as `make demo` does) on free ports with fresh databases.

The e2e suite (conftest.py) and `make bench` (bench.py) both start their pair with ``start_apps``. The e2e suite
runs them on SQLite files, or, with ``E2E_DATABASE=postgresql``, on fresh PostgreSQL databases created on
``TEST_POSTGRES_URL``'s server (``fresh_postgres_databases``) and dropped afterwards.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SANDBOX_KEY = "demo-sandbox-key"
CONSOLE_PASSWORD = "demo"
# Shorter than any latency a timeout scenario injects, so those scenarios take seconds, not minutes.
SHOP_ISSUER_TIMEOUT_SECONDS = 3
HEALTH_TIMEOUT_SECONDS = 30
E2E_SHOP_SETTINGS = {"SHOP_ISSUER_TIMEOUT_SECONDS": str(SHOP_ISSUER_TIMEOUT_SECONDS)}


def flask_command(
    app_module: str, env: Mapping[str, str], *args: str, timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run `flask --app APP ARGS` in the project with an app's environment; its output is captured as text."""
    return subprocess.run(
        [str(BIN / "flask"), "--app", app_module, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def gunicorn_workers(master_pid: int) -> list[int]:
    """The gunicorn master's children (its workers), read from /proc, in pid order."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == master_pid:
            children.append(int(stat.parent.name))
    return sorted(children)


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# How `make demo` runs both apps: the one source of the server settings (the Makefile passes it with --config).
GUNICORN_CONFIG = ROOT / "gunicorn.conf.py"
# What the e2e suite adds on top: its own number of workers, a quick stop (no test waits out a request that sleeps
# on injected latency) and an access log, kept with a failed test's server logs.
E2E_SERVER_FLAGS = (
    "--workers",
    os.environ.get("E2E_GUNICORN_WORKERS", "2"),
    "--graceful-timeout",
    "3",
    "--access-logfile",
    "-",
)


def gunicorn_command(app_spec: str, port: int, flags: tuple[str, ...] = ()) -> list[str]:
    """gunicorn with gunicorn.conf.py, as `make demo` runs it, bound to one port; ``flags`` override the file."""
    return [str(BIN / "gunicorn"), "--config", str(GUNICORN_CONFIG), *flags, "--bind", f"127.0.0.1:{port}", app_spec]


@dataclass
class AppProcess:
    """One app under gunicorn: its URL, its log file and the process group to stop."""

    name: str
    url: str
    log_path: Path
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)  # what it runs with (for its flask commands)
    _log_file: object = field(default=None, repr=False)

    def start(self, command: list[str], env: dict[str, str]) -> None:
        self.env = dict(env)
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        # A session of its own, so stopping reaches the gunicorn workers too.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
        """Poll GET /healthz until it answers 200; fail with the log's tail if it never does."""
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before it was healthy:\n{self.log_tail()}"
                )
            try:
                response = requests.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            except requests.RequestException as error:
                last_error = str(error)
            time.sleep(0.1)  # polling a process that is starting, not waiting in a test
        raise RuntimeError(f"{self.name} was not healthy after {timeout}s ({last_error}):\n{self.log_tail()}")

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> bytes:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read()

    def log_tail(self, size: int = 4000) -> str:
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        return data[-size:].decode(errors="replace")

    def stop(self) -> None:
        """SIGINT (gunicorn's quick shutdown) to the process group, then SIGKILL whatever is still there."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


@dataclass
class Apps:
    """The running pair: the shop and the issuer sandbox it talks to."""

    issuer: AppProcess
    shop: AppProcess
    workdir: Path

    @property
    def issuer_url(self) -> str:
        return self.issuer.url

    @property
    def shop_url(self) -> str:
        return self.shop.url

    def stop(self) -> None:
        # The shop first: it is the issuer's only client.
        self.shop.stop()
        self.issuer.stop()

    def save_logs_since(self, offsets: dict[str, int], folder: Path) -> None:
        """Copy what each server logged since `offsets` into `folder` (kept for a failed test)."""
        folder.mkdir(parents=True, exist_ok=True)
        for app in (self.issuer, self.shop):
            (folder / f"{app.name}.log").write_bytes(app.log_since(offsets.get(app.name, 0)))

    def log_offsets(self) -> dict[str, int]:
        return {app.name: app.log_size() for app in (self.issuer, self.shop)}


def base_env() -> dict[str, str]:
    """The caller's environment without settings that would point the apps at someone else's data."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SHOP_", "ISSUER_", "FLASK_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def seed(commands: list[tuple[str, dict[str, str], Path]]) -> None:
    """`flask --app <module> seed` for each app at once, output appended to its log; fail loudly if one fails."""
    running = []
    for app_module, env, log_path in commands:
        log = open(log_path, "ab")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [str(BIN / "flask"), "--app", app_module, "seed"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        running.append((app_module, process, log, log_path))
    failures = []
    for app_module, process, log, log_path in running:
        try:
            returncode = process.wait(timeout=120)
        finally:
            log.close()
        if returncode != 0:
            failures.append(f"flask --app {app_module} seed failed ({returncode}):\n{log_path.read_text()[-4000:]}")
    if failures:
        raise RuntimeError("\n".join(failures))


def start_apps(
    workdir: Path,
    *,
    issuer_settings: Mapping[str, str] | None = None,
    shop_settings: Mapping[str, str] = E2E_SHOP_SETTINGS,
    server_flags: tuple[str, ...] = E2E_SERVER_FLAGS,
) -> Apps:
    """Seed both databases, start the issuer then the shop on free ports, and wait until both are healthy.

    The defaults are the e2e suite's: fresh SQLite files in ``workdir``, ``E2E_SHOP_SETTINGS`` (a short
    shop-to-issuer timeout) and ``E2E_SERVER_FLAGS``. ``make bench`` passes its own databases and no flags: the
    apps exactly as `make demo` runs them. Settings are ISSUER_* / SHOP_* environment variables; the shop is
    always pointed at this issuer.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    issuer_port, shop_port = free_port(), free_port()
    while shop_port == issuer_port:
        shop_port = free_port()
    issuer = AppProcess("issuer", f"http://127.0.0.1:{issuer_port}", workdir / "issuer.log")
    shop = AppProcess("shop", f"http://127.0.0.1:{shop_port}", workdir / "shop.log")
    apps = Apps(issuer=issuer, shop=shop, workdir=workdir)

    issuer_env = base_env() | {"ISSUER_DATABASE_URL": f"sqlite:///{workdir / 'issuer.sqlite3'}"}
    issuer_env |= issuer_settings or {}
    shop_env = base_env() | {"SHOP_DATABASE_URL": f"sqlite:///{workdir / 'shop.sqlite3'}"}
    shop_env |= shop_settings
    shop_env["SHOP_ISSUER_URL"] = issuer.url
    seed([("issuer_sandbox", issuer_env, issuer.log_path), ("shop", shop_env, shop.log_path)])

    atexit.register(apps.stop)  # if the session dies without running its finalizers
    try:
        issuer.start(gunicorn_command("issuer_sandbox:create_app()", issuer_port, server_flags), issuer_env)
        shop.start(gunicorn_command("shop:create_app()", shop_port, server_flags), shop_env)
        issuer.wait_healthy()
        shop.wait_healthy()
    except BaseException:
        apps.stop()
        raise
    return apps


def e2e_database() -> str:
    """Where the e2e suite keeps the apps' data: ``sqlite`` (the default) or ``postgresql`` (E2E_DATABASE)."""
    database = os.environ.get("E2E_DATABASE", "sqlite")
    if database not in ("sqlite", "postgresql"):
        raise RuntimeError(f"E2E_DATABASE must be sqlite or postgresql, not {database!r}")
    if database == "postgresql" and not os.environ.get("TEST_POSTGRES_URL"):
        raise RuntimeError("E2E_DATABASE=postgresql needs TEST_POSTGRES_URL (a role that may create databases)")
    return database


@contextmanager
def e2e_apps(workdir: Path, shop_settings: Mapping[str, str] = E2E_SHOP_SETTINGS) -> Iterator[Apps]:
    """``start_apps`` on the e2e suite's database (SQLite files, or fresh PostgreSQL with E2E_DATABASE=postgresql).

    For a module that needs a pair of its own (other shop settings): the pair is stopped before its PostgreSQL
    databases are dropped.
    """
    with ExitStack() as cleanup:
        issuer_settings: dict[str, str] = {}
        settings = dict(shop_settings)
        if e2e_database() == "postgresql":
            urls = cleanup.enter_context(fresh_postgres_databases(os.environ["TEST_POSTGRES_URL"]))
            issuer_settings["ISSUER_DATABASE_URL"] = urls["issuer"]
            settings["SHOP_DATABASE_URL"] = urls["shop"]
        started = start_apps(workdir, issuer_settings=issuer_settings, shop_settings=settings)
        cleanup.callback(started.stop)
        yield started


def _libpq_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


@contextmanager
def fresh_postgres_databases(server_url: str, names: tuple[str, ...] = ("issuer", "shop")) -> Iterator[dict[str, str]]:
    """New, uniquely named databases on ``server_url``'s server (one per name), dropped on exit.

    Yields SQLAlchemy URLs by name, as ISSUER_DATABASE_URL / SHOP_DATABASE_URL take them. Unique names, so
    parallel workers and parallel checkouts of the project never share a database.
    """
    import psycopg  # the apps' own driver; only needed on this path

    suffix = uuid.uuid4().hex[:12]
    databases = {name: f"pwp_e2e_{name}_{suffix}" for name in names}
    admin = _libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        for database in databases.values():
            connection.execute(f'CREATE DATABASE "{database}"')
    try:
        yield {name: urlunsplit(urlsplit(server_url)._replace(path=f"/{db}")) for name, db in databases.items()}
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
            for database in databases.values():
                # Not WITH (FORCE): a non-superuser may not end an autovacuum worker; retry while one finishes.
                for attempt in range(40):
                    try:
                        connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
                        break
                    except psycopg.OperationalError:
                        if attempt == 39:
                            raise
                        time.sleep(0.25)
