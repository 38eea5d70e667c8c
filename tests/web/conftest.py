"""The screens under test: a real hub served on 127.0.0.1, and Debian's Chromium.

One browser per test session and one hub shared by the browser tests (they run in CI
on 2 cores), except a story that counts a wijk's inbox, which gets its own. A hub
runs in a thread of this process without its background worker: the tests
drain the queue themselves (``web_hub.drain()``), so nothing waits on a timer.
Chromium is the Debian package at ``/usr/bin/chromium`` (``apt-get install
chromium``), never one Playwright downloads; without it the browser tests skip
on a developer machine and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from hub.app import create_app
from hub.core.context import HubContext, build_context
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from hub.core.worker import OutboxWorker
from hub.settings import Settings
from tests.conftest import CHEAP_KEY_HASHING
from tests.utils import databases
from tests.utils.services import unavailable

CHROMIUM = Path(os.environ.get("WIJKHUB_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Only WCAG 2.1 A and AA rules: what Dutch public services must meet.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORT = {"width": 1200, "height": 860}


@dataclass
class WebHub:
    """A hub serving HTTP on 127.0.0.1, and the means to drive its queue."""

    ctx: HubContext
    url: str
    worker: OutboxWorker

    def drain(self) -> int:
        """Route everything queued (the test's stand-in for the background worker)."""
        return self.worker.drain()


def serve(ctx: HubContext) -> tuple[uvicorn.Server, threading.Thread, socket.socket, str]:
    """Start the hub's app with uvicorn in a thread on a free port of 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound here and handed over: no race for the port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(ctx, run_worker=False), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    with httpx.Client() as http:
        for _ in range(400):
            if server.started:
                break
            if not thread.is_alive():
                raise RuntimeError("the hub did not start")
            threading.Event().wait(0.025)
        assert http.get(f"{url}/healthz").status_code == 200
    return server, thread, sock, url


@contextmanager
def running_hub(data: Path, template: Path) -> Iterator[WebHub]:
    """A real hub served on 127.0.0.1 (SQLite copied from the migrated template, development
    issuer, no background worker: a test drains the queue when its story needs it)."""
    settings = Settings(env="test", data_dir=data,
                        database_url=databases.sqlite_copy(template, data / "hub.db"),
                        worker_enabled=False, partner_rate_burst=1_000_000, **CHEAP_KEY_HASHING)
    ctx = build_context(settings, plugins=load_plugins())
    upgrade(ctx.engine)
    server, thread, sock, url = serve(ctx)
    try:
        yield WebHub(ctx=ctx, url=url, worker=OutboxWorker(ctx))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        ctx.dispose()


@pytest.fixture(scope="session")
def web_hub(tmp_path_factory, sqlite_template) -> Iterator[WebHub]:
    """One hub shared by the browser tests of a session: each uses residents (BSNs) of its own."""
    with running_hub(tmp_path_factory.mktemp("web-hub"), sqlite_template) as hub:
        yield hub


@pytest.fixture(scope="module")
def own_web_hub(tmp_path_factory, sqlite_template) -> Iterator[WebHub]:
    """A hub for one module alone: for a story that counts what a wijk's inbox holds, which
    another module's residents in the shared hub would change (in random order, too)."""
    with running_hub(tmp_path_factory.mktemp("own-web-hub"), sqlite_template) as hub:
        yield hub


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Debian's Chromium through Playwright: one browser for the session."""
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium); "
                    "the browser tests need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--no-sandbox", "--disable-gpu"])
        try:
            yield chromium
        finally:
            chromium.close()


def check_accessibility(page) -> None:
    """Run axe-core in the page; fail on any violation of a WCAG 2.1 A/AA rule."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    violations = results.response.get("violations", [])
    assert not violations, f"{page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        f"{[n['target'] for n in v['nodes']][:3]}" for v in violations)


def screenshot(page, name: str) -> None:
    """Save the page as docs/screenshots/<name>.png when WIJKHUB_SCREENSHOTS=1."""
    if os.environ.get("WIJKHUB_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(browser, hub, choose, viewport: dict[str, int] | None = None) -> object:
    """A fresh browser context, logged in through the demo chooser by ``choose(page)``."""
    context = browser.new_context(base_url=hub.url, viewport=viewport or VIEWPORT,
                                  locale="nl-NL")
    page = context.new_page()
    page.goto("/inloggen")
    choose(page)
    return page


def as_resident(name: str):
    """Log in through the chooser as the resident called ``name``."""
    def choose(page):
        page.get_by_label("Naam").select_option(label=name)
        page.get_by_role("button", name="Inloggen als bewoner").click()
    return choose


def as_staff(button: str, wijk: str = "Krispijn"):
    """Log in through the chooser with ``button`` (regisseur, teamleider, beheerder)."""
    def choose(page):
        if button != "Inloggen als beheerder":
            section = page.locator("section", has=page.get_by_role("button", name=button))
            section.get_by_label("Wijk").select_option(label=wijk)
        page.get_by_role("button", name=button).click()
    return choose
