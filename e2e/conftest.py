"""The e2e harness: both apps as real processes per xdist worker, a reset sandbox and a fresh shopper per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .harness import E2E_SHOP_SETTINGS, Apps, e2e_database, fresh_postgres_databases, start_apps
from .pages.console import ConsolePage
from .pages.shop import ShopPage
from .sandbox_api import PartnerApi, SandboxApi

# Issuer calls that time out take the shop a few seconds to resolve; assertions wait for them, never sleep.
expect.set_options(timeout=15_000)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    return shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """The system Chromium (never a downloaded one); pytest-playwright's --headed and --slowmo still apply."""
    args = [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": args}


@pytest.fixture(scope="session")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    """The shop and the issuer sandbox under gunicorn, on free ports, with fresh seeded databases.

    SQLite files by default; fresh PostgreSQL databases with E2E_DATABASE=postgresql (see harness.py).
    Session-scoped, so each pytest-xdist worker (a process of its own) starts and stops its own pair.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    workdir = tmp_path_factory.mktemp(f"apps-{worker}")
    with ExitStack() as cleanup:
        issuer_settings: dict[str, str] = {}
        shop_settings = dict(E2E_SHOP_SETTINGS)
        if e2e_database() == "postgresql":
            urls = cleanup.enter_context(fresh_postgres_databases(os.environ["TEST_POSTGRES_URL"]))
            issuer_settings["ISSUER_DATABASE_URL"] = urls["issuer"]
            shop_settings["SHOP_DATABASE_URL"] = urls["shop"]
        started = start_apps(workdir, issuer_settings=issuer_settings, shop_settings=shop_settings)
        cleanup.callback(started.stop)  # stopped before the databases are dropped
        yield started


@pytest.fixture(scope="session")
def shop_url(apps: Apps) -> str:
    return apps.shop_url


@pytest.fixture(scope="session")
def base_url(shop_url: str) -> str:
    """Relative page.goto() paths go to the shop (this also replaces pytest-base-url's --base-url fixture)."""
    return shop_url


@pytest.fixture(scope="session")
def issuer_url(apps: Apps) -> str:
    return apps.issuer_url


@pytest.fixture(scope="session")
def sandbox(apps: Apps) -> SandboxApi:
    return SandboxApi(apps.issuer_url)


@pytest.fixture
def partner(apps: Apps) -> PartnerApi:
    return PartnerApi(apps.issuer_url)


@pytest.fixture
def shop(page: Page, shop_url: str) -> ShopPage:
    """A new shopper, signed up through the shop's own form (so no test shares a shopper or a card link)."""
    shop = ShopPage(page, shop_url)
    shop.sign_up()
    return shop


@pytest.fixture
def console(context: BrowserContext, issuer_url: str) -> ConsolePage:
    """The sandbox console, signed in, in a second tab of the shopper's browser."""
    console = ConsolePage(context.new_page(), issuer_url)
    console.sign_in()
    return console


@pytest.fixture(autouse=True)
def _fresh_sandbox_and_logs(
    request: pytest.FixtureRequest, apps: Apps, sandbox: SandboxApi, output_path: str
) -> Iterator[None]:
    """Reset the issuer to its seed state before each test; keep the servers' logs of a failed test."""
    offsets = apps.log_offsets()
    try:
        sandbox.reset()
    except BaseException:
        apps.save_logs_since(offsets, Path(output_path))
        raise
    yield
    if _failed(request.node):
        apps.save_logs_since(offsets, Path(output_path))


def _failed(item: pytest.Item) -> bool:
    reports = [getattr(item, f"e2e_rep_{when}", None) for when in ("setup", "call")]
    return any(report is not None and report.failed for report in reports)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"e2e_rep_{report.when}", report)
    return report
