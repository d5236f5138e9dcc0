"""Control surface test setup: a real show host, a running surface on 127.0.0.1, and a real Chromium.

Browser tests carry the ``browser`` marker: they skip with a reason when Debian's ``chromium`` or the
``playwright`` package is missing, and fail instead under ``--require-browser`` (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading

import pytest

from engine.surface import SurfaceConfig, start_surface
from tests.conftest import browser_problem, missing_resource
from tests.surface.show_host import ShowHost

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def host():
    show = ShowHost()
    yield show
    show.stop()


def surface_config(**overrides) -> SurfaceConfig:
    values = dict(port=0, osc_host="127.0.0.1", osc_port=9000, stats_interval=0.1)
    values.update(overrides)
    return SurfaceConfig(**values)


@pytest.fixture
def surface(host):
    running = start_surface(host, surface_config())
    yield running
    running.stop()


def run(coro):
    """Run a coroutine of a test on its own event loop in its own thread (Playwright's sync API keeps a
    loop running on the main thread while a browser is open)."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as e:  # handed to the test's thread below
            outcome["error"] = e

    thread = threading.Thread(target=target, name="test-asyncio")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture(scope="module")
def chromium():
    """A headless Debian Chromium driven by Playwright (one per test module; a fresh context per test)."""
    problem = browser_problem()
    if problem:
        yield None
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(chromium, request):
    if chromium is None:
        missing_resource(request.config, "browser", browser_problem() or "no browser")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def scratch_dir():
    path = tempfile.mkdtemp(prefix="netblend-surface-")
    yield path
    shutil.rmtree(path, ignore_errors=True)
