"""Two webhook workers on one port, sharing PostgreSQL and Redis: the fake Bot API server
posts updates to them the way Telegram does, and every update is handled exactly once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import PG_URL, migrated_db
from tests.fakebotapi import FakeBotAPI
from tests.notify_data import salesbot_process

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="TEST_DATABASE_URL and "
                       "TEST_REDIS_URL are not both set: webhook workers share PostgreSQL "
                       "and Redis"),
]
SECRET = "webhook-secret_42"
USERS = 40
HANDLED = re.compile(r"Update id=(\d+) is handled")


async def until(predicate: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """For what only a log file shows (the fake server's waiters wake on API calls)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - a file changes without an event
            await asyncio.sleep(0.1)
    assert predicate(), what


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_two_workers_handle_every_update_once(tmp_path: Path) -> None:
    assert PG_URL and REDIS_URL
    db = await migrated_db(PG_URL)
    await db.dispose()
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeBotAPI() as api:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE"))},
            "BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.base_url, "DATABASE_URL": PG_URL,
            "REDIS_URL": REDIS_URL, "WEBHOOK_URL": f"{base}/tg/webhook",
            "WEBHOOK_SECRET": SECRET, "WEB_PORT": str(port), "DEFAULT_LOCALE": "en",
            "PYTHONPATH": str(ROOT),
        }
        log = tmp_path / "workers.log"
        try:
            with salesbot_process(env, log, "--webhook", "--workers", "2") as proc:
                await until(lambda: log.read_text().count("web server listening") == 2,
                            "two workers listening")
                assert api.webhook["url"] == f"{base}/tg/webhook"
                assert "message" in api.webhook["allowed_updates"]
                assert len(api.calls("setWebhook")) == 1  # once, by the parent
                assert api.calls("getUpdates") == []

                users = [api.user(8000 + i, f"User {i}", language_code="en")
                         for i in range(USERS)]
                for user in users:
                    user.send_command("start")
                await api.wait_for(lambda: len(api.webhook_posts) == USERS, timeout=60,
                                   what="every update posted")
                for user in users:
                    await user.wait_reply(timeout=30)
                await until(lambda: len(HANDLED.findall(log.read_text())) >= USERS,
                            "every update handled")

                async with aiohttp.ClientSession() as http:
                    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                        async with http.post(f"{base}/tg/webhook", json={"update_id": 999},
                                             headers=headers) as resp:
                            assert resp.status == 401
                    async with http.get(f"{base}/healthz") as resp:
                        assert resp.status == 200
                        assert await resp.json() == {"database": "ok", "redis": "ok"}
                    async with http.get(f"{base}/metrics") as resp:
                        assert resp.status == 200
                        assert "salesbot_updates_handled_total{" in await resp.text()

                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0
        except BaseException:
            print(log.read_text(errors="replace")[-5000:])
            raise
        assert {status for _, status, _ in api.webhook_posts} == {200}
        workers = Counter(worker for _, _, worker in api.webhook_posts)
        assert len(workers) == 2, workers  # both workers took a share
        handled = Counter(HANDLED.findall(log.read_text()))
        posted = {str(update_id) for update_id, _, _ in api.webhook_posts}
        assert set(handled) == posted and set(handled.values()) == {1}
        assert all(len(api.sent_messages(u.id)) >= 1 for u in users)
