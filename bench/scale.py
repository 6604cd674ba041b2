"""Speed at scale: the hot paths through the real dispatcher against a bare one, same run.

Run: python -m bench.scale --db sqlite|postgresql [--clients 100000 --history 1000000]

Builds its own data set with bulk inserts (clients, history, deals, 50 managers in five
teams with a head each, an admin, a client with 5,000 history records, a manager with 2,000
clients; the clients' classifiers and creation dates over two years, the stage events of
every deal, expected closes, loss reasons, invoices and payments for bench/reports.py, which
reuses this builder and the shared set-up below, as bench/lists.py does), then feeds updates to
`bot.factory.create_dispatcher` with the tests' recording session (no network), and to a
bare aiogram dispatcher with one trivial handler as the baseline. PostgreSQL needs `--url`
or BENCH_DATABASE_URL (its schema is DROPPED).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiogram import Dispatcher
from aiogram.types import Message
from sqlalchemy import event, insert, select, text

from bot.app import settle_gc
from bot.factory import create_dispatcher
from bot.keyboards.client import ClientAction, ClientCD, HistCD, LogOutcomeCD, LogTypeCD
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.parsing import format_phone
from crm.search_norm import normalize_text
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    Activity,
    ClassifierItem,
    Client,
    Deal,
    Invoice,
    Payment,
    PlannedContact,
    Stage,
    Team,
    User,
)
from tests.harness import Harness, TgUser, make_bot

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ADMIN_TG = 1
HEAD_TG = 100  # heads: 100..104
MANAGER_TG = 1000  # managers: 1000..1049; 1000 owns 2,000 clients, 1001 the 5,000-record one
FORMS = ["ООО", "АО", "ИП", "ЗАО"]
SYLLABLES = ["ба", "ве", "ги", "до", "ку", "ла", "ми", "но", "пе", "ро", "са", "ти", "фу",
             "ха", "це", "ча", "ша", "юр", "як", "ел", "ан", "ос", "ин", "ум", "зо", "бы",
             "жу", "ле", "мо", "ри", "ту", "вя"]
LETTERS = "абвгдежзийклмнопрстуфхцчшщыэюя"
CHUNK = 5000


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()


def typo(w: str, rng: random.Random) -> str:
    """One insertion, deletion, substitution or adjacent transposition, never a no-op."""
    while True:
        i = rng.randrange(len(w))
        kind = rng.choice(("ins", "del", "sub", "swap"))
        if kind == "ins":
            out = w[:i] + rng.choice(LETTERS) + w[i:]
        elif kind == "del":
            out = w[:i] + w[i + 1:]
        elif kind == "sub":
            out = w[:i] + rng.choice(LETTERS) + w[i + 1:]
        else:
            out = w[:i] + w[i + 1:i + 2] + w[i] + w[i + 2:] if i + 1 < len(w) else w
        if out != w:
            return out


@dataclass
class Data:
    names: list[tuple[str, str]] = field(default_factory=list)  # the two words of each client
    owners: list[int] = field(default_factory=list)  # owner user id of each client (index+1)
    tg_of: dict[int, int] = field(default_factory=dict)  # user id → tg id
    team_of: dict[int, int] = field(default_factory=dict)  # manager id → team id
    head_of_team: dict[int, int] = field(default_factory=dict)  # team id → head tg id
    big_client: int = 0
    busy_manager: int = 0
    stage_events: int = 0


async def bulk(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    async with db.engine.begin() as conn:
        for i in range(0, len(rows), CHUNK):
            await conn.execute(insert(table), rows[i:i + CHUNK])


async def stage_events(db: Database, deals: list[dict[str, Any]], first_id: int,
                       rng: random.Random) -> list[dict[str, Any]]:
    """The history crm/deals.py writes as a deal moves (the funnel's and the stage times'
    input): created at the first stage, up to three moves forward a few days apart, and the
    close of a won or lost deal — about three events a deal, on top of the typed history.
    Sets each deal's stage and stage_changed_at to where its events leave it."""
    async with db.engine.begin() as conn:
        stages = [(r[0], r[1]) for r in await conn.execute(
            select(Stage.id, Stage.code).order_by(Stage.sort_order))]
    rows: list[dict[str, Any]] = []
    for deal in deals:
        opened, closed, status = deal["opened_at"], deal["closed_at"], deal["status"]

        def event(name: str, details: dict[str, Any], at: datetime,
                  deal: dict[str, Any] = deal) -> None:
            rows.append({"id": first_id + len(rows) + 1, "client_id": deal["client_id"],
                         "deal_id": deal["id"], "author_id": deal["owner_id"], "event": name,
                         "details": details, "occurred_at": at, "created_at": at})

        event("deal_created", {"to": stages[0][1]}, opened)
        at, where = opened, 0
        for _ in range(rng.randrange(0, 4)):
            step = min(len(stages) - 1, where + rng.randrange(1, 3))
            if step == where:
                break
            nxt = at + timedelta(days=rng.randrange(1, 12))
            if nxt >= NOW or (closed is not None and nxt >= closed):
                break
            at = nxt
            event("stage_changed", {"from": stages[where][1], "to": stages[step][1]}, at)
            where = step
        if status != "open" and closed is not None:
            event(f"deal_{status}", {"stage": stages[where][1]}, closed)
        deal["stage_id"], deal["stage_changed_at"] = stages[where][0], at
        deal["last_activity_at"] = closed or at
    return rows


