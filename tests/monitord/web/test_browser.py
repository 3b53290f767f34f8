"""The console in a real browser on a phone-sized screen (Debian's chromium): sign in with
a password and a TOTP code, triage an alert, a second review by another account, a
governor refused a pupil's alert, a form with a wrong CSRF token refused, lock-out, a
session that expires, and the technician managing the accounts. With
MONITORD_SCREENSHOTS=DIR the inbox and an alert page are saved there (docs/ holds the
README's)."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pyzipper  # type: ignore[import-untyped]
from selenium.common.exceptions import WebDriverException
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from monitord.casework.query import Query
from monitord.casework.search import search
from monitord.core.clock import FixedClock
from monitord.settings.config import Config
from tests.monitord.web.browser import need_chromium, phone, serving
from tests.monitord.web.school import PASSWORD, Console, console_school
from tests.monitord.web.test_devicepage import enrolled
from tests.monitord.web.test_listpage import changed


@pytest.fixture
def console(config: Config, clock: FixedClock, tmp_path: Path) -> Iterator[Console]:
    need_chromium()
    with console_school(config, clock, tmp_path) as c:
        yield c


@pytest.fixture
def site(console: Console) -> Iterator[str]:
    with serving(console.app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with phone() as driver:
        yield driver


def sign_in(browser: WebDriver, console: Console, username: str, code: str | None = None) -> None:
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.NAME, "totp").send_keys(code or console.code(username))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.stack button"))


def submit(browser: WebDriver, button: WebElement) -> None:
    """Click and wait for the page that comes back."""
    next_page(browser, button.click)


def next_page(browser: WebDriver, act: Callable[[], object]) -> None:
    """Do what leaves this page, then wait until another document has loaded whole.

    The old document is marked and the wait asks the browser for the mark, never for an
    element: under load chromedriver can answer a question about an element of a page that is
    going away with an error other than "stale", which a staleness wait does not expect."""
    browser.execute_script("document.documentElement.dataset.left = 'no'")
    act()

    def arrived(b: WebDriver) -> bool:
        return bool(
            b.execute_script(
                "return document.readyState === 'complete'"
                " && document.documentElement.dataset.left !== 'no'"
            )
        )

    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(arrived)


def press(browser: WebDriver, label: str) -> None:
    submit(browser, browser.find_element(By.XPATH, f"//button[starts-with(text(), '{label}')]"))


def text(browser: WebDriver) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def no_csp_violation(browser: WebDriver) -> None:
    logs = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert not [e for e in logs if "Content Security Policy" in e["message"]], logs


def fits_the_screen(browser: WebDriver) -> None:
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"


def from_the_menu(browser: WebDriver, console: Console, site: str, who: str, link: str) -> None:
    """Signed in as ``who`` on the inbox, follow the menu's ``link``."""
    browser.get(f"{site}/alerts")
    sign_in(browser, console, who)
    submit(browser, browser.find_element(By.LINK_TEXT, link))


def screenshot(browser: WebDriver, name: str) -> None:
    folder = os.environ.get("MONITORD_SCREENSHOTS")
    if folder:
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True})
        Path(folder, name).write_bytes(base64.b64decode(shot["data"]))


def test_sign_in_and_triage_an_alert_on_a_phone(
    console: Console, site: str, browser: WebDriver
) -> None:
    alice = console.alert["alice.p"]
    console.school.clock.advance(timedelta(minutes=35))  # the alerts have waited a while
    browser.get(f"{site}/alerts/{alice}")  # the link in the alert mail
    assert "/signin" in browser.current_url
    sign_in(browser, console, "dep")
    assert browser.current_url == f"{site}/alerts/{alice}", text(browser)
    page = text(browser)
    assert "Alice Pupil\nPupil, Year 5, class Oak · alice.p" in page
    fits_the_screen(browser)
    press(browser, "Acknowledge")
    assert "Acknowledged." in text(browser)
    browser.find_element(By.NAME, "text").send_keys("Spoke to Alice with her class teacher")
    press(browser, "Add note")
    assert "Note added." in text(browser)
    assert "Spoke to Alice with her class teacher" in text(browser)
    screenshot(browser, "console-alert.png")
    submit(browser, browser.find_element(By.LINK_TEXT, "← Inbox"))
    fits_the_screen(browser)
    assert "5 open alerts" in text(browser)  # Alice's is acknowledged now
    screenshot(browser, "console-inbox.png")
    no_csp_violation(browser)
    [row] = console.school.alerts(id=alice)
    assert row["status"] == "acknowledged"
    assert [a["actor"] for a in console.school.audit("alert.note")] == ["dep"]


