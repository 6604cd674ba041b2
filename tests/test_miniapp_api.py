"""The dashboard's JSON API (web/miniapp.py) on the digest's hand-built data set
(tests/test_digest.py): initData signed, forged, tampered and aged; who sees whose figures;
each report equal to the chat's crm function on the same data; the XLSX the chat sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.i18n import create_i18n
from bot.keyboards.reports import ReportKind
from bot.xlsx import results_xlsx
from crm.reports.period import Period, PeriodKind, period_of
from crm.service import CRM
from tests.notify_data import actor, add_client, add_planned, add_user
from tests.test_digest import build
from tests.webapp_data import sign
from web.miniapp import INIT_HEADER, KINDS, MiniAppConfig
from web.server import create_web_app

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def seeded(any_crm: CRM) -> dict[str, int]:
    ids = await build(any_crm.db)
    ids["svc"] = await add_user(any_crm.db, 9010, "Service Desk", role="service")
    return ids


@pytest.fixture
async def client(any_crm: CRM, seeded: dict[str, int]) -> AsyncIterator[Client]:
    app = create_web_app(any_crm, miniapp=MiniAppConfig("42:TEST", "salesbot_test",
                                                        max_age=3600, default_locale="en"))
    async with TestClient(TestServer(app)) as c:
        yield c


def auth(crm: CRM, tg_id: int, age: timedelta = timedelta(minutes=5), **kw: str) -> dict[str, str]:
    return {INIT_HEADER: sign(tg_id, crm.clock.now() - age, **kw)}


async def test_the_page_and_its_files_are_served(client: Client) -> None:
    page = await client.get("/app/")
    assert page.status == 200 and "app.js" in await page.text()
    for name in ("app.js", "app.css"):
        assert (await client.get(f"/app/static/{name}")).status == 200


async def test_no_data_without_a_valid_signature(client: Client, any_crm: CRM) -> None:
    good = auth(any_crm, 9001)[INIT_HEADER]
    fields = dict(parse_qsl(good))
    tampered = urlencode({**fields, "user": fields["user"].replace("9001", "9007")})
    forged = sign(9001, any_crm.clock.now(), token="42:OTHER")
    for headers in ({}, {INIT_HEADER: ""}, {INIT_HEADER: "garbage"},
                    {INIT_HEADER: tampered}, {INIT_HEADER: forged},
                    auth(any_crm, 9001, timedelta(hours=2)),  # older than max_age
                    auth(any_crm, 9001, -timedelta(hours=1))):  # from the future
        for path in ("/app/api/me", "/app/api/report/results?period=m",
                     "/app/api/report/results.xlsx", "/app/api/manager/2/deals"):
            resp = await client.get(path, headers=headers)
            assert resp.status == 401, (path, headers)
            assert await resp.json() == {"error": "unauthorized"}
    # The same initData replayed within its age is the same user, as Telegram intends.
    for _ in range(2):
        assert (await client.get("/app/api/me", headers={INIT_HEADER: good})).status == 200


async def test_roles_without_reports_and_strangers_get_403(client: Client,
                                                           any_crm: CRM) -> None:
    for tg_id in (9010, 5555):  # a service account; someone not registered
        resp = await client.get("/app/api/report/results", headers=auth(any_crm, tg_id))
        assert resp.status == 403
    # A marketer has no team table; a manager no marketing.
    resp = await client.get("/app/api/report/results", headers=auth(any_crm, 9008))
    assert resp.status == 403
    resp = await client.get("/app/api/report/marketing", headers=auth(any_crm, 9002))
    assert resp.status == 403
    resp = await client.get("/app/api/report/nonsense", headers=auth(any_crm, 9001))
    assert resp.status == 403


async def test_me_lists_the_reports_of_the_role_translated(client: Client,
                                                           any_crm: CRM) -> None:
    me = await (await client.get("/app/api/me", headers=auth(any_crm, 9001))).json()
    assert me["role"] == "head" and me["bot"] == "salesbot_test"
    assert [r["kind"] for r in me["reports"]] == list(KINDS)
    assert me["labels"]["manager"] == "Manager"
    assert [p["kind"] for p in me["periods"]][:3] == ["d", "w", "m"]
    # Russian from the bot's catalog for a Russian user.
    async with any_crm.db.transaction() as s:
        from storage.models import User
        user = await s.get(User, (await any_crm.people.identify(9001)).id)  # type: ignore[union-attr]
        assert user is not None
        user.locale = "ru"
    me = await (await client.get("/app/api/me", headers=auth(any_crm, 9001))).json()
    assert me["labels"]["manager"] == "Менеджер"


async def test_results_equal_the_chat_report_and_a_head_sees_their_team(
        client: Client, any_crm: CRM, seeded: dict[str, int]) -> None:
    helen = await actor(any_crm.db, seeded["helen"])
    today = any_crm.clock.now().astimezone(helen.tz).date()
    chat = await any_crm.reports.results(helen, period_of(PeriodKind.MONTH, today))
    body = await (await client.get("/app/api/report/results?period=m",
                                   headers=auth(any_crm, 9001))).json()
    lines = body["data"]["lines"]
    assert [x["current"]["name"] for x in lines] == [x.current.name for x in chat.lines] == [
        "Ivan Petrov", "Olga Smirnova", "Vera Away"]  # North only: no Sam South
    for got, want in zip(lines, chat.lines, strict=True):
        assert got["current"]["contacts_total"] == want.current.contacts_total
        assert got["clients_in_work"] == want.clients_in_work
        assert Decimal(got["current"]["revenue"]) == want.current.revenue
        assert got["current"]["won_count"] == want.current.won_count
    assert body["data"]["audience"]["team_name"] == "North"
    # A custom period; another team asked for by a head is not honoured (admins only).
    body = await (await client.get(
        "/app/api/report/results?period=c&start=2026-11-18&end=2026-11-24&team=999",
        headers=auth(any_crm, 9001))).json()
    chat = await any_crm.reports.results(
        helen, Period(PeriodKind.CUSTOM, *(__import__("datetime").date(2026, 11, d)
                                           for d in (18, 24))))
    assert body["data"]["total"]["current"]["contacts_total"] == \
        chat.total.current.contacts_total  # type: ignore[union-attr]
    bad = await client.get("/app/api/report/results?period=c&start=2026-11-24"
                           "&end=2026-11-18", headers=auth(any_crm, 9001))
    assert bad.status == 400


@pytest.mark.parametrize("name", ["funnel", "dynamics", "forecast", "losses", "receivables",
                                  "marketing"])
async def test_every_report_is_the_chat_function(client: Client, any_crm: CRM,
                                                 seeded: dict[str, int], name: str) -> None:
    from bot.handlers.reports import opening_period, report_of
    from web.miniapp import to_json

    helen = await actor(any_crm.db, seeded["helen"])
    today = any_crm.clock.now().astimezone(helen.tz).date()
    kind = KINDS[name]
    period = opening_period(kind, period_of(PeriodKind.MONTH, today))
    chat = await report_of(kind).load(any_crm, helen, period, None)
    resp = await client.get(f"/app/api/report/{name}?period=m", headers=auth(any_crm, 9001))
    assert resp.status == 200
    body = await resp.json()
    assert body["data"] == to_json(chat, "en")
    xlsx = await client.get(f"/app/api/report/{name}.xlsx?period=m",
                            headers=auth(any_crm, 9001))
    assert xlsx.status == 200 and (await xlsx.read())[:2] == b"PK"


async def test_xlsx_is_the_chats_spreadsheet(client: Client, any_crm: CRM,
                                             seeded: dict[str, int]) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    helen = await actor(any_crm.db, seeded["helen"])
    today = any_crm.clock.now().astimezone(helen.tz).date()
    figures = await any_crm.reports.results(helen, period_of(PeriodKind.MONTH, today))
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        chat = results_xlsx(figures)
    resp = await client.get("/app/api/report/results.xlsx?period=m",
                            headers=auth(any_crm, 9001))
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    got, want = (load_workbook(BytesIO(b)).active for b in (await resp.read(), chat))
    assert got is not None and want is not None
    assert [list(r) for r in got.values] == [list(r) for r in want.values]
    assert ReportKind.RESULTS.value in resp.headers["Content-Disposition"]


async def test_a_managers_deals_with_links_to_the_chat(client: Client, any_crm: CRM,
                                                       seeded: dict[str, int]) -> None:
    resp = await client.get(f"/app/api/manager/{seeded['ivan']}/deals",
                            headers=auth(any_crm, 9001))
    assert resp.status == 200
    body = await resp.json()
    assert body["name"] == "Ivan Petrov" and body["deals"]
    assert seeded["d1"] in [d["deal_id"] for d in body["deals"]]
    for d in body["deals"]:
        assert d["link"] == f"https://t.me/salesbot_test?start=deal_{d['deal_id']}"
    # Sam is in another team: not Helen's to see; Sid (South) cannot see Ivan's.
    assert (await client.get(f"/app/api/manager/{seeded['sam']}/deals",
                             headers=auth(any_crm, 9001))).status == 404
    assert (await client.get(f"/app/api/manager/{seeded['ivan']}/deals",
                             headers=auth(any_crm, 9006))).status == 404
    assert (await client.get("/app/api/manager/99999999999/deals",
                             headers=auth(any_crm, 9001))).status == 400


def test_public_url_must_be_https() -> None:
    from bot.config import SettingsError, load_settings

    s = load_settings(public_url="https://bot.example.com/")
    assert s.dashboard_url() == "https://bot.example.com/app/"
    assert load_settings(public_url="").dashboard_url() is None
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        load_settings(public_url="http://bot.example.com")


async def test_an_admin_sees_everyone_or_one_team(client: Client, any_crm: CRM,
                                                  seeded: dict[str, int]) -> None:
    me = await (await client.get("/app/api/me", headers=auth(any_crm, 9007))).json()
    teams = {t["name"]: t["id"] for t in me["teams"]}
    assert set(teams) == {"North", "South"} and me["labels"]["all_teams"] == "All teams"
    everyone = await (await client.get("/app/api/report/results?period=m",
                                       headers=auth(any_crm, 9007))).json()
    assert "Sam South" in [x["current"]["name"] for x in everyone["data"]["lines"]]
    south = await (await client.get(f"/app/api/report/results?period=m&team={teams['South']}",
                                    headers=auth(any_crm, 9007))).json()
    assert [x["current"]["name"] for x in south["data"]["lines"]] == ["Sam South"]
    # A head's own team only, whatever team is asked for; a head has no team picker.
    head = await (await client.get("/app/api/me", headers=auth(any_crm, 9001))).json()
    assert head["teams"] == []
    asked = await (await client.get(f"/app/api/report/results?period=m&team={teams['South']}",
                                    headers=auth(any_crm, 9001))).json()
    assert "Sam South" not in [x["current"]["name"] for x in asked["data"]["lines"]]
    bad = await client.get("/app/api/report/results?period=m&team=abc",
                           headers=auth(any_crm, 9007))
    assert bad.status == 400


async def set_locale(crm: CRM, tg_id: int, locale: str) -> None:
    from storage.models import User

    found = await crm.people.identify(tg_id)
    assert found is not None
    async with crm.db.transaction() as s:
        user = await s.get(User, found.id)
        assert user is not None
        user.locale = locale


@pytest.mark.parametrize(("query", "reason", "message"), [
    ("period=c&start=2026-11-24&end=2026-11-18", "order", "ends before it starts"),
    ("period=c&start=2026-02-30&end=2026-03-02", "date", "no such date"),
    ("period=c&start=0001-01-01&end=0001-01-02", "date", "no such date"),
    ("period=c&start=2026-11-01&end=9999-12-31", "date", "no such date"),
    ("period=c&start=2024-01-01&end=2026-01-01", "long", "at most two years"),
    ("period=c&start=2026-11-01", "format", "Pick both dates"),
    ("period=c", "format", "Pick both dates"),
    ("period=c&start=01.11.2026&end=30.11.2026", "format", "Pick both dates"),
    ("period=c&start=20261101&end=20261130", "format", "Pick both dates"),
    ("period=c&start=2026-11-01%27%20OR%201%3D1&end=2026-11-30", "format", "Pick both dates"),
    ("period=c&start=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11-01&end=2026-11-30", "format",
     "Pick both dates"),
    ("period=zz", "period", "no such period"),
])
async def test_picked_dates_refused_with_a_message_and_no_data(
        client: Client, any_crm: CRM, query: str, reason: str, message: str) -> None:
    for name in ("results", "marketing", "receivables", "results.xlsx"):
        resp = await client.get(f"/app/api/report/{name}?{query}", headers=auth(any_crm, 9001))
        assert resp.status == 400, (name, query)
        body = await resp.json()
        assert set(body) == {"error", "reason", "message"}  # no figures
        assert (body["error"], body["reason"]) == ("period", reason)
        assert message in body["message"]


async def test_refused_dates_are_explained_in_russian(client: Client, any_crm: CRM) -> None:
    await set_locale(any_crm, 9001, "ru")
    resp = await client.get("/app/api/report/results?period=c&start=2026-11-24&end=2026-11-18",
                            headers=auth(any_crm, 9001))
    assert resp.status == 400
    assert (await resp.json())["message"] == ("Период заканчивается раньше, чем начинается: "
                                              "сначала выберите более раннюю дату.")
    me = await (await client.get("/app/api/me", headers=auth(any_crm, 9001))).json()
    assert me["custom"]["title"] == "Даты" and me["labels"]["apply"] == "Показать"
    assert me["labels"]["overdue_contacts"] == "Просроченные контакты"


async def test_the_date_picker_in_the_users_time_zone(client: Client, any_crm: CRM) -> None:
    """NOW is 09:00 UTC on 25 Nov 2026: still the 24th in Samoa, the 25th in Moscow."""
    await add_user(any_crm.db, 9300, "Sam Samoa", role="admin", tz="Pacific/Pago_Pago")
    far = await (await client.get("/app/api/me", headers=auth(any_crm, 9300))).json()
    helen = await (await client.get("/app/api/me", headers=auth(any_crm, 9001))).json()
    assert far["custom"]["today"] == "2026-11-24" and helen["custom"]["today"] == "2026-11-25"
    assert helen["custom"] | {"today": ""} == {"kind": "c", "title": "Dates", "today": "",
                                               "min": "2000-01-01", "max": "2100-12-31"}
    assert [p["kind"] for p in helen["periods"]] == ["d", "w", "m", "lm", "q", "y"]
    # «This month» for each is their own month so far.
    body = await (await client.get("/app/api/report/results?period=w",
                                   headers=auth(any_crm, 9300))).json()
    assert (body["period"]["start"], body["period"]["end"]) == ("2026-11-23", "2026-11-24")


@pytest.mark.parametrize("name", ["results", "marketing", "funnel", "losses"])
async def test_picked_dates_are_the_chat_figures(client: Client, any_crm: CRM,
                                                 seeded: dict[str, int], name: str) -> None:
    from bot.handlers.reports import report_of
    from web.miniapp import to_json

    helen = await actor(any_crm.db, seeded["helen"])
    week = Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24))
    chat = await report_of(KINDS[name]).load(any_crm, helen, week, None)
    resp = await client.get(f"/app/api/report/{name}?period=c&start=2026-11-18&end=2026-11-24",
                            headers=auth(any_crm, 9001))
    body = await resp.json()
    assert body["data"] == to_json(chat, "en")
    assert body["period"] == {"kind": "c", "start": "2026-11-18", "end": "2026-11-24"}
    xlsx = await client.get(f"/app/api/report/{name}.xlsx?period=c&start=2026-11-18"
                            "&end=2026-11-24", headers=auth(any_crm, 9001))
    assert xlsx.status == 200
    assert "20261118-20261124.xlsx" in xlsx.headers["Content-Disposition"]


async def test_overdue_contacts_in_the_team_table_are_the_chats(
        client: Client, any_crm: CRM, seeded: dict[str, int]) -> None:
    helen = await actor(any_crm.db, seeded["helen"])
    today = any_crm.clock.now().astimezone(helen.tz).date()
    chat = await any_crm.reports.results(helen, period_of(PeriodKind.MONTH, today))
    body = await (await client.get("/app/api/report/results?period=m",
                                   headers=auth(any_crm, 9001))).json()
    got = [(x["current"]["name"], x["overdue_contacts"]) for x in body["data"]["lines"]]
    assert got == [(x.current.name, x.overdue_contacts) for x in chat.lines] == [
        ("Ivan Petrov", 1), ("Olga Smirnova", 0), ("Vera Away", 0)]
    assert body["data"]["total"]["overdue_contacts"] == 1
    # Sam South's overdue contact is not Helen's to see, whatever team she asks for.
    await add_planned(any_crm.db, await add_client(any_crm.db, seeded["sam"], "South 2"),
                      seeded["sam"], any_crm.clock.now() - timedelta(days=1))
    me = await (await client.get("/app/api/me", headers=auth(any_crm, 9007))).json()
    south = next(t["id"] for t in me["teams"] if t["name"] == "South")
    asked = await (await client.get("/app/api/report/results?period=c&start=2026-11-01"
                                    f"&end=2026-11-25&team={south}",
                                    headers=auth(any_crm, 9001))).json()
    assert asked["data"]["total"]["overdue_contacts"] == 1
    assert "Sam South" not in [x["current"]["name"] for x in asked["data"]["lines"]]
    admin = await (await client.get("/app/api/report/results?period=m",
                                    headers=auth(any_crm, 9007))).json()
    assert {x["current"]["name"]: x["overdue_contacts"]
            for x in admin["data"]["lines"]}["Sam South"] == 1


async def test_a_heads_marketing_is_their_team_whatever_is_asked(
        client: Client, any_crm: CRM, seeded: dict[str, int]) -> None:
    from web.miniapp import to_json

    helen = await actor(any_crm.db, seeded["helen"])
    week = Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24))
    own = to_json(await any_crm.reports.marketing(helen, week), "en")
    me = await (await client.get("/app/api/me", headers=auth(any_crm, 9007))).json()
    for team in ["", *(str(t["id"]) for t in me["teams"])]:
        body = await (await client.get(
            f"/app/api/report/marketing?period=c&start=2026-11-18&end=2026-11-24&team={team}",
            headers=auth(any_crm, 9001))).json()
        assert body["data"] == own
    # Every grouping of the chat's is in the figures and offered in the app.
    assert [d["key"] for d in me["dims"]] == ["source", "segment", "region", "industry",
                                              "campaign"]
    assert set(own["by"]) == {d["key"] for d in me["dims"]}


@pytest.mark.parametrize("path", [
    "/app/api/report/results?period=m&team=%D9%A1",  # an Arabic-Indic one
    "/app/api/report/results?period=m&team=99999999999",
    "/app/api/report/results?period=m&team=-1",
    "/app/api/manager/%D9%A1/deals",
    "/app/api/manager/1e3/deals",
])
async def test_forged_ids_are_refused(client: Client, any_crm: CRM, path: str) -> None:
    resp = await client.get(path, headers=auth(any_crm, 9007))
    assert resp.status == 400
    assert (await resp.json())["error"] in ("team", "user")