async def build(db: Database, n_clients: int, n_history: int, n_deals: int,
                rng: random.Random) -> Data:
    data = Data()
    async with db.engine.begin() as conn:
        types = [r[0] for r in await conn.execute(
            select(ClassifierItem.id).where(ClassifierItem.kind == "activity_type"))]
        outcomes = [r[0] for r in await conn.execute(
            select(ClassifierItem.id).where(ClassifierItem.kind == "outcome"))]
        stages = [r[0] for r in await conn.execute(select(Stage.id))]
        kinds: dict[str, list[int | None]] = {}
        for kind in ("source", "segment", "region", "industry", "campaign", "loss_reason"):
            kinds[kind] = [r[0] for r in await conn.execute(
                select(ClassifierItem.id).where(ClassifierItem.kind == kind))]
    # The reports' columns (classifiers, creation dates, invoices) draw from their own
    # generator, so the names and the history stay those of the runs recorded before.
    xr = random.Random(n_clients)
    for kind in ("source", "segment", "region", "industry"):
        kinds[kind].append(None)  # not set on some cards
    kinds["campaign"] += [None] * 2 * len(kinds["campaign"])
    await bulk(db, Team.__table__, [{"id": t, "name": f"Team {t}", "created_at": NOW}
                                    for t in range(1, 6)])
    users: list[dict[str, Any]] = []

    def user(uid: int, tg: int, role: str, team: int | None, name: str) -> None:
        users.append({"id": uid, "tg_id": tg, "name": name, "role": role, "team_id": team,
                      "timezone": "Europe/Moscow", "locale": "ru", "work_start_min": 540,
                      "work_end_min": 1080, "work_days": "12345", "is_active": True,
                      "on_vacation": False, "unreachable": False, "created_at": NOW})
        data.tg_of[uid] = tg

    user(1, ADMIN_TG, "admin", None, "Admin")
    for t in range(1, 6):
        user(1 + t, HEAD_TG + t - 1, "head", t, f"Head {t}")
        data.head_of_team[t] = HEAD_TG + t - 1
    managers = list(range(10, 60))
    for k, uid in enumerate(managers):
        team = 1 + k // 10
        user(uid, MANAGER_TG + k, "manager", team, f"Manager {k}")
        data.team_of[uid] = team
    await bulk(db, User.__table__, users)
    data.busy_manager, big_owner = managers[0], managers[1]

    clients = []
    for i in range(n_clients):
        cid = i + 1
        owner = managers[0] if i < 2000 else managers[1 + i % 49]
        w1, w2 = word(rng), word(rng)
        name = f'{rng.choice(FORMS)} "{w1} {w2}"'
        email = f"info{cid}@{w2.lower()}.example"
        data.names.append((w1, w2))
        data.owners.append(owner)
        clients.append({
            "id": cid, "name": name, "name_norm": normalize_text(name),
            "search_text": normalize_text(f"{name} {email}"), "phone_digits": f"7916{cid:07d}",
            "phones": f"7916{cid:07d}", "emails": email, "owner_id": owner,
            "unsubscribed": False, "is_deleted": i % 97 == 5,
            "created_at": NOW - timedelta(minutes=xr.randrange(2 * 365 * 24 * 60)),
            "updated_at": NOW,
            **{f"{k}_id": xr.choice(kinds[k]) for k in ("source", "segment", "region",
                                                         "industry", "campaign")},
        })
    # The 5,000-record client, owned by the second manager, must be visible.
    data.big_client = 2001
    clients[2000]["owner_id"] = big_owner
    clients[2000]["is_deleted"] = False
    data.owners[2000] = big_owner
    await bulk(db, Client.__table__, clients)
    del clients

    deals: list[dict[str, Any]] = []
    for d in range(1, n_deals + 1):
        cid = rng.randrange(1, n_clients + 1)
        status = rng.choices(("open", "won", "lost"), (7, 2, 1))[0]
        opened = NOW - timedelta(days=rng.randrange(1, 300))
        deals.append({
            "id": d, "client_id": cid, "title": f"Deal {d}", "amount": 100000 * rng.randrange(
                1, 50), "currency": "RUB", "stage_id": rng.choice(stages), "status": status,
            "owner_id": data.owners[cid - 1], "opened_at": opened,
            "closed_at": None if status == "open" else opened + timedelta(days=rng.randrange(
                1, 60)), "stage_changed_at": opened, "last_activity_at": opened,
        })
    events = await stage_events(db, deals, n_history, random.Random(n_deals))
    for deal in deals:
        # Every row the same keys: a bulk INSERT takes its columns from the first one.
        deal.update(expected_close=None, loss_reason_id=None, lost_stage_id=None)
        if deal["status"] == "lost":
            deal["loss_reason_id"] = xr.choice(kinds["loss_reason"])
            deal["lost_stage_id"] = deal["stage_id"]
        elif deal["status"] == "open" and xr.random() < 0.8:  # the forecast's months
            deal["expected_close"] = (NOW + timedelta(days=xr.randrange(-60, 400))).date()
    await bulk(db, Deal.__table__, deals)
    # An invoice on each won deal and on one open deal in five: most paid in full, some in
    # part, some not at all (receivables and payments received).
    invoices: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    for deal in deals:
        if deal["status"] == "lost" or (deal["status"] == "open" and xr.random() > 0.2):
            continue
        issued = (deal["closed_at"] or deal["opened_at"] + timedelta(days=10)).date()
        inv = {"id": len(invoices) + 1, "deal_id": deal["id"], "number": f"B-{deal['id']}",
               "amount": deal["amount"], "currency": "RUB", "issued_on": issued,
               "due_on": issued + timedelta(days=14), "status": "open", "created_at": NOW}
        invoices.append(inv)
        paid = xr.choices((1.0, 0.5, 0.0), (7, 2, 1))[0]
        if paid:
            payments.append({"id": len(payments) + 1, "invoice_id": inv["id"],
                             "amount": int(deal["amount"] * paid),
                             "paid_on": issued + timedelta(days=xr.randrange(0, 40)),
                             "created_at": NOW})
    await bulk(db, Invoice.__table__, invoices)
    await bulk(db, Payment.__table__, payments)
    del deals, invoices, payments

    planned = []
    pid = 0
    for i in range(n_clients):
        if i >= 2000 and i % 3:
            continue
        pid += 1
        due = NOW + timedelta(hours=rng.randrange(-24 * 7, 24 * 30))
        if i < 200:  # the busy manager's today
            due = NOW + timedelta(minutes=rng.randrange(-600, 300))
        planned.append({"id": pid, "client_id": i + 1, "owner_id": data.owners[i],
                        "type_id": types[0], "due_at": due, "status": "planned",
                        "created_at": NOW})
    await bulk(db, PlannedContact.__table__, planned)
    del planned

    rows: list[dict[str, Any]] = []

    async def flush(force: bool = False) -> None:
        if len(rows) >= 50000 or (force and rows):
            await bulk(db, Activity.__table__, rows)
            rows.clear()

    for k in range(n_history):
        cid = data.big_client if k < 5000 else rng.randrange(1, n_clients + 1)
        rows.append({
            "id": k + 1, "client_id": cid, "author_id": data.owners[cid - 1],
            "type_id": rng.choice(types), "outcome_id": rng.choice(outcomes),
            "text": "Обсудили условия поставки", "occurred_at": NOW - timedelta(
                minutes=rng.randrange(1, 365 * 24 * 60)), "created_at": NOW,
        })
        await flush()
    await flush(force=True)
    await bulk(db, Activity.__table__, events)
    data.stage_events = len(events)
    del events
    if db.dialect == "postgresql":
        async with db.engine.begin() as conn:
            for table in ("teams", "users", "clients", "deals", "planned_contacts",
                          "activities", "invoices", "payments"):
                await conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
            await conn.execute(text("ANALYZE"))
    else:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return data


