"""Browser fixtures: one chromium per test module, a fresh context and page per test.

Playwright's sync API runs an event loop in this thread while it is open, so the
browser lives for one module only: async tests elsewhere need the thread's loop free.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.conftest import client_for
from tests.web.harness import CHROMIUM, CHROMIUM_ARGS, WIDE, missing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["browser", "client_for", "page"]


@pytest.fixture(autouse=True)
def _own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process apps keep their GPU configuration in the test's folder, not the user's."""
    monkeypatch.setenv("GPUPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'gpuplan.db'}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing(f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright for Python is not installed (pip install -e '.[dev]')")
        raise AssertionError from None  # unreachable
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page at 1280×900 that fails the test on any script error or console error."""
    context = browser.new_context(viewport={"width": WIDE, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    new_page = context.new_page()
    new_page.set_default_timeout(15_000)
    problems: list[str] = []
    new_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console error: {message.text}")

    new_page.on("console", on_console)
    try:
        yield new_page
    finally:
        context.close()
    assert not problems, "\n".join(problems)
