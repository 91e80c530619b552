"""Browser journeys in real Chromium through Playwright (see shared/recipes/playwright.md)."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls in these tests are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip


def pytest_collection_modifyitems(config, items):
    if os.environ.get("HELPDESK_NO_BROWSER"):
        skip = pytest.mark.skip(reason="no Chromium on this machine (dev.py test could not get one)")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    chromium = os.environ.get("CHROMIUM_PATH") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None
    )
    if chromium:
        args["executable_path"] = chromium
    return args


@pytest.fixture
def screenshot_on_failure(page, request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        folder = Path(__file__).resolve().parents[2] / "test-results"
        folder.mkdir(exist_ok=True)
        page.screenshot(path=str(folder / f"{request.node.name}.png"), full_page=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def sign_in(page, live_server, email: str, password: str = "pw-123456") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
