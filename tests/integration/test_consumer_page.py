"""The consumer's page end to end in headless Chromium (Debian's chromium and chromium-driver):
submit a complaint, follow it to the office routing gave it, and be refused with a wrong phone.

Screenshots are kept in test-artifacts/ at the repository root (CI keeps that folder). Without
Chromium the test fails, never skips: .ci/run installs it.
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from services.common.clients import stub
from tests.integration.conftest import eventually
from xiaobao.intake.v1 import intake_pb2 as ipb

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = "13722446688"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: apt-get install chromium chromium-driver "
            "(.ci/run installs them)",
            pytrace=False,
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=420,900",  # a phone's width
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shown(driver, element_id: str, timeout: float = 15):
    return WebDriverWait(driver, timeout).until(
        ec.visibility_of_element_located((By.ID, element_id))
    )


def screenshot(driver, name: str) -> Path:
    """The whole page at the window's width, from the top, kept as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    width, height = driver.execute_script(
        "var e = document.documentElement; return [e.clientWidth, e.scrollHeight];"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def fill(driver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def test_a_consumer_submits_follows_and_is_refused_a_wrong_phone(browser, http_base, staff):
    browser.get(f"{http_base}/")
    assert browser.title.startswith("银行保险消费投诉")

    # A field the API refuses is marked where the consumer typed it.
    fill(browser, "c-name", "王淑芬")
    fill(browser, "c-phone", "1372244")
    fill(browser, "c-institution", "工行河西支行")
    fill(browser, "c-summary", "信用卡被收取了办卡时未告知的年费，要求退还。")
    browser.find_element(By.ID, "complaint-submit").click()
    error = shown(browser, "c-phone-error")
    assert "手机号码" in error.text
    assert browser.find_element(By.ID, "c-phone").get_attribute("aria-invalid") == "true"

    # Corrected, with a district and a product from the centre's taxonomy, it is received.
    fill(browser, "c-phone", f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}")  # spaces as people type
    Select(browser.find_element(By.ID, "c-region")).select_by_visible_text("河西区")
    WebDriverWait(browser, 10).until(
        lambda d: len(Select(d.find_element(By.ID, "c-product")).options) > 1
    )
    Select(browser.find_element(By.ID, "c-product")).select_by_visible_text("信用卡")
    fill(browser, "c-amount", "300")
    browser.find_element(By.ID, "complaint-submit").click()
    shown(browser, "receipt")
    assert not browser.find_element(By.ID, "c-phone-error").is_displayed()
    case_no = browser.find_element(By.ID, "receipt-case-no").text
    assert re.fullmatch(r"XB\d{14,}", case_no), case_no
    assert "您的投诉已受理" in browser.find_element(By.ID, "receipt-message").text

    # Routing hands it to an office (the platform runs every service).
    def assigned():
        case = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)
        return case if case.status == ipb.CASE_STATUS_ASSIGNED else None

    office = eventually(assigned, timeout=30).assigned_node_name
    assert office

    # The lookup form already has the case number; the phone is the consumer's.
    assert browser.find_element(By.ID, "l-case-no").get_attribute("value") == case_no
    fill(browser, "l-phone", PHONE)
    browser.find_element(By.ID, "lookup-submit").click()
    status = shown(browser, "status")
    assert browser.find_element(By.ID, "status-case-no").text == case_no
    assert browser.find_element(By.ID, "status-name").text == "王**"
    assert browser.find_element(By.ID, "status-text").text == "被投诉机构正在处理"
    assert browser.find_element(By.ID, "status-institution").text == office
    assert "前作出处理决定" in browser.find_element(By.ID, "status-deadline").text
    timeline = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#timeline li")]
    assert "中心收到您的投诉，已登记受理" in timeline[0]
    assert any(f"您的投诉已转交{office}处理" in entry for entry in timeline), timeline
    assert PHONE not in status.text and "王淑芬" not in status.text
    kept = screenshot(browser, "consumer-page.png")
    assert kept.stat().st_size > 10_000

    # A wrong phone: the same answer as an unknown case, shown at the case number.
    fill(browser, "l-phone", "13799990000")
    browser.find_element(By.ID, "lookup-submit").click()
    refused = shown(browser, "l-case-no-error")
    assert refused.text == "没有找到与该手机号匹配的案件"
    assert not browser.find_element(By.ID, "status").is_displayed()
    screenshot(browser, "consumer-page-wrong-phone.png")

    # The page ran under its Content-Security-Policy without a violation.
    logs = browser.get_log("browser")
    assert not [entry for entry in logs if "Content Security Policy" in entry["message"]], logs
