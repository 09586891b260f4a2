"""Click through the review page in headless Chromium, as a quality reviewer would.

Needs Debian's `chromium` and `chromium-driver` and the `selenium` package; skips with the reason
when one is missing (CI installs them). Selenium is pointed at /usr/bin/chromedriver so that
selenium-manager never tries to download a driver.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.models import Decision
from auditor.review import latest_decisions
from auditor.review.web import make_review_server
from auditor.store import Store

from .test_review_fixtures import ID_NUMBER, fake_mask, sample_store, sqlite_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "headless Chromium is not installed (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

__all__ = ["sqlite_store"]

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser() -> Iterator[object]:
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must not reach out
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1200,1400",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served(sqlite_store: Store, tmp_path: Path) -> Iterator[tuple[str, object]]:
    sample = sample_store(sqlite_store, tmp_path)
    server, url = make_review_server(sqlite_store, "王芳", port=0, mask=fake_mask)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, sample
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def shown_finding(driver) -> int:
    return int(driver.find_element(By.ID, "finding-id").text)


def test_reviewer_confirms_and_dismisses_in_the_browser(
    browser, served, sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store  # the browser and the server see one file; PostgreSQL adds nothing here
    url, sample = served
    wait = WebDriverWait(browser, 20)
    browser.get(url)
    critical = sample.findings["US-THREAT-002"]
    assert shown_finding(browser) == critical
    assert "arrested" in browser.find_element(By.CSS_SELECTOR, "#quote mark").text

    browser.find_element(By.ID, "confirm").click()
    threat = sample.findings["CN-THREAT-004"]
    wait.until(lambda d: shown_finding(d) == threat)
    assert browser.find_element(By.ID, "flash").text == f"Finding {critical}: confirmed by 王芳."
    assert browser.find_element(By.CSS_SELECTOR, "#quote mark").text == "发到你所有联系人"
    assert ID_NUMBER not in browser.page_source

    # The player is set to the finding's time (4.5 s, less a second of lead-in).
    audio = browser.find_element(By.ID, "recording")
    assert audio.get_attribute("src").endswith(f"/audio/{sample.contacts['c001']}#t=3.5")
    wait.until(lambda d: d.execute_script("return arguments[0].readyState", audio) >= 1)
    assert browser.execute_script("return arguments[0].currentTime", audio) == pytest.approx(3.5)
    assert browser.execute_script("return arguments[0].duration", audio) == pytest.approx(15.0)
    browser.save_screenshot(str(tmp_path / "review-page.png"))

    # Dismissing without a reason is refused on the same finding...
    browser.find_element(By.ID, "dismiss").click()
    wait.until(lambda d: d.find_elements(By.ID, "error"))
    assert "a dismissal needs a reason" in browser.find_element(By.ID, "error").text
    assert shown_finding(browser) == threat
    assert latest_decisions(store) == {critical: Decision.CONFIRMED}

    # ...and recorded with one.
    browser.find_element(By.ID, "reason").send_keys("催收员在复述客户的话")
    browser.find_element(By.ID, "dismiss").click()
    privacy = sample.findings["CN-PRIVACY-002"]
    wait.until(lambda d: shown_finding(d) == privacy)
    assert browser.find_elements(By.ID, "recording") == []  # an SMS has nothing to play

    history = store.review_history(threat)
    assert [(h["decision"], h["reviewer"], h["reason"]) for h in history] == [
        ("dismissed", "王芳", "催收员在复述客户的话")
    ]
    assert latest_decisions(store) == {critical: Decision.CONFIRMED, threat: Decision.DISMISSED}

    # Skipping moves on without deciding.
    browser.find_element(By.ID, "skip").click()
    wait.until(lambda d: shown_finding(d) == sample.findings["CN-INSULT-001"])
    assert privacy not in latest_decisions(store)
