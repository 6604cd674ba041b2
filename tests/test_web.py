"""The web server in one process: the webhook takes updates only with the secret (401
otherwise), /healthz says what is reachable, /metrics counts what the bot did."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.factory import create_dispatcher
from crm.service import CRM
from storage.db import Database
from tests.harness import make_bot
from tests.notify_data import add_client, add_planned, add_user
from web.server import create_web_app

SECRET = "s3cret-token_1"
UPDATE = {"update_id": 1, "message": {
    "message_id": 1, "date": 1_700_000_000, "text": "/help",
    "chat": {"id": 5005, "type": "private", "first_name": "Stranger"},
    "from": {"id": 5005, "is_bot": False, "first_name": "Stranger"},
    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
}}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def client(crm: CRM) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    bot, _session = make_bot()
    dp = create_dispatcher(crm, default_locale="en")
    app = create_web_app(crm, dp=dp, bot=bot, webhook_path="/tg/webhook", secret=SECRET)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_wrong_or_missing_secret_gets_401(client: TestClient) -> None:  # type: ignore[type-arg]
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                    {"X-Telegram-Bot-Api-Secret-Token": ""}):
        resp = await client.post("/tg/webhook", json=UPDATE, headers=headers)
        assert resp.status == 401, headers


def handled_ok(body: str) -> float:
    """Updates handled without an error, over every handler (the registry is per process:
    other tests count there too)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
               if line.startswith("salesbot_updates_handled_total{")
               and 'outcome="ok"' in line)


async def test_an_update_with_the_secret_is_handled_and_counted(
    client: TestClient, crm: CRM  # type: ignore[type-arg]
) -> None:
    before = handled_ok(await (await client.get("/metrics")).text())
    resp = await client.post("/tg/webhook", json=UPDATE,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert resp.status == 200
    for _ in range(100):  # handled in the background, after the 200
        if handled_ok(await (await client.get("/metrics")).text()) > before:
            break
        await asyncio.sleep(0.05)
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    body = await resp.text()
    assert handled_ok(body) == before + 1
    assert "salesbot_update_handling_seconds_bucket{" in body
    for name in ("salesbot_messages_sent_total", "salesbot_telegram_429_total",
                 "salesbot_send_failures_total", "salesbot_outbox_depth"):
        assert f"# TYPE {name.removesuffix('_total')}" in body, name


async def test_healthz_reports_the_database_and_redis(crm: CRM) -> None:
    async with TestClient(TestServer(create_web_app(crm))) as c:
        resp = await c.get("/healthz")
        assert resp.status == 200
        assert await resp.json() == {"database": "ok", "redis": "off"}
    broken = create_web_app(crm, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    async with TestClient(TestServer(broken)) as c:
        resp = await c.get("/healthz")
        assert resp.status == 503
        assert await resp.json() == {"database": "ok", "redis": "error"}
    bad = CRM(Database("sqlite+aiosqlite:////nonexistent/dir/x.db"), crm.config)
    async with TestClient(TestServer(create_web_app(bad))) as c:
        resp = await c.get("/healthz")
        assert resp.status == 503
        assert (await resp.json())["database"] == "error"
    await bad.db.dispose()


async def test_metrics_show_the_outbox_depth_by_kind(crm: CRM) -> None:
    uid = await add_user(crm.db, 6100, "Ivan", role="service", start=0, end=24 * 60,
                         days="1234567")
    cid = await add_client(crm.db, uid, "Acme")
    await add_planned(crm.db, cid, uid, crm.clock.now())
    await crm.notifications.enqueue_due()
    async with TestClient(TestServer(create_web_app(crm))) as c:
        body = await (await c.get("/metrics")).text()
    assert 'salesbot_outbox_depth{kind="reminder"} 1.0' in body
