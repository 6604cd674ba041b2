"""How late are reminders when 1,000 fall due in the same minute?

One command (from the repository root):

    python -m bench.reminders            # or: python bench/reminders.py [--n 1000 ...]

It makes its own data (a temporary SQLite database: people, clients, 1,000 planned
contacts all due at the same instant), starts the fake Telegram Bot API server in-process,
and runs two ways of sending the reminders against it, one after the other:

* baseline — the naive design: one APScheduler date job per reminder, each sending at once
  and, on a 429, sleeping `retry_after` and trying again (no shared limiter);
* salesbot — the real thing: APScheduler's periodic tick, the outbox, the sender and the
  shared limiter with the production settings (25 msg/s overall, 1 msg/s per chat).

The fake server behaves like Telegram's flood control as far as the bench needs: it
answers 429 (retry_after 1 s) to a message beyond 30 a second overall or within 0.8 s of
the previous one in the same chat, and takes `--rtt` seconds to answer each call.
Lateness is the time from a reminder's due time to the server accepting its message.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # `python bench/reminders.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.factory import create_bot
from bot.i18n import create_i18n
from bot.keyboards.reminders import RemCD
from crm.config import CRMConfig
from crm.service import CRM
from scheduler.runner import RunnerConfig, SchedulerRunner
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Client, PlannedContact, User
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.server import ApiError, Request

GLOBAL_LIMIT = 30  # messages per second Telegram takes from one bot
CHAT_INTERVAL = 0.8  # seconds between two messages to one chat (1/s, with some slack)


class FloodControlledAPI(FakeBotAPI):
    """The fake server plus Telegram-like flood control; records when it accepted what."""

    def __init__(self) -> None:
        super().__init__()
        self._window: deque[float] = deque()
        self._last_in_chat: dict[int, float] = {}
        self.accepted: list[tuple[float, Request]] = []
        self.rejected = 0

    def _inject_faults(self, req: Request) -> None:
        super()._inject_faults(req)
        if req.method != "sendMessage":
            return
        now = time.monotonic()
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        chat = int(req.params.get("chat_id") or 0)
        if len(self._window) >= GLOBAL_LIMIT or \
                now - self._last_in_chat.get(chat, -10.0) < CHAT_INTERVAL:
            self.rejected += 1
            req.injected = True
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        self._window.append(now)
        self._last_in_chat[chat] = now
        self.accepted.append((now, req))

    def reset(self) -> None:
        self.requests.clear()
        self.accepted.clear()
        self._window.clear()
        self._last_in_chat.clear()
        self.rejected = 0


async def make_data(db: Database, n: int, users: int, due: datetime) -> list[tuple[int, int]]:
    """(planned id, chat id) of `n` planned contacts spread over `users` people."""
    async with db.transaction() as s:
        people = [
            User(tg_id=700_000 + i, name=f"Manager {i}", role="service",
                 timezone="Europe/Moscow", locale="en", work_start_min=0,
                 work_end_min=24 * 60, work_days="1234567", is_active=True)
            for i in range(users)
        ]
        s.add_all(people)
        await s.flush()
        clients = [
            Client(name=f"Client {i}", name_norm=f"client {i}", phones="+79001234567",
                   owner_id=people[i % users].id)
            for i in range(n)
        ]
        s.add_all(clients)
        await s.flush()
        planned = [
            PlannedContact(client_id=c.id, owner_id=c.owner_id,
                           due_at=due, status="planned")
            for c in clients
        ]
        s.add_all(planned)
        await s.flush()
        tg = {p.id: p.tg_id for p in people}
        return [(p.id, tg[p.owner_id]) for p in planned]


def lateness(api: FloodControlledAPI, due_mono: float, key: str) -> tuple[list[float], int]:
    """Lateness of the first delivery of each reminder, and how many were duplicates."""
    first: dict[str, float] = {}
    dup = 0
    for at, req in api.accepted:
        ident = _ident(req, key)
        if ident is None:
            continue
        if ident in first:
            dup += 1
        else:
            first[ident] = at - due_mono
    return sorted(first.values()), dup


def _ident(req: Request, key: str) -> str | None:
    if key == "text":
        text = str(req.params.get("text") or "")
        return text if text.startswith("reminder ") else None
    for row in (req.params.get("reply_markup") or {}).get("inline_keyboard") or []:
        for button in row:
            data = button.get("callback_data") or ""
            if data.startswith("rm:") and data.endswith(":done"):
                return str(RemCD.unpack(data).planned_id)
    return None


async def run_baseline(api: FloodControlledAPI, bot: Bot, items: list[tuple[int, int]],
                       lead: float) -> tuple[float, float]:
    """One date job per reminder, each on its own: the design the scheduler avoids."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    due = datetime.now(UTC) + timedelta(seconds=lead)
    due_mono = time.monotonic() + lead
    done = asyncio.Event()
    left = [len(items)]

    async def send(pid: int, chat: int) -> None:
        for _ in range(100):
            try:
                await bot.send_message(chat, f"reminder {pid}")
                break
            except TelegramRetryAfter as err:
                await asyncio.sleep(err.retry_after)
            except Exception:
                await asyncio.sleep(1)
        left[0] -= 1
        if not left[0]:
            done.set()

    for pid, chat in items:
        scheduler.add_job(send, "date", run_date=due, args=(pid, chat), misfire_grace_time=60)
    scheduler.start()
    await asyncio.wait_for(done.wait(), timeout=600)
    scheduler.shutdown(wait=False)
    return due_mono, time.monotonic()


