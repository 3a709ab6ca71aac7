"""Browser tests: Playwright drives the system's Chromium against pytest-django's live server.

One browser for the package (start-up is the slow part); each test gets fresh browser
contexts, so every ``visitor()`` is a new anonymous visitor with an empty cookie jar. Every
page records its console errors and uncaught exceptions, and a test fails if any appeared.

Chromium comes from the distribution (``apt-get install chromium``, which ``.ci/run`` does when
it is missing) and is launched through ``executable_path``: Playwright's own browser download
is never used. ``GLEX_CHROMIUM`` points at another binary. Off CI a missing Chromium skips
these tests loudly; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_api

from tests.conftest import ON_CI

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("GLEX_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "correct-horse-battery"


def chromium_path() -> str | None:
    configured = os.environ.get("GLEX_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="package")
def browser(live_server: Any) -> Iterator[Any]:
    # One browser for this package's tests; it closes when they are done, so the rest of the
    # session runs without Playwright's event loop (and without DJANGO_ALLOW_ASYNC_UNSAFE).
    # It depends on the live server so that it closes first: the browser's keep-alive
    # connections end while the server still shares the test database with its threads.
    executable = chromium_path()
    if executable is None:
        message = "Chromium is not installed (apt-get install -y chromium, or set GLEX_CHROMIUM)"
        if ON_CI:
            pytest.fail(f"{message} (CI=true: the browser tests are mandatory)")
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    # Playwright's sync API keeps an asyncio loop running in this thread while the browser is
    # up; Django refuses ORM calls from a thread with a running loop unless told this is safe.
    # It is here: the test body is plain synchronous code between Playwright calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with playwright_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo_site(settings: Any, live_server: Any) -> str:
    """The demo project's pages, admin and tracking on the live server, as the demo runs them."""
    settings.ROOT_URLCONF = "example_project.urls"
    settings.TIME_ZONE = "UTC"
    settings.DJANGO_EXPERIMENTS = {
        **settings.DJANGO_EXPERIMENTS,
        "ALLOW_FORCED_ASSIGNMENT": True,
        "TRACKING_SINKS": ["django_experiments.tracking.sinks.DatabaseSink"],
    }
    from django.urls import clear_url_caches

    clear_url_caches()
    return str(live_server.url)


class ConsoleErrors(list[str]):
    def watch(self, page: Any) -> None:
        page.on(
            "console",
            lambda msg: (
                self.append(f"console.{msg.type}: {msg.text} ({page.url})")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.append(f"uncaught: {exc} ({page.url})"))


@pytest.fixture
def console_errors() -> Iterator[ConsoleErrors]:
    errors = ConsoleErrors()
    yield errors
    assert list(errors) == [], "console errors:\n" + "\n".join(errors)


@pytest.fixture
def visitor(
    browser: Any, demo_site: str, console_errors: ConsoleErrors
) -> Iterator[Callable[[], Any]]:
    """``visitor()`` opens a page in a new browser context: a new visitor, no cookies."""
    contexts: list[Any] = []

    def new_visitor() -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=demo_site)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        console_errors.watch(page)
        return page

    yield new_visitor
    for context in contexts:
        context.close()


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("editor", "editor@example.com", PASSWORD)


@pytest.fixture
def editor(visitor: Callable[[], Any], staff_user: Any) -> Any:
    """A page logged in to the admin as a superuser."""
    page = visitor()
    log_in(page, "/admin/login/?next=/admin/", staff_user.username)
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit], form button")


def screenshot(page: Any, name: str, full_page: bool = False, element: str | None = None) -> Path:
    """``artifacts/screenshots/<name>.png``: the viewport, the full page or one element."""
    path = SCREENSHOTS / f"{name}.png"
    if element is not None:
        page.locator(element).first.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=full_page)
    return path
