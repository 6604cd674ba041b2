"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Selenium,
against the bot's web server on a free port with the digest's hand-built data set
(tests/test_digest.py, NOW Wed 25 Nov 2026 12:00 Moscow) plus a few overdue contacts and the
source / region of three clients.

A head's team table (the overdue contacts column too), sorting, picked dates changing the
figures and refused when reversed, the marketing grouping switch, every table's XLSX, a
manager's deals with the links to the chat, the dark theme from Telegram's themeParams and
its change; on a phone (390×844, Russian) the page does not scroll sideways, the team table
does, under a sticky first column; a forged initData shows an error and no data.
Screenshots go to tmp_path and to test-artifacts/ (ignored by git)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from sqlalchemy import update

from crm.reports.marketing import Dimension
from crm.reports.period import Period, PeriodKind, period_of
from crm.service import CRM
from storage.models import Client, User
from tests.notify_data import actor, add_client, add_planned, item_id
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
WEEK = Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24))
SECTIONS = ["sec-results", "sec-funnel", "sec-dynamics", "sec-forecast", "sec-losses",
            "sec-receivables", "sec-marketing"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keep_screenshots(shots: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for png in shots.glob("*.png"):
        shutil.copy(png, ARTIFACTS / f"miniapp_{png.name}")


async def seed(crm: CRM) -> dict[str, int]:
    """The digest's data; Olga gets two overdue contacts (Ivan has one), three clients a
    source and a region, so the marketing groupings differ."""
    ids = await build(crm.db)
    olga = ids["olga"]
    for name, days in (("Olga overdue 1", 3), ("Olga overdue 2", 1)):
        cid = await add_client(crm.db, olga, name)
        await add_planned(crm.db, cid, olga, crm.clock.now() - timedelta(days=days))
    tags = {"Alpha": ("website", "moscow"), "Gamma": ("referral", "spb"),
            "Beta": ("website", "urals")}
    for name, (source, region) in tags.items():
        values = {"source_id": await item_id(crm.db, "source", source),
                  "region_id": await item_id(crm.db, "region", region),
                  "created_at": datetime(2026, 11, 20, 9, tzinfo=UTC)}
        async with crm.db.transaction() as s:
            await s.execute(update(Client).where(Client.name == name).values(**values))
    return ids


@pytest.fixture
async def server(crm: CRM) -> AsyncIterator[str]:
    app = create_web_app(crm, miniapp=MiniAppConfig("42:TEST", "salesbot_test",
                                                    default_locale="en"))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def chrome(width: int, height: int, lang: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", f"--lang={lang}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=opts)


class Page:
    """The dashboard's page as a user sees it (blocking Selenium calls)."""

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.wait = WebDriverWait(driver, 20)

    def until(self, check: Callable[[], Any]) -> Any:
        return self.wait.until(lambda _d: check())

    def css(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.d.find_elements(By.CSS_SELECTOR, selector))

    def one(self, selector: str) -> Any:
        found = self.until(lambda: self.css(selector))
        return found[0]

    def open(self, url: str) -> None:
        self.d.get(url)
        self.until(lambda: self.css("#team tbody tr") and self.css("#sec-marketing"))

    def column(self, table: str, key: str) -> list[str]:
        keys = [th.get_attribute("data-key") for th in self.css(f"#{table} thead th")]
        i = keys.index(key)
        return [row.find_elements("css selector", "td")[i].text
                for row in self.css(f"#{table} tbody tr")]

    def names(self, table: str = "team") -> list[str]:
        return [r.find_element("css selector", "td").get_attribute("title")
                for r in self.css(f"#{table} tbody tr")]

    def total(self, key: str, attr: str | None = None) -> str:
        """The total row's cell: its text, or an attribute of it; spaces as typed."""
        keys = [th.get_attribute("data-key") for th in self.css("#team thead th")]
        td = self.css("#team tfoot td")[keys.index(key)]
        return str(td.get_attribute(attr) if attr else td.text).replace("\xa0", " ")

    def heading(self, section: str) -> str:
        return str(self.one(f"#{section} h2 span").text)

    def pick_dates(self, start: str, end: str) -> None:
        self.one('#periods button[data-period="c"]').click()
        self.one("#dates")
        self.d.execute_script(
            "document.getElementById('from').value = arguments[0];"
            "document.getElementById('to').value = arguments[1];", start, end)
        self.one("#apply").click()

    def shot(self, path: Path) -> None:
        self.d.save_screenshot(str(path))


def drive(base: str, good: str, forged: str, shots: Path) -> dict[str, Any]:
    """The head's tour on a wide screen (blocking: run in a thread while the server
    answers)."""
    driver = chrome(480, 1400, "en")
    out: dict[str, Any] = {}
    try:
        p = Page(driver)
        p.open(f"{base}/app/#tgWebAppData={quote(good, safe='')}")
        out["title"] = p.one("#title").text
        out["rows"] = p.names()
        out["columns"] = [th.get_attribute("data-key") for th in p.css("#team th")]
        out["overdue_title"] = p.one('#team th[data-key="overdue"]').text
        out["overdue"] = p.column("team", "overdue")
        out["sections"] = [s.get_attribute("id") for s in p.css("main section")]
        out["periods"] = [b.text for b in p.css("#periods button")]
        out["month_heading"] = p.heading("sec-results")
        out["month_contacts"] = p.total("contacts")
        out["month_revenue"] = (p.total("revenue"), p.total("revenue", "title"))
        p.shot(shots / "dashboard.png")
        p.one('#team th[data-key="contacts"]').click()
        out["by_contacts"] = p.names()
        p.one('#team th[data-key="contacts"]').click()
        out["by_contacts_asc"] = p.names()
        p.one('#team th[data-key="overdue"]').click()
        out["by_overdue"] = p.names()
        out["overdue_sorted"] = p.column("team", "overdue")
        p.one('#team th[data-key="overdue"]').click()
        out["by_overdue_asc"] = p.names()
        p.shot(shots / "sorted.png")

        # The charts and tables, each with its XLSX: the spreadsheets the server sends.
        out["charts"] = {s: len(p.css(f"#{s} svg rect")) for s in SECTIONS}
        driver.execute_script(
            "window.__dl = [];"
            "HTMLAnchorElement.prototype.click = function () {"
            "  window.__dl.push([this.download, this.href]); };")
        for button in p.css("section h2 .xlsx"):
            button.click()
        p.until(lambda: driver.execute_script("return window.__dl.length") == len(SECTIONS))
        out["downloads"] = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            Promise.all(window.__dl.map(async ([name, href]) => {
              const b = new Uint8Array(await (await fetch(href)).arrayBuffer());
              return [name, String.fromCharCode(b[0], b[1]), b.length];
            })).then(done);""")

        # Dates picked: the week of 18–24 Nov; then reversed: a message and no data.
        p.pick_dates("2026-11-18", "2026-11-24")
        p.until(lambda: "18 Nov 2026" in p.heading("sec-results"))
        out["week_heading"] = p.heading("sec-results")
        out["week_marketing"] = p.heading("sec-marketing")
        out["week_contacts"] = p.total("contacts")
        out["week_on"] = [b.get_attribute("data-period") for b in p.css("#periods > button.on")]
        out["dates_kept"] = [p.one("#from").get_attribute("value"),
                             p.one("#to").get_attribute("value")]
        p.shot(shots / "dates.png")
        p.pick_dates("2026-11-24", "2026-11-18")
        error = p.until(lambda: [e for e in p.css("#period-error") if e.is_displayed()])[0]
        out["dates_error"] = error.text
        out["dates_error_tables"] = len(p.css("main table"))
        p.shot(shots / "dates_refused.png")
        p.one('#periods button[data-period="m"]').click()
        p.until(lambda: p.css("#team tbody tr"))
        out["month_again"] = p.total("contacts")
        out["error_after"] = p.one("#period-error").is_displayed()

        # The marketing table: one grouping at a time, every one of the chat's.
        driver.execute_script("document.getElementById('sec-marketing').scrollIntoView()")
        out["dims"] = [b.get_attribute("data-dim") for b in p.css("#dims button")]
        out["mkt_title"] = p.one('#marketing th[data-key="name"]').text
        out["mkt_sources"] = p.names("marketing")
        p.one('#dims button[data-dim="region"]').click()
        p.until(lambda: p.one('#marketing th[data-key="name"]').text == "Regions")
        out["mkt_regions"] = p.names("marketing")
        out["mkt_on"] = [b.get_attribute("data-dim") for b in p.css("#dims button.on")]
        driver.execute_script("document.getElementById('sec-marketing').scrollIntoView()")
        p.shot(shots / "marketing_regions.png")

        # A manager's row opens their open deals, each linking to its card in the chat.
        next(r for r in p.css("#team tbody tr") if r.text.startswith("Ivan")).click()
        p.one("#deals-table a")
        out["deals_title"] = p.one("#deals h2").text
        out["links"] = [a.get_attribute("href") for a in p.css("#deals-table a")]
        driver.execute_script("document.getElementById('deals').scrollIntoView()")
        p.shot(shots / "drilldown.png")

        # Inside Telegram: initData and the dark theme from window.Telegram.WebApp, and the
        # light one when Telegram says the theme changed.
        theme = {"bg_color": "#17212b", "text_color": "#f5f5f5", "button_color": "#5288c1",
                 "button_text_color": "#ffffff", "secondary_bg_color": "#232e3c",
                 "hint_color": "#708499"}
        fake_tg = ("window.Telegram = {WebApp: {ready() {}, expand() {}, colorScheme: 'dark',"
                   " handlers: {}, onEvent(e, f) { this.handlers[e] = f; }, initData: "
                   + json.dumps(good) + ", themeParams: " + json.dumps(theme) + "}};")
        script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                        {"source": fake_tg})
        p.open(f"{base}/app/")
        out["dark_rows"] = p.names()
        bg = "return getComputedStyle(document.body).backgroundColor"
        out["dark_bg"] = driver.execute_script(bg)
        p.shot(shots / "dark.png")
        driver.execute_script(
            "const tg = window.Telegram.WebApp; tg.colorScheme = 'light';"
            "tg.themeParams = {bg_color: '#ffffff', text_color: '#000000'};"
            "tg.handlers.themeChanged();")
        out["light_bg"] = driver.execute_script(bg)
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)

        driver.get("about:blank")
        driver.get(f"{base}/app/#tgWebAppData={quote(forged, safe='')}")
        out["error"] = p.until(lambda: [e for e in p.css("#error") if e.is_displayed()])[0].text
        out["forged_tables"] = len(p.css("table"))
        p.shot(shots / "forged.png")
    finally:
        driver.quit()
    return out


async def test_the_dashboard_in_a_browser(crm: CRM, server: str, tmp_path: Path) -> None:
    ids = await seed(crm)
    helen = await actor(crm.db, ids["helen"])
    today = crm.clock.now().astimezone(helen.tz).date()
    chat = await crm.reports.results(helen, period_of(PeriodKind.MONTH, today))
    week = await crm.reports.results(helen, WEEK)
    marketing = await crm.reports.marketing(helen, period_of(PeriodKind.MONTH, today))
    try:
        good = sign(9001, crm.clock.now() - timedelta(minutes=1))
        forged = sign(9001, crm.clock.now(), token="42:FORGED")
        out = await asyncio.to_thread(drive, server, good, forged, tmp_path)
    finally:
        await asyncio.to_thread(keep_screenshots, tmp_path)

    assert out["title"] == "📊 Dashboard"
    # Helen heads North: its three managers, as the chat's report lists them; no Sam South.
    assert out["rows"] == [x.current.name for x in chat.lines] == [
        "Ivan Petrov", "Olga Smirnova", "Vera Away"]
    assert out["columns"] == ["name", "contacts", "clients", "overdue", "new_deals", "won",
                              "revenue", "lost", "conversion", "avg_check", "payments", "owed"]
    assert out["sections"] == SECTIONS
    assert out["periods"] == ["Today", "This week", "This month", "Last month",
                              "This quarter", "This year", "🗓 Dates"]
    # Overdue contacts: the chat report's figure, sortable.
    assert out["overdue_title"] == "Overdue contacts"
    assert out["overdue"] == [str(x.overdue_contacts) for x in chat.lines] == ["1", "2", "0"]
    assert out["by_overdue"] == ["Olga Smirnova", "Ivan Petrov", "Vera Away"]
    assert out["overdue_sorted"] == ["2", "1", "0"]
    assert out["by_overdue_asc"] == ["Vera Away", "Ivan Petrov", "Olga Smirnova"]
    by_contacts = sorted(chat.lines, key=lambda x: -x.current.contacts_total)
    assert out["by_contacts"] == [x.current.name for x in by_contacts]
    assert out["by_contacts_asc"] == [x.current.name for x in sorted(
        chat.lines, key=lambda x: x.current.contacts_total)]
    # Money compact, the exact figure in the cell's title.
    assert out["month_revenue"] == ("200K", "200,000")
    # Charts: funnel, dynamics, forecast, loss reasons and receivables aging have bars.
    assert all(out["charts"][s] for s in SECTIONS[1:6]), out["charts"]
    # Each table's XLSX, the server's spreadsheet under its name with the period.
    assert sorted(name for name, _, _ in out["downloads"]) == sorted([
        "res_20261101-20261125.xlsx", "fun_20261101-20261125.xlsx",
        "dyn_20251201-20261125.xlsx", "fc_20261125-20261125.xlsx",
        "loss_20261101-20261125.xlsx", "recv_20261125-20261125.xlsx",
        "mkt_20261101-20261125.xlsx"])
    assert all(magic == "PK" and size > 1000 for _, magic, size in out["downloads"])
    # Picked dates change the figures to the chat's for those dates.
    assert out["month_heading"] == "🏆 Results per manager · 1 Nov 2026 – 25 Nov 2026"
    assert out["month_contacts"] == str(chat.total.current.contacts_total) == "8"  # type: ignore[union-attr]
    assert out["week_heading"] == "🏆 Results per manager · 18 Nov 2026 – 24 Nov 2026"
    assert out["week_marketing"] == "📣 Marketing · 18 Nov 2026 – 24 Nov 2026"
    assert out["week_contacts"] == str(week.total.current.contacts_total) == "6"  # type: ignore[union-attr]
    assert out["week_on"] == ["c"] and out["dates_kept"] == ["2026-11-18", "2026-11-24"]
    assert out["dates_error"] == ("The period ends before it starts: pick the earlier date "
                                  "first.")
    assert out["dates_error_tables"] == 0
    assert out["month_again"] == "8" and out["error_after"] is False
    # Marketing: every grouping of the chat's; the switch shows another grouping's rows.
    assert out["dims"] == [d.value for d in Dimension]
    assert out["mkt_title"] == "Sources"

    def names(d: Dimension) -> list[str]:
        return [x.item.text("en") if x.item else "—" for x in marketing.by[d]]

    assert out["mkt_sources"] == names(Dimension.SOURCE)
    assert out["mkt_regions"] == names(Dimension.REGION)
    assert {"Moscow", "Saint Petersburg", "Urals"} <= set(out["mkt_regions"])
    assert out["mkt_on"] == ["region"]
    assert out["deals_title"] == "Open deals: Ivan Petrov"
    assert f"https://t.me/salesbot_test?start=deal_{ids['d1']}" in out["links"]
    assert out["dark_rows"] == out["rows"] and out["dark_bg"] == "rgb(23, 33, 43)"
    assert out["light_bg"] == "rgb(255, 255, 255)"
    assert "could not confirm who you are" in out["error"]
    assert out["forged_tables"] == 0


def phone(base: str, good: str, shots: Path) -> dict[str, Any]:
    """The dashboard on a phone, 390×844, in Russian."""
    driver = chrome(390, 844, "ru")
    out: dict[str, Any] = {}
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        p = Page(driver)
        p.open(f"{base}/app/#tgWebAppData={quote(good, safe='')}")
        out["title"] = p.one("#title").text
        out["headers"] = [th.text for th in p.css("#team thead th")]
        out["periods"] = [b.text for b in p.css("#periods button")]
        out["revenue"] = p.total("revenue")
        geometry = """
            const box = document.querySelector('#team').parentElement;
            const first = document.querySelector('#team tbody td');
            return {inner: window.innerWidth,
                    page: document.documentElement.scrollWidth,
                    box: box.clientWidth, table: box.scrollWidth,
                    boxLeft: box.getBoundingClientRect().left,
                    firstLeft: first.getBoundingClientRect().left,
                    scrolled: box.scrollLeft};"""
        out["before"] = driver.execute_script(geometry)
        p.shot(shots / "phone.png")
        driver.execute_script("document.querySelector('#team').parentElement.scrollLeft = 250")
        out["after"] = driver.execute_script(geometry)
        p.shot(shots / "phone_table_scrolled.png")
        p.pick_dates("2026-11-24", "2026-11-18")
        error = p.until(lambda: [e for e in p.css("#period-error") if e.is_displayed()])[0]
        out["dates_error"] = error.text
        out["page_with_dates"] = driver.execute_script(
            "return document.documentElement.scrollWidth")
        p.shot(shots / "phone_dates_refused.png")
    finally:
        driver.quit()
    return out


async def test_the_dashboard_on_a_phone_in_russian(crm: CRM, server: str,
                                                   tmp_path: Path) -> None:
    ids = await seed(crm)
    async with crm.db.transaction() as s:
        await s.execute(update(User).where(User.id == ids["helen"]).values(locale="ru"))
    try:
        good = sign(9001, crm.clock.now() - timedelta(minutes=1), language_code="ru")
        out = await asyncio.to_thread(phone, server, good, tmp_path)
    finally:
        await asyncio.to_thread(keep_screenshots, tmp_path)

    assert out["title"] == "📊 Дашборд"
    assert out["headers"][:4] == ["Менеджер", "Контакты", "Клиентов в работе",
                                  "Просроченные контакты"]
    assert out["periods"] == ["Сегодня", "Эта неделя", "Этот месяц", "Прошлый месяц",
                              "Этот квартал", "Этот год", "🗓 Даты"]
    assert out["revenue"] == "200 тыс."
    before, after = out["before"], out["after"]
    # The page itself never scrolls sideways; the team table does, in its own box …
    assert before["page"] <= before["inner"] == 390
    assert before["table"] > before["box"] and after["scrolled"] > 0
    # … and the managers' names stay in view while it does.
    assert abs(after["firstLeft"] - after["boxLeft"]) <= 1
    assert out["dates_error"] == ("Период заканчивается раньше, чем начинается: сначала "
                                  "выберите более раннюю дату.")
    assert out["page_with_dates"] <= 390