async def run_salesbot(api: FloodControlledAPI, bot: Bot, db: Database, n: int, users: int,
                       lead: float, tick: float, batch: int) -> tuple[float, float]:
    crm = CRM(db, CRMConfig(default_locale="en"))
    due = datetime.now(UTC) + timedelta(seconds=lead)
    due_mono = time.monotonic() + lead
    await make_data(db, n, users, due)
    runner = SchedulerRunner(crm, bot, create_i18n("en"),
                             RunnerConfig(tick_seconds=tick, batch=batch))
    runner.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        counts = await crm.outbox.counts()
        if counts.get("sent", 0) + counts.get("failed", 0) >= n:
            break
    await runner.stop()
    return due_mono, time.monotonic()


def row(name: str, late: list[float], dup: int, n: int, rejected: int,
        started: float, finished: float) -> list[str]:
    def q(p: float) -> str:
        return f"{statistics.quantiles(late, n=100)[int(p) - 1]:.1f}" if len(late) > 1 else "-"

    return [name, str(len(late)), str(n - len(late)), str(dup), str(rejected),
            f"{min(late):.1f}" if late else "-", q(50), q(95),
            f"{max(late):.1f}" if late else "-", f"{finished - started:.1f}"]


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR, format="%(relativeCreated)8.0f ms %(message)s")
    if args.verbose:
        logging.getLogger("scheduler.jobs").setLevel(logging.DEBUG)
    tmp = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
    db = Database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await upgrade(db)
    results = []
    async with FloodControlledAPI() as api:
        api.delay("sendMessage", args.rtt)
        bot = create_bot(api.token, api.base_url, retry=False)
        try:
            chats = [700_000 + (i % args.users) for i in range(args.n)]
            items = list(zip(range(1, args.n + 1), chats, strict=True))
            if not args.skip_baseline:
                print(f"baseline: {args.n} date jobs …", file=sys.stderr)
                due_mono, end = await run_baseline(api, bot, items, args.lead)
                late, dup = lateness(api, due_mono, "text")
                results.append(row("baseline: a job per reminder, no limiter", late, dup,
                                   args.n, api.rejected, due_mono, end))
                api.reset()
            print(f"salesbot: outbox + tick every {args.tick:g} s + limiter …", file=sys.stderr)
            due_mono, end = await run_salesbot(api, bot, db, args.n, args.users, args.lead,
                                               args.tick, args.batch)
            late, dup = lateness(api, due_mono, "buttons")
            results.append(row("salesbot: outbox, tick, shared limiter", late, dup, args.n,
                               api.rejected, due_mono, end))
        finally:
            await bot.session.close()
            await db.dispose()
    head = ["approach", "delivered", "lost", "dupes", "429s", "first s", "p50 s", "p95 s",
            "max s", "total s"]
    widths = [max(len(r[i]) for r in [head, *results]) for i in range(len(head))]
    print(f"\n{args.n} reminders due at the same instant, {args.users} recipients; fake "
          f"Telegram: {GLOBAL_LIMIT} msg/s, 1 msg/s per chat, {args.rtt * 1000:.0f} ms per "
          f"call; limiter 25 msg/s, 1 msg/s per chat. Lateness = due → accepted by server.")
    for r in [head, *results]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    floor = args.n / 25
    print(f"(floor at 25 msg/s: the last of {args.n} cannot go before {floor:.0f} s after the "
          f"first, the median {floor / 2:.0f} s; the first waits for the next tick, up to "
          f"{args.tick:g} s)")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="reminders (default 1000)")
    p.add_argument("--users", type=int, default=250, help="recipients (default 250)")
    p.add_argument("--rtt", type=float, default=0.05, help="seconds per API call")
    p.add_argument("--tick", type=float, default=5.0, help="tick interval (production: 5)")
    p.add_argument("--lead", type=float, default=3.0, help="seconds from start to due time")
    p.add_argument("--batch", type=int, default=RunnerConfig().batch, help="rows per claim")
    p.add_argument("--skip-baseline", action="store_true", help="only the salesbot run")
    p.add_argument("-v", "--verbose", action="store_true", help="log each delivered batch")
    return p.parse_args(argv)


def entry(argv: list[str] | None = None) -> None:
    asyncio.run(main(parse(argv)))


if __name__ == "__main__":
    entry()