def test_a_second_review_by_another_account(
    console: Console, site: str, browser: WebDriver
) -> None:
    bob = console.alert["bob.s"]
    browser.get(f"{site}/alerts/{bob}")
    sign_in(browser, console, "dep")
    press(browser, "Acknowledge")
    assert "Sign the second review" not in text(browser)
    press(browser, "Sign out")
    browser.get(f"{site}/alerts/{bob}")
    sign_in(browser, console, "helen.h")
    press(browser, "Sign the second review")
    assert "Second review signed." in text(browser)
    [row] = console.school.alerts(id=bob)
    assert row["reviewer"] == "helen.h"


def forge_post(browser: WebDriver, action: str) -> None:
    """Post a form the page does not offer, with the page's own token, as a person could."""
    next_page(
        browser,
        lambda: browser.execute_script(
            "const f = document.createElement('form'); f.method = 'post';"
            " f.action = arguments[0];"
            "const t = document.querySelector('input[name=csrf]').cloneNode(); f.appendChild(t);"
            "document.body.appendChild(f); f.submit();",
            action,
        ),
    )


def downloaded(folder: Path, name: str) -> Path:
    path = folder / name
    deadline = time.monotonic() + 30
    while not path.exists() or list(folder.glob("*.crdownload")):
        assert time.monotonic() < deadline, f"{name} was not downloaded: {list(folder.iterdir())}"
        time.sleep(0.1)
    return path


def test_the_bundles_review_form_is_signed_by_both_accounts(
    console: Console, site: str, browser: WebDriver, tmp_path: Path
) -> None:
    alice = console.alert["alice.p"]
    browser.get(f"{site}/alerts/{alice}")
    sign_in(browser, console, "sam.dsl")  # the DSL: the first review
    press(browser, "Acknowledge")
    assert "Sign the second review" not in text(browser)
    forge_post(browser, f"/alerts/{alice}/review")  # the same account twice
    assert "sam.dsl is its first reviewer; the second review must be another account's" in (
        text(browser)
    )
    assert console.school.audit("alert.review") == []
    press(browser, "Sign out")

    browser.get(f"{site}/alerts/{alice}")
    sign_in(browser, console, "dep")  # the deputy: the second
    press(browser, "Sign the second review (first: sam.dsl)")
    assert "Second review signed." in text(browser)
    assert "second review by dep" in text(browser)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.find_element(By.CSS_SELECTOR, "details.more summary").click()
    browser.find_element(By.NAME, "password").send_keys("the police's copy 2026")
    browser.find_element(By.XPATH, "//button[text()='Export evidence']").click()
    bundle = downloaded(downloads, f"monitord-alert-{alice}-evidence.zip")
    no_csp_violation(browser)

    with pyzipper.AESZipFile(bundle) as z:
        z.setpassword(b"the police's copy 2026")
        form = z.read("review-form.html").decode()
    first, second = form.split("Details of second reviewing person")
    for expected in (
        "<td>Sam Someone (sam.dsl)</td>",
        ">Designated Safeguarding Lead</td>",
        "<td>acknowledged it in monitord 20/11/2026 ",
        "signed in monitord by the account sam.dsl</td>",
    ):
        assert expected in first, expected
    for expected in (
        "<td>Priya Shah (dep)</td>",
        ">Deputy Designated Safeguarding Lead</td>",
        "<td>signed off in monitord 20/11/2026 ",
        "signed in monitord by the account dep</td>",
    ):
        assert expected in second, expected
    [review] = console.school.audit("alert.review")
    assert review["actor"] == "dep"
    [export] = console.school.audit("alert.export")
    assert export["actor"] == "dep"


