"""How close to the configured limit does a 2,000-recipient Telegram mailing go out?

One command (from the repository root):

    python -m bench.mailing            # or: python bench/mailing.py [--n 2000 ...]

It makes its own data (a temporary SQLite database, or `--db URL`: an admin and `--n`
clients, each with one linked Telegram contact), starts the fake Telegram Bot API server in
a process of its own with Telegram-like flood control (bench.reminders.FloodControlledAPI:
429 beyond 30 messages a second overall or within 0.8 s in one chat; `--rtt` seconds per
call), creates the mailing through crm.mailings («send now») and lets the real scheduler
deliver it: the tick, the outbox, the mailing deliverer and the shared limiter at the
production settings (25 msg/s overall, 1 msg/s per chat), the progress message edited as
it goes.

It prints the send rate (first to last message accepted by the server) divided by the
configured limit — the target is 0.95 or more with no 429 — next to the limit's theoretical
time for the same number of messages, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/mailing.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from multiprocessing.connection import Connection

from aiohttp import web
from sqlalchemy import text

from bench.reminders import CHAT_INTERVAL, GLOBAL_LIMIT, FloodControlledAPI
from bot.factory import create_bot
from bot.i18n import create_i18n
from crm.config import CRMConfig
from crm.mailings import TELEGRAM, Plan
from crm.people import to_actor
from crm.service import CRM
from scheduler.runner import RunnerConfig, SchedulerRunner
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Client, ClientChannel, User
from tests.fakebotapi import FakeBotAPI
from tests.fakebotapi.server import ApiError, Request, Upload

CHAT0 = 900_000_000
ADMIN_TG = 800_001
ARRIVED = "_arrived"  # a parameter the server adds to a request: when it arrived


class ArrivalFloodControl(FloodControlledAPI):
    """The same flood control, judged when a request arrives (as Telegram's is) rather than
    after the server's own `--rtt` sleep, whose wake-ups a loaded machine bunches."""

    @staticmethod
    async def _read(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        arrived = time.monotonic()
        params, files = await FloodControlledAPI._read(request)
        params[ARRIVED] = arrived
        return params, files

    def _inject_faults(self, req: Request) -> None:
        arrived = float(req.params.pop(ARRIVED, time.monotonic()))
        FakeBotAPI._inject_faults(self, req)
        if req.method != "sendMessage":
            return
        while self._window and self._window[0] <= arrived - 1.0:
            self._window.popleft()
        chat = int(req.params.get("chat_id") or 0)
        if len(self._window) >= GLOBAL_LIMIT or \
                arrived - self._last_in_chat.get(chat, -10.0) < CHAT_INTERVAL:
            self.rejected += 1
            req.injected = True
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        self._window.append(arrived)
        self._last_in_chat[chat] = arrived
        self.accepted.append((arrived, req))


def serve(conn: Connection, rtt: float) -> None:
    """The fake server with flood control, in a process of its own (so that the bot's own
    event loop does not bunch what the server sees): sends (token, URL), waits for "stop",
    sends back (accepted (time, chat), 429s given, progress edits)."""

    async def run() -> None:
        async with ArrivalFloodControl() as api:
            api.delay("sendMessage", rtt)
            conn.send((api.token, api.base_url))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            accepted = [(at, int(req.params.get("chat_id") or 0)) for at, req in api.accepted]
            conn.send((accepted, api.rejected, len(api.calls("editMessageText"))))

    asyncio.run(run())


async def make_data(db: Database, n: int) -> User:
    async with db.transaction() as s:
        boss = User(tg_id=ADMIN_TG, name="Bench Admin", role="admin", timezone="UTC",
                    locale="en", is_active=True)
        s.add(boss)
        await s.flush()
        for start in range(0, n, 500):
            clients = [Client(name=f"Client {i}", name_norm=f"client {i}", owner_id=boss.id)
                       for i in range(start, min(n, start + 500))]
            s.add_all(clients)
            await s.flush()
            s.add_all(ClientChannel(tg_id=CHAT0 + c.id, client_id=c.id, tg_name=c.name,
                                    locale="en", consent="subscribed") for c in clients)
            await s.flush()
        return boss


async def reset_postgres(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR, format="%(relativeCreated)8.0f ms %(message)s")
    tmp = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
    db = Database(args.db or f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    if db.dialect == "postgresql":
        await reset_postgres(db)
    await upgrade(db)
    boss = await make_data(db, args.n)
    crm = CRM(db, CRMConfig(default_locale="en"))
    config = RunnerConfig(tick_seconds=args.tick)
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs, args.rtt))
    server.start()
    token, base_url = ours.recv()
    bot = create_bot(token, base_url, retry=False)
    runner = SchedulerRunner(crm, bot, create_i18n("en"), config)
    try:
        progress = await bot.send_message(ADMIN_TG, "…")
        actor = to_actor(boss)
        plan = Plan("Bench", None, None, {}, (TELEGRAM,),
                    "Hello, {name}! The new price list is out.")
        print(f"mailing to {args.n} linked contacts …", file=sys.stderr)
        started = time.monotonic()
        mailing_id = await crm.mailings.create(actor, plan, "bench", None, ADMIN_TG,
                                               progress.message_id)
        created = time.monotonic() - started
        runner.start()
        deadline = time.monotonic() + 60 + args.n / 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            p = await crm.mailings.progress(actor, mailing_id)
            if p.left == 0 and p.status == "done":
                break
        await runner.stop()
        p = await crm.mailings.progress(actor, mailing_id)
    finally:
        await bot.session.close()
        await db.dispose()
        ours.send("stop")
        accepted, rejected, edits = ours.recv()
        server.join(timeout=10)
    to_clients = [(at, chat) for at, chat in accepted if chat >= CHAT0]
    per_chat = Counter(chat for _, chat in to_clients)
    first, last = to_clients[0][0], to_clients[-1][0]
    took = last - first
    limit = config.rate_limit_global
    rate = (len(to_clients) - 1) / took if took > 0 else float("inf")
    theory = (len(to_clients) - 1) / limit
    rows = [
        ["", "messages", "seconds", "msg/s", "÷ limit", "429s"],
        ["limit (theoretical)", str(args.n), f"{theory:.1f}", f"{limit:.1f}", "1.00", "0"],
        ["salesbot mailing", str(len(per_chat)), f"{took:.1f}", f"{rate:.2f}",
         f"{rate / limit:.3f}", str(rejected)],
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"\n{args.n}-recipient Telegram mailing; fake Telegram: {GLOBAL_LIMIT} msg/s, "
          f"1 msg/s per chat, {args.rtt * 1000:.0f} ms per call; limiter {limit:g} msg/s "
          f"({db.dialect}).")
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    dupes = sum(n - 1 for n in per_chat.values())
    print(f"delivered {p.sent}, failed {p.failed}, left {p.left}, status {p.status}; "
          f"lost {args.n - len(per_chat)}, duplicates {dupes}; progress edits {edits}; "
          f"audience resolved and queued in {created:.2f} s")
    verdict = "OK" if rate / limit >= 0.95 and rejected == 0 else "BELOW TARGET"
    print(f"send rate ÷ limit = {rate / limit:.3f} (target ≥ 0.95, no 429): {verdict}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="recipients (default 2000)")
    p.add_argument("--rtt", type=float, default=0.05, help="seconds per API call")
    p.add_argument("--tick", type=float, default=5.0, help="tick interval (production: 5)")
    p.add_argument("--db", default=None, help="database URL (default: a temporary SQLite)")
    return p.parse_args(argv)


def entry(argv: list[str] | None = None) -> None:
    asyncio.run(main(parse(argv)))


if __name__ == "__main__":
    entry()
