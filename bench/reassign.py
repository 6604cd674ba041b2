"""How long a head takes over a departing manager's clients (issue 10: 300 in a minute).

Run: python -m bench.reassign [--clients 300] [--base 20000] [--repeat 5]

Builds its own data (a temporary SQLite database, and the PostgreSQL one of
TEST_DATABASE_URL when set — its schema is dropped): a team with a head and two managers,
`--base` other clients with history, and the departing manager's `--clients` clients, each
with an open deal, two planned contacts (one already queued as a reminder) and a history
record. Then it times `crm.client_admin.reassign_all` — the «Move» of the people screen —
moving them all to the colleague and back, `--repeat` times each way (the baseline), and
`crm.leads.reassign_by_rule` — «🎯 By the team's rule» (least busy) — spreading them over
two colleagues, `--repeat` times (moved back by ids in between, not timed). The cap of
clients in work is raised for the run: every one of the 300 has an open deal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from crm.clock import FrozenClock
from crm.config import CRMConfig, NotifyConfig
from crm.dto import Actor
from crm.roles import Role
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Activity, Client, Deal, PlannedContact, Stage

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
BATCH = 5000


async def fill(crm: CRM, db: Database, n: int, base: int) -> tuple[Actor, int, int]:
    boss = await crm.people.start(1, "Anna Admin", None, "ru", None)
    assert boss is not None
    team = await crm.people.create_team(boss.actor, "North")
    ids = []
    for tg, name, role in ((2, "Helen Head", Role.HEAD), (3, "Ivan Leaving", Role.MANAGER),
                           (4, "Olga Staying", Role.MANAGER), (5, "Kate Staying", Role.MANAGER)):
        link = await crm.people.create_invite(boss.actor, role, team.id)
        got = await crm.people.start(tg, name, None, "ru", link.token)
        assert got is not None
        ids.append(got.actor)
    head, ivan, olga, _kate = ids
    async with db.transaction() as s:
        stage = await s.scalar(select(Stage.id).limit(1))
        for start in range(0, base + n, BATCH):
            rows = []
            for i in range(start, min(base + n, start + BATCH)):
                owner = ivan.id if i >= base else olga.id
                rows.append({"name": f"Клиент {i}", "name_norm": f"клиент {i}",
                             "search_text": f"клиент {i}", "phone_digits": "",
                             "owner_id": owner, "unsubscribed": False, "is_deleted": False,
                             "created_at": NOW, "updated_at": NOW})
            await s.execute(insert(Client), rows)
        mine = list(await s.scalars(select(Client.id).where(Client.owner_id == ivan.id)))
        await s.execute(insert(Deal), [
            {"client_id": c, "title": "Сделка", "amount": 1000, "currency": "RUB",
             "stage_id": stage, "status": "open", "owner_id": ivan.id, "opened_at": NOW,
             "stage_changed_at": NOW} for c in mine])
        await s.execute(insert(PlannedContact), [
            {"client_id": c, "owner_id": ivan.id, "due_at": NOW + timedelta(minutes=k),
             "status": "planned", "created_at": NOW}
            for c in mine for k in (-1, 60 * 24)])
        await s.execute(insert(Activity), [
            {"client_id": c, "author_id": ivan.id, "event": "no_next_step",
             "occurred_at": NOW, "created_at": NOW} for c in mine])
    await crm.notifications.enqueue_due()  # the reminders due now wait in the outbox
    return head, ivan.id, olga.id


async def run_one(label: str, url: str, n: int, base: int, repeat: int) -> list[float]:
    db = Database(url)
    if url.startswith("postgresql"):
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db)
    crm = CRM(db, CRMConfig(admin_ids=frozenset({1})), FrozenClock(NOW))
    head, ivan, olga = await fill(crm, db, n, base)
    samples = []
    for _ in range(repeat):
        for src, dst in ((ivan, olga), (olga, ivan)):
            if src == olga:
                # Back: only the ones that came (Olga's own stay hers) — by ids.
                async with db.transaction() as s:
                    moved = list(await s.scalars(select(Client.id).where(
                        Client.owner_id == olga, Client.id > base)))
                start = time.perf_counter()
                done = await crm.client_admin.reassign_clients(head, moved, dst)
            else:
                start = time.perf_counter()
                done = await crm.client_admin.reassign_all(head, src, dst)
            samples.append(time.perf_counter() - start)
            assert done.clients == n and done.planned == 2 * n and done.deals == n
    print(f"{label}: {n} clients (+{base} others), each with a deal and two plans, to a "
          f"person: median {statistics.median(samples) * 1000:.0f} ms, "
          f"max {max(samples) * 1000:.0f} ms")
    await crm.leads.set_rule(head, None, "least_busy")
    crm.leads.config = NotifyConfig(clients_in_work_max=10 * n)
    spread = []
    for _ in range(repeat):
        start = time.perf_counter()
        by_rule = await crm.leads.reassign_by_rule(head, from_user_id=ivan)
        spread.append(time.perf_counter() - start)
        assert by_rule.clients == n and by_rule.planned == 2 * n and len(by_rule.to) == 2
        async with db.transaction() as s:
            moved = list(await s.scalars(select(Client.id).where(Client.id > base)))
        await crm.client_admin.reassign_clients(head, moved, ivan)
    print(f"{label}: the same {n} by the team's rule over two managers: "
          f"median {statistics.median(spread) * 1000:.0f} ms, max {max(spread) * 1000:.0f} ms")
    await db.dispose()
    return samples


async def run(n: int, base: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run_one("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", n, base,
                      repeat)
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        await run_one("PostgreSQL", pg, n, base, repeat)
    print("target: well under a minute for 300 clients")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--base", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.base, args.repeat))


if __name__ == "__main__":
    main()