def test_a_governor_is_refused_a_pupils_alert(
    console: Console, site: str, browser: WebDriver
) -> None:
    browser.get(f"{site}/alerts/{console.alert['alice.p']}")
    sign_in(browser, console, "gov")
    assert "not one the governor role may see" in text(browser)
    assert "Alice" not in text(browser)


def test_a_form_with_a_wrong_csrf_token_is_refused(
    console: Console, site: str, browser: WebDriver
) -> None:
    alice = console.alert["alice.p"]
    browser.get(f"{site}/alerts/{alice}")
    sign_in(browser, console, "dep")
    browser.execute_script(
        "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')"
    )
    press(browser, "Acknowledge")
    assert "nothing was changed" in text(browser)
    assert console.school.audit("alert.ack") == []


def test_lock_out_after_five_failures(console: Console, site: str, browser: WebDriver) -> None:
    for _ in range(5):
        browser.get(f"{site}/signin")
        sign_in(browser, console, "dep", "000000")
        assert "wrong user name, password or code" in text(browser)
    browser.get(f"{site}/signin")
    sign_in(browser, console, "dep")
    assert "locked" in text(browser).lower()
    assert "/signin" in browser.current_url


def test_an_idle_session_ends(console: Console, site: str, browser: WebDriver) -> None:
    browser.get(f"{site}/alerts")
    sign_in(browser, console, "dep")
    assert "open alerts" in text(browser)
    assert isinstance(console.school.clock, FixedClock)
    console.school.clock.advance(timedelta(minutes=16))
    browser.get(f"{site}/alerts")
    assert "/signin" in browser.current_url
    assert "Your session ended" in text(browser)


def test_the_governors_report_with_its_charts_on_a_phone(
    console: Console, site: str, browser: WebDriver
) -> None:
    browser.get(f"{site}/report")
    sign_in(browser, console, "gov")
    assert browser.current_url == f"{site}/report", text(browser)
    page = text(browser)
    assert "Alerts raised\n6" in page
    for name in ("Alice", "alice.p", "Bob", "bob.s", "Helen Head", "LAP-ALICE", "pornhub"):
        assert name not in browser.page_source
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg[role=img]")
    assert [c.get_attribute("aria-label") for c in charts] == [
        "Alerts per month, by severity",
        "Alerts by category",
        "Outcomes of the alerts closed",
    ]
    for chart in charts:  # drawn across the screen, not collapsed
        assert chart.size["width"] > 300
        assert chart.size["height"] > 100
    # The severities' colours reached the bars: no style was refused.
    fills = browser.execute_script(
        "return [...document.querySelectorAll('figure.chart path')]"
        ".map(p => getComputedStyle(p).fill)"
    )
    assert "rgb(192, 57, 43)" in fills  # high
    assert browser.find_element(By.LINK_TEXT, "Download the report (PDF)")
    fits_the_screen(browser)
    no_csp_violation(browser)
    screenshot(browser, "console-report.png")


