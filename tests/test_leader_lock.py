"""One SQLite file, one scheduler: a second `salesbot run` on the same file, started while
the first is delivering, waits for the file lock instead of leading too — every due
reminder goes out exactly once — and takes over when the leader stops."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import migrated_db
from tests.fakebotapi import FakeBotAPI
from tests.notify_data import add_client, add_planned, add_user, outbox, salesbot_process
from tests.test_crash import ALWAYS, planned_ids_delivered

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
WAITING = "another process leads the scheduler"
REMINDERS = 200


async def test_two_processes_on_one_sqlite_file_send_each_reminder_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    db = await migrated_db(url)
    people = [await add_user(db, 7000 + i, f"User {i}", role="service", **ALWAYS)
              for i in range(REMINDERS)]
    clients = [await add_client(db, uid, f"Client {i}") for i, uid in enumerate(people)]
    async with FakeBotAPI() as api:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE"))},
            "BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.base_url, "DATABASE_URL": url,
            "TICK_SECONDS": "0.3", "RATE_LIMIT_GLOBAL": "10", "DEFAULT_LOCALE": "en",
            "PYTHONPATH": str(ROOT),
        }
        first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
        api.delay("sendMessage", 0.2)  # the first is still delivering when the second starts
        try:
            with salesbot_process(env, first_log) as first:
                await api.wait_for(lambda: "scheduler started" in first_log.read_text(),
                                   timeout=60, what="the first scheduler")
                now = datetime.now(UTC)
                planned = [await add_planned(db, cid, uid, now - timedelta(minutes=1))
                           for cid, uid in zip(clients, people, strict=True)]
                await api.wait_for(lambda: len(planned_ids_delivered(api)) >= 10, timeout=60,
                                   what="the first reminders")
                with salesbot_process(env, second_log, "--scheduler-only") as second:
                    await api.wait_for(lambda: WAITING in second_log.read_text(), timeout=60,
                                       what="the second process to wait for the lock")
                    assert len(planned_ids_delivered(api)) < REMINDERS  # it came mid-delivery
                    await api.wait_for(
                        lambda: set(planned_ids_delivered(api)) >= set(planned),
                        timeout=120, what="every reminder")
                    for _ in range(100):
                        if all(r.status == "sent" for r in await outbox(db, "reminder")):
                            break
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(1.0)  # a few more ticks of both: nothing goes again
                    assert set(planned_ids_delivered(api).values()) == {1}

                    # The leader stops; the one that waited takes over what falls due next.
                    first.send_signal(signal.SIGTERM)
                    assert first.wait(timeout=20) == 0
                    late = await add_planned(db, clients[0], people[0],
                                             datetime.now(UTC) - timedelta(minutes=1))
                    await api.wait_for(lambda: late in planned_ids_delivered(api), timeout=60,
                                       what="the reminder after the take-over")
                    second.send_signal(signal.SIGTERM)
                    assert second.wait(timeout=20) == 0
        except BaseException:
            for log in (first_log, second_log):
                print(log.name, log.read_text(errors="replace")[-3000:])
            raise
        delivered = planned_ids_delivered(api)
        assert sorted(delivered) == sorted([*planned, late])
        assert set(delivered.values()) == {1}
        assert second_log.read_text().count(WAITING) == 1
        assert WAITING not in first_log.read_text()
    await db.dispose()
