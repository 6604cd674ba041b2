"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Selenium,
against the bot's web server on a free port with the digest's hand-built data set
(tests/test_digest.py). A head's team table, sorting, a manager's deals with the links to the
chat; a forged initData shows an error and no data. Screenshots go to tmp_path and to
test-artifacts/ (ignored by git)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from crm.reports.period import PeriodKind, period_of
from crm.service import CRM
from tests.notify_data import actor
from tests.test_digest import build
from tests.webapp_data import sign
from web.miniapp import MiniAppConfig
from web.server import create_web_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - the test extras have it
    HAVE_SELENIUM = False

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER and HAVE_SELENIUM),
    reason="no headless browser: install chromium and chromium-driver (apt) and selenium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keep_screenshots(shots: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for png in shots.glob("*.png"):
        shutil.copy(png, ARTIFACTS / f"miniapp_{png.name}")


def drive(base: str, good: str, forged: str, shots: Path) -> dict[str, Any]:
    """The browser's part (blocking: run in a thread while the server answers)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=480,1400", "--lang=en"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    out: dict[str, Any] = {}
    try:
        wait = WebDriverWait(driver, 20)

        def names() -> list[str]:
            return [r.find_element(By.CSS_SELECTOR, "td").text
                    for r in driver.find_elements(By.CSS_SELECTOR, "#team tbody tr")]

        driver.get(f"{base}/app/#tgWebAppData={quote(good, safe='')}")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#team tbody tr")))
        wait.until(ec.presence_of_element_located((By.ID, "sec-marketing")))
        out["title"] = driver.find_element(By.ID, "title").text
        out["rows"] = names()
        out["columns"] = [th.get_attribute("data-key")
                          for th in driver.find_elements(By.CSS_SELECTOR, "#team th")]
        out["sections"] = [s.get_attribute("id")
                           for s in driver.find_elements(By.CSS_SELECTOR, "main section")]
        driver.save_screenshot(str(shots / "dashboard.png"))
        driver.find_element(By.CSS_SELECTOR, '#team th[data-key="contacts"]').click()
        out["by_contacts"] = names()
        driver.find_element(By.CSS_SELECTOR, '#team th[data-key="contacts"]').click()
        out["by_contacts_asc"] = names()
        driver.save_screenshot(str(shots / "sorted.png"))
        row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#team tbody tr")
                   if r.text.startswith("Ivan"))
        row.click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#deals-table a")))
        out["deals_title"] = driver.find_element(By.CSS_SELECTOR, "#deals h2").text
        out["links"] = [a.get_attribute("href")
                        for a in driver.find_elements(By.CSS_SELECTOR, "#deals-table a")]
        driver.execute_script("document.getElementById('deals').scrollIntoView()")
        driver.save_screenshot(str(shots / "drilldown.png"))

        # Inside Telegram: initData and the dark theme come from window.Telegram.WebApp.
        theme = {"bg_color": "#17212b", "text_color": "#f5f5f5", "button_color": "#5288c1",
                 "button_text_color": "#ffffff", "secondary_bg_color": "#232e3c",
                 "hint_color": "#708499"}
        fake_tg = ("window.Telegram = {WebApp: {ready() {}, expand() {}, initData: "
                   + json.dumps(good) + ", themeParams: " + json.dumps(theme) + "}};")
        script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                        {"source": fake_tg})
        driver.get(f"{base}/app/")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#team tbody tr")))
        out["dark_rows"] = names()
        out["dark_bg"] = driver.execute_script(
            "return getComputedStyle(document.body).backgroundColor")
        driver.save_screenshot(str(shots / "dark.png"))
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)

        driver.get("about:blank")
        driver.get(f"{base}/app/#tgWebAppData={quote(forged, safe='')}")
        wait.until(ec.visibility_of_element_located((By.ID, "error")))
        out["error"] = driver.find_element(By.ID, "error").text
        out["forged_tables"] = len(driver.find_elements(By.CSS_SELECTOR, "table"))
        driver.save_screenshot(str(shots / "forged.png"))
    finally:
        driver.quit()
    return out


async def test_the_dashboard_in_a_browser(crm: CRM, tmp_path: Path) -> None:
    ids = await build(crm.db)
    helen = await actor(crm.db, ids["helen"])
    today = crm.clock.now().astimezone(helen.tz).date()
    chat = await crm.reports.results(helen, period_of(PeriodKind.MONTH, today))
    app = create_web_app(crm, miniapp=MiniAppConfig("42:TEST", "salesbot_test",
                                                    default_locale="en"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        good = sign(9001, crm.clock.now() - timedelta(minutes=1))
        forged = sign(9001, crm.clock.now(), token="42:FORGED")
        out = await asyncio.to_thread(drive, f"http://127.0.0.1:{port}", good, forged, tmp_path)
    finally:
        await runner.cleanup()
        await asyncio.to_thread(keep_screenshots, tmp_path)

    assert out["title"] == "📊 Dashboard"
    # Helen heads North: its three managers, as the chat's report lists them; no Sam South.
    assert out["rows"] == [x.current.name for x in chat.lines] == [
        "Ivan Petrov", "Olga Smirnova", "Vera Away"]
    assert out["columns"] == ["name", "contacts", "clients", "new_deals", "won", "revenue",
                              "lost", "conversion", "avg_check", "payments", "owed"]
    assert out["sections"] == ["sec-results", "sec-funnel", "sec-dynamics", "sec-forecast",
                               "sec-losses", "sec-receivables", "sec-marketing"]
    by_contacts = sorted(chat.lines, key=lambda x: -x.current.contacts_total)
    assert out["by_contacts"] == [x.current.name for x in by_contacts]
    assert out["by_contacts_asc"] == [x.current.name for x in sorted(
        chat.lines, key=lambda x: x.current.contacts_total)]
    assert out["deals_title"] == "Open deals: Ivan Petrov"
    assert f"https://t.me/salesbot_test?start=deal_{ids['d1']}" in out["links"]
    assert out["dark_rows"] == out["rows"] and out["dark_bg"] == "rgb(23, 33, 43)"
    assert "could not confirm who you are" in out["error"]
    assert out["forged_tables"] == 0