def test_the_audit_trail_on_a_phone(console: Console, site: str, browser: WebDriver) -> None:
    alice = console.alert["alice.p"]
    browser.get(f"{site}/alerts/{alice}")
    sign_in(browser, console, "dep")
    press(browser, "Acknowledge")
    press(browser, "Sign out")
    school = console.school
    why = "Alice's teacher saw the screen"
    search(school.app.engine, Query(user="alice.p"), "dep", why, school.clock.now())
    browser.get(f"{site}/audit")
    sign_in(browser, console, "helen.h")
    page = text(browser)
    assert "Audit trail" in page
    assert "dep acknowledged the alert" in page  # in words
    assert f"dep searched the logs · user:alice.p\nWhy: {why}" in page
    assert f"alert:{alice}" in page
    submit(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Check that nothing"))
    assert "The trail is whole" in text(browser)
    fits_the_screen(browser)
    no_csp_violation(browser)
    screenshot(browser, "console-audit.png")
    browser.find_element(By.CSS_SELECTOR, "details.filters summary").click()
    Select(browser.find_element(By.NAME, "kind")).select_by_value("sign-ins")
    press(browser, "Apply")
    assert "failed to sign in" not in text(browser)
    assert "dep signed in" in text(browser)
    assert "searched the logs" not in text(browser)


def test_the_lists_change_log_on_a_phone(console: Console, site: str, browser: WebDriver) -> None:
    changed(console)
    from_the_menu(browser, console, site, "helen.h", "Lists")
    page = text(browser)
    assert "helen.h disabled 1 list" in page
    assert "local/bets (gambling): 3 domains, 0 URLs → not in use" in page
    fits_the_screen(browser)
    no_csp_violation(browser)
    screenshot(browser, "console-lists.png")


def test_recording_the_annual_review_on_a_phone(
    console: Console, site: str, browser: WebDriver
) -> None:
    browser.get(f"{site}/reviews")
    sign_in(browser, console, "sam.dsl")
    assert "No review has been recorded yet." in text(browser)
    for value in ("helen.h", "tech"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=reviewer][value='{value}']").click()
    for value in ("roles", "blocking", "tested", "monitoring"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=checked][value='{value}']").click()
    browser.find_element(By.NAME, "notes").send_keys("The term's filtering checks, together")
    browser.find_element(By.NAME, "changed").send_keys("SafeSearch on the guest network")
    fits_the_screen(browser)
    press(browser, "Record the review")
    page = text(browser)
    assert "Review recorded." in page
    assert "Next review due by 20 November 2027" in page
    assert (
        "Reviewed by Helen Head (Headteacher), Sam Someone (DSL), Tariq Tech (Technician)" in page
    )
    fits_the_screen(browser)
    no_csp_violation(browser)
    screenshot(browser, "console-review.png")
    press(browser, "Sign out")
    browser.get(f"{site}/reviews")
    sign_in(browser, console, "gov")
    assert "SafeSearch on the guest network" in text(browser)
    assert not browser.find_elements(By.NAME, "changed")


def test_the_devices_on_a_phone(console: Console, site: str, browser: WebDriver) -> None:
    enrolled(console)
    from_the_menu(browser, console, site, "tech", "Devices")
    page = text(browser)
    assert "Unauthorised devices seen (1 open)" in page
    assert "office-dns (dnsmasq): nothing written since" in page
    assert "LAP-ALICE" in page
    assert "agent alice-agent: last report" in page
    fits_the_screen(browser)
    no_csp_violation(browser)
    screenshot(browser, "console-devices.png")


def account_action(browser: WebDriver, username: str, action: str) -> None:
    button = f"form[action='/accounts/{username}/{action}'] button"
    submit(browser, browser.find_element(By.CSS_SELECTOR, button))


def test_the_technician_manages_an_account_on_a_phone(
    console: Console, site: str, browser: WebDriver
) -> None:
    from_the_menu(browser, console, site, "tech", "Accounts")
    page = text(browser)
    assert "gov\nGina Governor · " in page
    assert "last signed in " in page  # the technician's own sign-in
    # No Disable button on its own account.
    assert not browser.find_elements(By.CSS_SELECTOR, "form[action='/accounts/tech/disable']")
    fits_the_screen(browser)
    account_action(browser, "gov", "disable")
    assert "gov is disabled; its sessions have ended." in text(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "form[action='/accounts/gov/enable']")
    account_action(browser, "dep", "reset-2fa")
    page = text(browser)
    assert "dep: two-factor and recovery codes removed. One-time enrolment code" in page
    assert "dep\nPriya Shah · " in page
    fits_the_screen(browser)
    no_csp_violation(browser)
    press(browser, "Sign out")
    browser.get(f"{site}/signin")
    sign_in(browser, console, "gov")
    assert "/signin" in browser.current_url
    assert "wrong user name, password or code" in text(browser)
    trail = [
        (r["actor"], r["action"], r["subject"]) for r in console.school.audit("account.disable")
    ]
    assert trail == [("tech", "account.disable", "account:gov")]
    [reset] = console.school.audit("account.reset_2fa")
    assert (reset["actor"], reset["subject"]) == ("tech", "account:dep")
