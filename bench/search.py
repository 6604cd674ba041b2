"""How long a manager waits for search results as the client base grows.

Run: python -m bench.search [--clients 2000 10000]

Generates its own clients in a temporary SQLite database, then times the three kinds of
search the bot does. The baseline, measured in the same run, is a plain exact-substring
query; the typo-tolerant pass (trigram-indexed candidates, finished in Python) and the phone
search are compared against it. `python -m bench.scale` measures them at 100k clients.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crm.clients import ClientDraft
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade

WORDS = ["Ромашка", "Василёк", "Север", "Техно", "Строй", "Альфа", "Вектор", "Логистик",
         "Прогресс", "Импульс", "Гранит", "Меридиан", "Орбита", "Сигма", "Кварц", "Дельта"]
FORMS = ["ООО", "АО", "ИП", "ЗАО"]


async def fill(crm: CRM, n: int, rng: random.Random) -> None:
    admin = await crm.people.start(1, "Admin", None, "ru", None)
    assert admin is not None
    for i in range(n):
        name = f'{rng.choice(FORMS)} "{rng.choice(WORDS)}-{rng.choice(WORDS)} {i}"'
        phone = f"+7916{rng.randrange(10**7):07d}"
        await crm.clients.create(admin.actor, ClientDraft(name=name, phone=phone))


async def timed(crm: CRM, query: str, repeat: int) -> tuple[float, int]:
    admin = await crm.people.identify(1)
    assert admin is not None
    samples = []
    total = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = await crm.clients.search(admin, query)
        samples.append(time.perf_counter() - start)
        total = result.total
    return statistics.median(samples) * 1000, total


async def run(sizes: list[int], repeat: int) -> None:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
            await upgrade(db)
            crm = CRM(db, CRMConfig(admin_ids=frozenset({1})),
                      FrozenClock(datetime(2026, 11, 25, tzinfo=UTC)))
            await fill(crm, n, random.Random(n))
            base, base_hits = await timed(crm, "ромашка-север", repeat)
            for label, query in (
                ("exact substring (baseline)", "ромашка-север"),
                ("one typo → fuzzy pass", "ромошка"),
                ("phone digits", "916 12"),
                ("nothing matches", "щщщщщ"),
            ):
                ms, hits = (base, base_hits) if label.endswith("(baseline)") else await timed(
                    crm, query, repeat)
                rows.append((n, label, ms, ms / base if base else 0.0, hits))
            await db.dispose()
    print(f"{'clients':>8} | {'search':<28} | {'median ms':>9} | {'× baseline':>10} | hits")
    print("-" * 72)
    for n, label, ms, ratio, hits in rows:
        print(f"{n:>8} | {label:<28} | {ms:>9.1f} | {ratio:>10.1f} | {hits}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.repeat))


if __name__ == "__main__":
    main()
