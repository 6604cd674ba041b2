"""Memory of `salesbot run` serving 10,000 updates, against a bare aiogram bot in the same run.

    python -m bench.rss [--updates 10000] [--clients 300]

Both processes long-poll the tests' fake Bot API server (tests/fakebotapi) in this process;
the updates come in batches of 100 (a busy team), each batch answered before the next. The
salesbot process works on a fresh SQLite file with one manager and `--clients` clients: the
updates are searches that open a client's card, and Today. Peak RSS (VmHWM) and RSS at the
end are read from /proc. The target of the production issue: ≤ 250 MB after 10,000 updates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.fakebotapi import FakeBotAPI

BARE_BOT = """
import asyncio, os
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

dp = Dispatcher()

@dp.message()
async def echo(message: Message) -> None:
    await message.answer("ok")

async def main() -> None:
    server = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"])
    bot = Bot(os.environ["BOT_TOKEN"], session=AiohttpSession(api=server))
    await dp.start_polling(bot, handle_signals=True)

asyncio.run(main())
"""


def memory(pid: int) -> tuple[float, float]:
    """(peak RSS, current RSS) in MB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmHWM"], fields["VmRSS"]


async def prepare(db_path: Path, clients: int) -> None:
    from crm.clients import ClientDraft
    from crm.config import CRMConfig
    from crm.roles import Role
    from crm.service import CRM
    from storage.db import Database
    from storage.migrate import upgrade

    db = Database(f"sqlite+aiosqlite:///{db_path}")
    await upgrade(db)
    crm = CRM(db, CRMConfig(admin_ids=frozenset({1})))
    boss = (await crm.people.start(1, "Anna Admin", None, "en", None))
    assert boss is not None
    link = await crm.people.create_invite(boss.actor, Role.MANAGER, None)
    manager = await crm.people.start(2002, "Max Sokolov", None, "en", link.token)
    assert manager is not None
    for i in range(clients):
        await crm.clients.create(manager.actor, ClientDraft(name=f"Client {i:05d} Ltd"))
    await db.dispose()


async def serve(api: FakeBotAPI, command: list[str], env: dict[str, str], workdir: Path,
                updates: int, clients: int) -> tuple[float, float, float]:
    log = (workdir / "bot.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=workdir, stdout=log, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "BOT_TOKEN": api.token, "TELEGRAM_API_URL": api.base_url, **env},
    )
    try:
        await api.wait_for(lambda: api.polling > 0, timeout=60, what="the bot to poll")
        user = api.user(2002, "Max", language_code="en")
        started = time.perf_counter()
        sent = 0
        base = len(api.calls("sendMessage"))
        while sent < updates:
            batch = min(100, updates - sent)
            for i in range(batch):
                n = sent + i
                user.send_text("/today" if n % 10 == 0 else f"Client {n % clients:05d}")
            sent += batch
            target = base + sent

            def answered(target: int = target) -> bool:
                return len(api.calls("sendMessage")) >= target

            await api.wait_for(answered, timeout=120, what=f"{sent} replies")
        took = time.perf_counter() - started
        peak, now = memory(proc.pid)
        return peak, now, updates / took
    finally:
        proc.terminate()
        await proc.wait()
        log.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        await prepare(work / "salesbot.db", args.clients)
        async with FakeBotAPI() as api:
            bare = await serve(api, [sys.executable, "-c", BARE_BOT], {}, work,
                               args.updates, args.clients)
        async with FakeBotAPI() as api:
            salesbot = shutil_which_salesbot()
            ours = await serve(
                api, [*salesbot, "run"],
                {"DATABASE_URL": f"sqlite+aiosqlite:///{work / 'salesbot.db'}",
                 "ADMIN_IDS": "1", "LOG_LEVEL": "WARNING"},
                work, args.updates, args.clients)
        rows = [("bare aiogram bot (echo)", *bare), ("salesbot run", *ours)]
    print(f"{args.updates} updates in batches of 100, SQLite, {args.clients} clients\n")
    print("| process | peak RSS, MB | RSS at the end, MB | updates/s | ratio of peak to bare |")
    print("|---|---|---|---|---|")
    for name, peak, now, rate in rows:
        print(f"| {name} | {peak:.0f} | {now:.0f} | {rate:.0f} | {peak / rows[0][1]:.2f} |")
    print("\ntarget: salesbot ≤ 250 MB peak after 10,000 updates")


def shutil_which_salesbot() -> list[str]:
    import shutil

    script = shutil.which("salesbot", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "bot.cli"]


if __name__ == "__main__":
    asyncio.run(main())
