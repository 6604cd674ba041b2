"""Migrations: down to base and up again with data on both databases, the models agree with
the migrations, and Alembic's own command line works with storage/alembic.ini."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.geo import Point
from crm.service import CRM
from storage.db import Database
from storage.migrate import current_tables, downgrade, upgrade
from storage.models import Activity, Base, ClassifierItem, Client, MarketingDaily, Stage
from storage.types import UTCDateTime
from tests.conftest import ADMIN_TG, NOW
from tests.factories import client, person

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "storage" / "migrations" / "versions"


def _defaults() -> dict[str, list[tuple[str, str, str]]]:
    """The classifier values of migration 0002 (its module name is not importable)."""
    path = VERSIONS / "0002_default_classifiers.py"
    spec = importlib.util.spec_from_file_location("m0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classifiers: dict[str, list[tuple[str, str, str]]] = module.CLASSIFIERS
    return classifiers


def alembic(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "storage" / "alembic.ini"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_alembic_command_line_migrates_the_database_of_database_url(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    done = alembic("upgrade", "head", url=url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    head = alembic("heads", url=url, cwd=tmp_path).stdout.strip()
    assert head.endswith("(head)")
    assert alembic("current", url=url, cwd=tmp_path).stdout.strip() == head
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        stages = conn.execute("SELECT count(*) FROM stages").fetchone()[0]
    assert stages > 0
    done = alembic("downgrade", "base", url=url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert alembic("current", url=url, cwd=tmp_path).stdout.strip() == ""
    assert not (tmp_path / "salesbot.db").exists()  # DATABASE_URL was used, not the default


async def item_id(crm: CRM, kind: str, code: str) -> int:
    item = await crm.classifiers.by_code(kind, code)
    assert item is not None
    return item.id


async def seed(crm: CRM) -> None:
    """A bit of everything, through the use cases: classifiers and stages in use."""
    max_ = await person(crm, 2002, "Max Sokolov")
    moscow = await item_id(crm, "region", "moscow")
    ref = await client(crm, max_, "Acme", "89161234567", region_id=moscow, contact_name="Ivan")
    call = await item_id(crm, "activity_type", "call")
    reached = await item_id(crm, "outcome", "reached")
    await crm.history.log(max_, ref.id, call, reached, "Talked")
    await crm.planning.plan(max_, ref.id, NOW + timedelta(days=1), note="Call back")
    won = await crm.deals.create(max_, ref.id, "Licences", Decimal(1000), None)
    invoice = await crm.billing.add_invoice(max_, won.id, Decimal(1000), date(2026, 12, 10))
    await crm.billing.add_payment(max_, invoice.id, Decimal(400), date(2026, 11, 25))
    await crm.deals.win(max_, won.id)
    lost = await crm.deals.create(max_, ref.id, "Support", Decimal(500), None)
    await crm.deals.lose(max_, lost.id, await item_id(crm, "loss_reason", "price"))


async def test_down_to_base_and_up_again_with_data(any_db: Database) -> None:
    crm = CRM(any_db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    await seed(crm)
    # 0002's defaults go, except those the data uses; upgrading again adds the rest once.
    await downgrade(any_db, "0001")
    async with any_db.transaction() as s:
        rows = await s.execute(select(ClassifierItem.kind, ClassifierItem.code))
        kept = {(kind, code) for kind, code in rows}
        stages = set((await s.execute(select(Stage.code))).scalars())
    assert kept == {("region", "moscow"), ("activity_type", "call"), ("outcome", "reached"),
                    ("loss_reason", "price")}
    assert stages == {"new"}
    await upgrade(any_db)
    async with any_db.transaction() as s:
        count = (await s.execute(select(func.count()).select_from(ClassifierItem))).scalar()
    # 0002's defaults and 0005's «Visit».
    assert count == sum(len(values) for values in _defaults().values()) + 1

    await downgrade(any_db, "base")
    assert [t for t in await current_tables(any_db) if t != "alembic_version"] == []
    await upgrade(any_db)
    await seed(crm)  # the same again: the defaults are back, nothing is left over
    max_ = await crm.people.identify(2002)
    assert max_ is not None
    assert [c.name for c in (await crm.clients.search(max_, "acme")).items] == ["Acme"]


async def test_0006_keeps_a_visit_type_in_use_and_adds_it_once(any_db: Database) -> None:
    crm = CRM(any_db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    await seed(crm)
    max_ = await crm.people.identify(2002)
    assert max_ is not None
    ref = (await crm.clients.search(max_, "acme")).items[0]
    await crm.visits.set_place(max_, ref.id, Point(55.75, 37.61))
    await crm.visits.check_in(max_, ref.id, Point(55.75, 37.62))
    await downgrade(any_db, "0005")
    async with any_db.transaction() as s:
        visits = (await s.execute(select(func.count()).select_from(ClassifierItem).where(
            ClassifierItem.code == "visit"))).scalar()
    assert visits == 1  # a visit in the history still refers to it
    await upgrade(any_db)
    async with any_db.transaction() as s:
        visits = (await s.execute(select(func.count()).select_from(ClassifierItem).where(
            ClassifierItem.code == "visit"))).scalar()
    assert visits == 1
    assert (await crm.history.page(max_, ref.id)).items[0].type is not None


async def _campaign_touches(db: Database) -> dict[int, int]:
    """marketing_daily's touches per campaign (0: none), whatever the day."""
    async with db.transaction() as s:
        rows = await s.execute(select(MarketingDaily.value, func.sum(MarketingDaily.touches))
                               .where(MarketingDaily.kind == "campaign")
                               .group_by(MarketingDaily.value))
        return {v: int(n) for v, n in rows if n}