@dataclass
class Row:
    path: str
    per_s: float
    p50: float
    p95: float
    stmts: float


class Counter:
    """SQL statements run: through the engine, and Database.read's own on SQLite."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine_n = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._hit)

    def _hit(self, *_args: Any) -> None:
        self.engine_n += 1

    @property
    def n(self) -> int:
        return self.engine_n + self.db.read_statements


async def measure(name: str, n: int, step: Callable[[int], Awaitable[int]],
                  counter: Counter | None) -> Row:
    """Run `step(i)` n times, after a tenth as many untimed (the first taps of a path read
    cold pages, compile its statements and fill the worker's classifier copy: a bot serving
    a team is past that); it returns how many updates it fed."""
    for i in range(max(n // 10, 1)):
        await step(n + i)
    samples: list[float] = []
    updates = 0
    before = counter.n if counter else 0
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        fed = await step(i)
        elapsed = time.perf_counter() - t0
        samples.extend([elapsed / fed] * fed)
        updates += fed
    total = time.perf_counter() - start
    samples.sort()
    stmts = (counter.n - before) / updates if counter else 0.0
    return Row(name, updates / total, samples[len(samples) // 2] * 1000,
               samples[int(len(samples) * 0.95)] * 1000, stmts)


def make_user(tg: int) -> TgUser:
    return TgUser(tg, "Bench", None, language_code="ru")


async def bench(db: Database, data: Data, n: int, rng: random.Random) -> list[Row]:
    crm = CRM(db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    bot, session = make_bot()
    h = Harness(dp=create_dispatcher(crm, default_locale="ru"), bot=bot, session=session)
    bare_dp = Dispatcher()

    @bare_dp.message()
    async def echo(message: Message) -> None:
        await message.answer("ok")

    bare = Harness(dp=bare_dp, bot=bot, session=session)
    settle_gc()  # as `salesbot run` does once set up; the bare dispatcher's run too
    counter = Counter(db)
    rows: list[Row] = []
    busy = make_user(data.tg_of[data.busy_manager])
    big_owner = make_user(data.tg_of[data.owners[data.big_client - 1]])
    admin = make_user(ADMIN_TG)
    team1 = 1
    head = make_user(data.head_of_team[team1])
    visible = [i for i in range(len(data.names)) if i % 97 != 5 or i == 2000]
    own = [i for i in visible if data.owners[i] == data.busy_manager]
    team = [i for i in visible if data.team_of.get(data.owners[i]) == team1]

    async def fed(coro: Awaitable[Any]) -> int:
        await coro
        session.calls.clear()
        return 1

    rows.append(await measure("bare dispatcher (baseline)", n * 5,
                              lambda i: fed(bare.send(busy, f"hi {i}")), None))
    types = await crm.classifiers.items("activity_type")
    outcomes = await crm.classifiers.items("outcome")
    call_type = next(t for t in types if t.code == "call")
    reached = outcomes[0]
    rows.append(await measure("open a card", n, lambda i: fed(h.press(
        busy, ClientCD(id=own[rng.randrange(len(own))] + 1, action=ClientAction.OPEN).pack())),
        counter))
    rows.append(await measure(f"history page 400 of a {5000}-record client", n, lambda i: fed(
        h.press(big_owner, HistCD(client_id=data.big_client, page=400).pack())), counter))
    for who, user, pool in (("manager", busy, own), ("head", head, team),
                            ("admin", admin, visible)):
        def name_q(i: int, pool: list[int] = pool) -> str:
            w1, w2 = data.names[pool[rng.randrange(len(pool))]]
            return f"{w1} {w2}"

        def phone_q(i: int, pool: list[int] = pool) -> str:
            return format_phone(f"7916{pool[rng.randrange(len(pool))] + 1:07d}")

        def typo_q(i: int, pool: list[int] = pool) -> str:
            w1, w2 = data.names[pool[rng.randrange(len(pool))]]
            return f"{typo(w1.lower(), rng)} {w2}"

        for kind, make in (("by name", name_q), ("by phone", phone_q),
                           ("with one typo", typo_q)):
            rows.append(await measure(
                f"search {kind} ({who})", n,
                lambda i, u=user, m=make: fed(h.send(u, m(i))), counter))  # type: ignore[misc]
    rows.append(await measure("Today, 2,000-client manager", n,
                              lambda i: fed(h.send(busy, "/today")), counter))

    async def log_call(i: int) -> int:
        cid = own[rng.randrange(len(own))] + 1
        await h.press(busy, LogTypeCD(client_id=cid, type_id=call_type.id).pack())
        await h.press(busy, LogOutcomeCD(client_id=cid, type_id=call_type.id,
                                         outcome_id=reached.id).pack())
        await h.send(busy, f"Обсудили цену {i}")
        session.calls.clear()
        return 3

    rows.append(await measure("log a call (type → outcome → comment)", n, log_call, counter))
    await bot.session.close()
    return rows


async def extras(db: Database, data: Data, rng: random.Random, tries: int) -> list[str]:
    crm = CRM(db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    out = []
    for label, tg in (("team digest (10 managers)", data.head_of_team[1]),
                      ("admin digest (50 managers)", ADMIN_TG)):
        actor = await crm.people.identify(tg)
        assert actor is not None
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            await crm.digest.for_actor(actor)
            samples.append(time.perf_counter() - t0)
        out.append(f"{label}: median {statistics.median(samples) * 1000:.0f} ms")
    admin = await crm.people.identify(ADMIN_TG)
    assert admin is not None
    hits = 0
    visible = [i for i in range(len(data.names)) if i % 97 != 5 or i == 2000]
    for _ in range(tries):
        i = visible[rng.randrange(len(visible))]
        w1, w2 = data.names[i]
        found = await crm.clients.search(admin, f"{typo(w1.lower(), rng)} {w2}")
        hits += any(ref.id == i + 1 for ref in found.items)
    out.append(f"one-typo pass hit rate (admin): {hits}/{tries} = {hits / tries:.0%}")
    return out


def table(rows: list[Row]) -> str:
    base = rows[0].per_s
    lines = ["| path | updates/s | ratio to bare | p50 ms | p95 ms | SQL/update |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.path} | {r.per_s:.0f} | {r.per_s / base:.3f} | {r.p50:.1f} | "
                     f"{r.p95:.1f} | {r.stmts:.1f} |")
    return "\n".join(lines)


# --- the set-up every bench on this data set shares (bench/reports.py, bench/lists.py) ----


def data_args(parser: argparse.ArgumentParser, seed: int = 11) -> None:
    """The options choosing the database and the size of the data set."""
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="PostgreSQL URL (its public schema is dropped); "
                        "default BENCH_DATABASE_URL")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--history", type=int, help="default 10 × --clients")
    parser.add_argument("--deals", type=int, help="default --clients ÷ 5")
    parser.add_argument("--seed", type=int, default=seed)


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed options, with the data set's defaults filled in."""
    args = parser.parse_args()
    if args.clients < 2001:
        parser.error("--clients must be at least 2001")
    args.history = args.history or args.clients * 10
    args.deals = args.deals or args.clients // 5
    return args


