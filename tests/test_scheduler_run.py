"""Running the scheduler: one leader per PostgreSQL database, and `salesbot run
--scheduler-only` delivering without polling."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import build_parser
from crm.service import CRM
from scheduler.jobs import Leadership
from tests.conftest import migrated_db
from tests.fakebotapi import FakeBotAPI
from tests.notify_data import add_client, add_planned, add_user, salesbot_process

ROOT = Path(__file__).resolve().parent.parent


async def test_one_scheduler_leads(any_crm: CRM) -> None:
    first, second = Leadership(any_crm), Leadership(CRM(any_crm.db, any_crm.config))
    try:
        assert await first.ensure() and first.acquired_now
        assert await first.ensure() and not first.acquired_now
        # PostgreSQL: the advisory lock; SQLite: the file lock next to the database file.
        assert not await second.ensure()
        assert not await second.ensure()
        await first.release()
        assert await second.ensure() and second.acquired_now
        assert not await first.ensure()
    finally:
        await first.release()
        await second.release()


def test_run_flags() -> None:
    args = build_parser().parse_args(["run", "--scheduler-only"])
    assert args.scheduler_only and not args.no_scheduler
    args = build_parser().parse_args(["run", "--no-scheduler"])
    assert args.no_scheduler and not args.scheduler_only


@pytest.mark.slow
async def test_scheduler_only_delivers_without_polling(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sched.db'}"
    db = await migrated_db(url)
    uid = await add_user(db, 6001, "Ivan", role="service", start=0, end=24 * 60,
                         days="1234567")
    cid = await add_client(db, uid, "Acme")
    await add_planned(db, cid, uid, datetime.now(UTC) - timedelta(minutes=1))
    await db.dispose()
    async with FakeBotAPI() as api:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE"))},
            "BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.base_url, "DATABASE_URL": url,
            "TICK_SECONDS": "0.3", "DEFAULT_LOCALE": "en", "PYTHONPATH": str(ROOT),
        }
        log = tmp_path / "run.log"
        with salesbot_process(env, log, "--scheduler-only") as proc:
            msg = await api.wait_for(lambda: api.sent_messages(6001), timeout=60,
                                     what="the reminder")
            assert "Acme" in msg[0]["text"]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, log.read_text()
        assert api.calls("getUpdates") == []
