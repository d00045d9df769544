"""What the browser tests share: Chromium driven by Playwright (the `browser` fixture) and one
staff member's admin session (`Operator`), with screenshots under test-artifacts/."""

import base64
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django_otp.oath import totp

from mutual.two_factor import staff_2fa_enroll

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are
    # still synchronous (Django and pytest-playwright document this switch for tests).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )  # fmt: skip
        yield chromium
        chromium.close()


class Operator:
    """One staff member's browser session in the admin. With staff two-factor login on (as in
    production, and in the tests), they are enrolled and type the authenticator's code."""

    def __init__(
        self, browser, live_server, username, step_prefix, password="pw", width=1400, language="en"
    ):
        # The browser asks for `language` (the LocaleMiddleware follows it); screenshots of a
        # language other than English carry it in their names.
        context = browser.new_context(
            viewport={"width": width, "height": 900},
            extra_http_headers={"Accept-Language": language},
        )
        self.page = context.new_page()
        if language != "en":
            step_prefix = f"{step_prefix}-{language}"
        # The pages' Content-Security-Policy must not break them: whatever it refuses is
        # reported on the console, and every screenshot checks that nothing was.
        self.refused: list[str] = []
        self.page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and self.refused.append(m.text),
        )
        self.base, self.prefix, self.step = live_server.url, step_prefix, 0
        self.page.goto(f"{self.base}/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        if settings.MUTUAL_STAFF_2FA:
            secret = staff_2fa_enroll(username=username).secret
            self.page.fill("#id_otp_token", f"{totp(base64.b32decode(secret)):06d}")
        self.page.click("input[type=submit]")
        assert self.page.url.rstrip("/").endswith("/admin"), "the login was refused"

    def open(self, path):
        self.page.goto(f"{self.base}{path}")

    def press(self, action, **fields):
        form = self.page.locator(f"form[data-action='{action}']")
        for name, value in fields.items():
            target = form.locator(f"[name='{name}']")
            if name == "file":
                target.set_input_files(value)
            elif name in ("investigator", "kind", "refusal_code", "reopen_code"):
                target.select_option(value)
            else:
                target.fill(value)
        form.locator("input[type=submit]").click()

    def shot(self, name):
        assert not self.refused, self.refused
        self.step += 1
        self.page.screenshot(path=ARTIFACTS / f"{self.prefix}-{self.step:02d}-{name}.png",
                             full_page=True)  # fmt: skip

    def messages(self) -> str:
        return self.page.locator("ul.messagelist").inner_text()
