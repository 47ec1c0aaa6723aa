"""A real browser for tests: Debian's Chromium driven by Playwright (``make test`` installs both). Every request
the page makes is recorded, and any that would leave loopback is refused and reported."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "chromium"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


@dataclass
class Traffic:
    """What the page asked for: every URL, those refused for leaving loopback, and failed answers (>= 400)."""

    requested: list[str] = field(default_factory=list)
    off_loopback: list[str] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


@contextmanager
def chromium_page(viewport: tuple[int, int] = (1280, 900)) -> Iterator[tuple[Any, Traffic]]:
    """A fresh Chromium page and the record of its traffic; closed afterwards. Skips when Chromium or Playwright
    is missing (a failure under CI=true: the tests using it are end-to-end tests)."""
    executable = shutil.which(CHROMIUM)
    if executable is None:
        pytest.skip("needs Debian's chromium on PATH (apt-get install chromium; make test installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs the playwright package (requirements-dev.txt)")
    traffic = Traffic()
    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root (CI does), where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})

            def route(route: Any) -> None:
                url = route.request.url
                traffic.requested.append(url)
                host = urlsplit(url).hostname or ""
                if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
                    route.continue_()
                else:
                    traffic.off_loopback.append(url)
                    route.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on(
                "response",
                lambda response: (
                    traffic.failed.append((response.status, response.url)) if response.status >= 400 else None
                ),
            )
            yield page, traffic
        finally:
            browser.close()