def db_url(args: argparse.Namespace, sqlite_path: Path) -> str:
    if args.db == "sqlite":
        return f"sqlite+aiosqlite:///{sqlite_path}"
    url: str = args.url or os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("--db postgresql needs --url or BENCH_DATABASE_URL")
    return url


async def fresh(args: argparse.Namespace, sqlite_path: Path) -> Database:
    """An empty, migrated database: a new SQLite file, or the PostgreSQL database with its
    public schema dropped and created again."""
    url = db_url(args, sqlite_path)
    if args.db == "postgresql":
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await db.dispose()
    db = Database(url)
    await upgrade(db)
    return db


async def built(args: argparse.Namespace, db: Database) -> Data:
    """`build` with the options' sizes, and a line saying what was built and how fast."""
    t0 = time.perf_counter()
    data = await build(db, args.clients, args.history, args.deals, random.Random(args.seed))
    print(f"{args.db}: {args.clients:,} clients, {args.history:,} history records "
          f"+ {data.stage_events:,} deal stage events, {args.deals:,} deals, 50 managers; "
          f"built in {time.perf_counter() - t0:.0f} s")
    return data


async def steady(db: Database) -> None:
    """Statistics (and on PostgreSQL the visibility map, for index-only scans) as autovacuum
    would have left them on a database in use."""
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed + 1)
    with tempfile.TemporaryDirectory() as tmp:
        db = await fresh(args, Path(tmp) / "bench.db")
        data = await built(args, db)
        await steady(db)  # as autovacuum leaves a database in use
        rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = await bench(db, data, args.n, rng)
        print(table(rows))
        for line in await extras(db, data, rng, args.typo_tries):
            print(line)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {rss:.0f} MB (after building the data set: {rss_built:.0f} MB)")
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_args(parser)
    parser.add_argument("-n", type=int, default=200, help="iterations per path")
    parser.add_argument("--typo-tries", type=int, default=200)
    asyncio.run(main_async(parse(parser)))


if __name__ == "__main__":
    main()
