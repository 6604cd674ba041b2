"""How long «🧭 Nearby» takes at 100k clients with coordinates.

Run: python -m bench.nearby [--clients 100000] [--repeat 5]

Builds its own clients around Moscow (a temporary SQLite database, and the PostgreSQL one
of TEST_DATABASE_URL when set — its schema is dropped), then times, through the real
dispatcher, a manager and an admin sharing their location after «Nearby» (the list of the
closest clients with distances). The baseline, measured in the same run, is a bare
dispatcher answering a location with a fixed text: everything but the query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Dispatcher, F
from aiogram.types import Chat, Location, Message, MessageEntity, Update
from sqlalchemy import insert, text

from bot.factory import create_dispatcher
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.roles import Role
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Client
from tests.harness import TgUser, make_bot

ADMIN = TgUser(1, "Anna", "Admin", language_code="ru")
MANAGER = TgUser(2, "Max", "Sokolov", language_code="ru")
HERE = (55.7558, 37.6173)
BATCH = 5000


async def fill(crm: CRM, db: Database, n: int, rng: random.Random) -> None:
    admin = await crm.people.start(ADMIN.id, "Anna Admin", None, "ru", None)
    assert admin is not None
    link = await crm.people.create_invite(admin.actor, Role.MANAGER, None)
    manager = await crm.people.start(MANAGER.id, "Max Sokolov", None, "ru", link.token)
    assert manager is not None
    owners = [admin.actor.id, manager.actor.id]
    now = datetime(2026, 11, 25, tzinfo=UTC)
    async with db.transaction() as s:
        for start in range(0, n, BATCH):
            rows = []
            for i in range(start, min(n, start + BATCH)):
                name = f"Клиент {i}"
                rows.append({
                    "name": name, "name_norm": name.lower(), "search_text": name.lower(),
                    "phone_digits": "", "owner_id": owners[i % 10 == 0],
                    # Most within the city, some in the region around it.
                    "lat": HERE[0] + rng.gauss(0, 0.12), "lon": HERE[1] + rng.gauss(0, 0.2),
                    "unsubscribed": False, "is_deleted": False,
                    "created_at": now, "updated_at": now,
                })
            await s.execute(insert(Client), rows)


def location(user: TgUser, n: int) -> Update:
    msg = Message(message_id=n, date=datetime.now(UTC), chat=Chat(id=user.id, type="private"),
                  from_user=user.as_user(), location=Location(latitude=HERE[0],
                                                              longitude=HERE[1]))
    return Update(update_id=n, message=msg)


def command(user: TgUser, n: int) -> Update:
    msg = Message(message_id=n, date=datetime.now(UTC), chat=Chat(id=user.id, type="private"),
                  from_user=user.as_user(), text="/nearby",
                  entities=[MessageEntity(type="bot_command", offset=0, length=7)])
    return Update(update_id=n, message=msg)


async def timed_nearby(dp: Dispatcher, user: TgUser, repeat: int) -> tuple[float, str]:
    bot, session = make_bot()
    samples = []
    counter = 10_000
    last = ""
    for _ in range(repeat):
        counter += 2
        await dp.feed_update(bot, command(user, counter))
        session.calls.clear()
        start = time.perf_counter()
        await dp.feed_update(bot, location(user, counter + 1))
        samples.append(time.perf_counter() - start)
        last = getattr(session.calls[-1], "text", "") or ""
    return statistics.median(samples) * 1000, last


async def timed_bare(repeat: int) -> float:
    dp = Dispatcher()

    async def answer(message: Message) -> None:
        await message.answer("ok")

    dp.message.register(answer, F.location)
    bot, _session = make_bot()
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        await dp.feed_update(bot, location(MANAGER, i + 1))
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


async def run_one(label: str, url: str, n: int, repeat: int) -> list[tuple[str, str, float]]:
    db = Database(url)
    if url.startswith("postgresql"):
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db)
    crm = CRM(db, CRMConfig(admin_ids=frozenset({ADMIN.id})),
              FrozenClock(datetime(2026, 11, 25, 9, tzinfo=UTC)))
    started = time.perf_counter()
    await fill(crm, db, n, random.Random(n))
    print(f"{label}: {n} clients built in {time.perf_counter() - started:.1f} s")
    dp = create_dispatcher(crm)
    rows = [(label, "bare dispatcher (baseline)", await timed_bare(repeat))]
    for who, user in (("manager (1 in 10 own)", MANAGER), ("admin (all)", ADMIN)):
        ms, shown = await timed_nearby(dp, user, repeat)
        top = [line for line in shown.splitlines() if line[:2] in {"1.", "5."}]
        rows.append((label, f"«Nearby», {who}", ms))
        print(f"  {who}: " + " | ".join(top))
    await db.dispose()
    return rows


async def run(n: int, repeat: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += await run_one("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", n,
                              repeat)
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        rows += await run_one("PostgreSQL", pg, n, repeat)
    base = {label: ms for label, what, ms in rows if what.endswith("(baseline)")}
    print(f"\n{'database':<10} | {'update':<32} | {'median ms':>9} | {'× baseline':>10}")
    print("-" * 72)
    for label, what, ms in rows:
        print(f"{label:<10} | {what:<32} | {ms:>9.1f} | {ms / base[label]:>10.0f}")
    print("\ntarget: the five closest with distances in under 1000 ms at 100k clients")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.repeat))


if __name__ == "__main__":
    main()
