"""Browser tests: the app served on loopback, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import re
import shutil
from urllib.parse import urlsplit

import pytest

from app import create_app
from tests.factories import PASSWORD
from tests.loopback import serve_threaded

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(skip)


def keep_on_loopback(page, blocked: list[str]) -> None:
    """Let the page reach only loopback servers (and data:/blob: URLs); any other request is aborted and its URL
    added to `blocked`."""

    def guard(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", guard)


def login(page, live_server, email, password=PASSWORD):
    """Log in through the form and wait for the home page."""
    from playwright.sync_api import expect

    page.goto(live_server + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/$"))


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, started once for the session (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page for each test, desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def live_app(app):
    """A second app on the same database with CSRF switched on, as in production."""
    from app.extensions import db

    live = create_app(
        "testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "WTF_CSRF_ENABLED": True}
    )
    yield live
    with live.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    with serve_threaded(live_app) as base:
        yield base


@pytest.fixture
def offline_page(page, live_server, db):
    """A page that may reach only the live server: any other request is aborted and remembered."""
    from app.extensions import limiter

    limiter.reset()
    blocked: list[str] = []

    keep_on_loopback(page, blocked)
    page.set_default_timeout(10_000)
    page.blocked_requests = blocked
    yield page
    assert not blocked, f"the page tried to reach the internet: {blocked}"