async def test_0020_gives_a_broadcast_touch_its_campaign_and_back(any_db: Database) -> None:
    """Up: a campaign touch a broadcast wrote (its details name the mailing and the campaign)
    gets that campaign, the others none, and the roll-up's campaign rows follow; down: the
    roll-up counts every touch towards the client's campaign again."""
    crm = CRM(any_db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    await seed(crm)
    spring = await item_id(crm, "campaign", "expo_spring")
    webinar = await item_id(crm, "campaign", "webinar")
    touch = await item_id(crm, "activity_type", "campaign_touch")
    async with any_db.transaction() as s:
        acme = await s.scalar(select(Client).where(Client.name == "Acme"))
        assert acme is not None
        acme.campaign_id = spring
        acme_id, author = acme.id, acme.owner_id
    await downgrade(any_db, "0019")
    history = sa.table("activities", sa.column("client_id"), sa.column("author_id"),
                       sa.column("type_id"), sa.column("details", sa.JSON),
                       sa.column("occurred_at", UTCDateTime()),
                       sa.column("created_at", UTCDateTime()))
    details = [{"mailing_id": 1, "campaign_id": webinar, "channel": "telegram"},  # a broadcast
               None,  # logged by hand
               {"mailing_id": 2, "campaign_id": None},  # a broadcast without a campaign
               {"mailing_id": 3, "campaign_id": 987654},  # a campaign that is not there
               {"campaign_id": webinar}]  # not a broadcast's
    async with any_db.transaction() as s:
        await s.execute(sa.insert(history), [
            {"client_id": acme_id, "author_id": author, "type_id": touch, "details": d,
             "occurred_at": NOW - timedelta(days=i), "created_at": NOW}
            for i, d in enumerate(details)])
    assert await _campaign_touches(any_db) == {spring: 5}

    await upgrade(any_db)
    async with any_db.transaction() as s:
        own = list(await s.scalars(select(Activity.campaign_id).where(Activity.type_id == touch)
                                   .order_by(Activity.occurred_at.desc())))
    assert own == [webinar, None, None, None, None]
    assert await _campaign_touches(any_db) == {spring: 4, webinar: 1}

    await downgrade(any_db, "0019")
    assert await _campaign_touches(any_db) == {spring: 5}
    await upgrade(any_db)
    assert await _campaign_touches(any_db) == {spring: 4, webinar: 1}


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
             ) -> bool:
    # Dialect-only search structures (SQLite FTS tables, PostgreSQL trigram indexes) live in
    # migrations only: the models stay the same on both databases.
    return not (name and (name.startswith("clients_fts") or name.endswith("_trgm")))


async def test_the_models_and_the_migrations_agree(any_db: Database) -> None:
    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _include}
        )
        return list(compare_metadata(context, Base.metadata))

    async with any_db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
