"""Headless Chromium (the system's) driven by Playwright against the live server.

Screenshots go to test-artifacts/screenshots/; those the README shows are written to
docs/screenshots/ as well (``screenshot(name, readme="...")``), so the README's images are
those of the last browser test run and cannot drift from the pages
(tests/browser/test_readme_screenshots.py checks that each has a test writing it)."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15's CSS pixels


def _chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("No Chromium found: run 'make test', which installs it, or 'apt-get install chromium'.")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls our test
    # code makes here are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium_path(),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone(browser, live_server):
    """A page at a phone's width, as a phone's browser renders it (touch, mobile viewport).
    Reduced motion: menus open without their slide, so a test sees them where they stop."""
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True, reduced_motion="reduce"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, readme: str | None = None, of=None, full_page: bool = True) -> Path:
        """Save ``of`` (default: the desktop page) as test-artifacts/screenshots/<name>.png and,
        with ``readme``, as docs/screenshots/<readme>.png too."""
        path = SCREENSHOTS / f"{name}.png"
        (of or page).screenshot(path=str(path), full_page=full_page)
        if readme:
            README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_SCREENSHOTS / f"{readme}.png")
        return path

    return take


def assert_no_sideways_scroll(page) -> None:
    """The page is no wider than the window: nothing to scroll to sideways."""
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{page.url} is {scroll_width} px wide in a {inner_width} px window"


def assert_within_width(page, locator) -> None:
    """Every element ``locator`` matches lies inside the window's width (seen without scrolling sideways)."""
    width = page.evaluate("window.innerWidth")
    boxes = [box for box in (element.bounding_box() for element in locator.all()) if box]
    assert boxes, "nothing to check"
    for box in boxes:
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, f"{box} outside 0..{width} px"


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def tasks_run_at_once():
    """Celery tasks queued on commit (invitation and notification e-mails) run in the live
    server's thread (eager), so their e-mails land in this process's mail.outbox."""
    from connectbooster.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
