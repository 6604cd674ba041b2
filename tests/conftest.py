"""Shared fixtures: a migrated database (SQLite always, PostgreSQL when TEST_DATABASE_URL
is set), the CRM services on a frozen clock, and the production dispatcher."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from bot.factory import create_dispatcher
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade
from tests.harness import Harness, make_bot
from tests.smtp import Inbox, smtp_server

ADMIN_TG = 1001
PG_URL = os.environ.get("TEST_DATABASE_URL")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Moscow


async def reset_postgres(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SEED} CASCADE"))
    await db.dispose()


# A migrated database per test, without running the migrations per test: SQLite copies a
# file migrated once per process; PostgreSQL empties the tables of a schema migrated once
# and puts back what the migrations seeded (kept in a schema of its own). Either equals a
# fresh `upgrade` — a test that leaves the schema elsewhere (a downgrade) gets a real one.
_SQLITE_TEMPLATE: list[Path] = []
PG_SEED = "zz_test_seed"


async def _sqlite_template() -> Path:
    if not _SQLITE_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="salesbot-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "migrated.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db)
        await db.dispose()
        _SQLITE_TEMPLATE.append(path)
    return _SQLITE_TEMPLATE[0]


@functools.cache
def _head() -> str:
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


_PG_RESET: dict[str, str] = {}  # url → the script that empties and re-seeds it


async def _pg_reset_fast(db: Database) -> bool:
    """Empty every table and restore the seeded rows when the schema is the one this
    process migrated (the head revision, the same tables); False otherwise."""
    script = _PG_RESET.get(db.url)
    if script is None:
        return False
    async with db.engine.begin() as conn:
        public, kept = (await conn.execute(text(
            "SELECT array(SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "ORDER BY 1), array(SELECT tablename FROM pg_tables WHERE schemaname = :s "
            "ORDER BY 1)"), {"s": PG_SEED})).one()
        if public != kept or "alembic_version" not in public:
            return False
        if await conn.scalar(text("SELECT version_num FROM alembic_version")) != _head():
            return False
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute(script)  # type: ignore[union-attr]
    return True


async def _pg_keep_seed(db: Database) -> None:
    """Copy what the migrations seeded into a schema of its own; remember the script that
    puts a used database back to it (one round trip: truncate, re-insert, sequences)."""
    async with db.engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SEED} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {PG_SEED}"))
        tables = (await conn.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))).all()
        seeded = []
        for t in tables:
            await conn.execute(text(
                f'CREATE TABLE {PG_SEED}."{t}" AS SELECT * FROM public."{t}"'))
            if await conn.scalar(text(f'SELECT count(*) FROM {PG_SEED}."{t}"')):
                seeded.append(t)
        sequences = (await conn.execute(text(
            "SELECT s.relname, t.relname, a.attname FROM pg_class s "
            "JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "JOIN pg_namespace n ON n.oid = s.relnamespace "
            "WHERE s.relkind = 'S' AND n.nspname = 'public'"))).all()
    # DELETE, not TRUNCATE: a few rows go much faster than new files for 30-odd tables.
    # The copies hold what the triggers made too, so none fires and no key is re-checked.
    lines = ["BEGIN", "SET LOCAL session_replication_role = replica"]
    lines += [f'DELETE FROM public."{t}"' for t in tables]
    lines += [f'INSERT INTO public."{t}" SELECT * FROM {PG_SEED}."{t}"' for t in seeded]
    lines += [f"""SELECT setval('public."{seq}"', max("{col}")) FROM public."{t}" """
              f'HAVING max("{col}") IS NOT NULL' if t in seeded else
              f"""SELECT setval('public."{seq}"', 1, false)"""
              for seq, t, col in sequences]
    lines.append("COMMIT")
    _PG_RESET[db.url] = ";\n".join(lines)


async def migrated_db(url: str) -> Database:
    if url.startswith("postgresql"):
        db = Database(url)
        if not await _pg_reset_fast(db):
            await db.dispose()
            await reset_postgres(url)
            db = Database(url)
            await upgrade(db)
            await _pg_keep_seed(db)
        return db
    path = Path(make_url(url).database or "")
    template = await _sqlite_template()
    shutil.copyfile(template, path)
    return Database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Storage and domain tests run on both backends."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests need a server")
        url = PG_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    db = await migrated_db(url)
    yield db
    await db.dispose()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await migrated_db(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def config() -> CRMConfig:
    return CRMConfig(admin_ids=frozenset({ADMIN_TG}))


@pytest.fixture
def crm(db: Database, clock: FrozenClock, config: CRMConfig) -> CRM:
    return CRM(db, config, clock)


@pytest.fixture
def any_crm(any_db: Database, clock: FrozenClock, config: CRMConfig) -> CRM:
    return CRM(any_db, config, clock)


@pytest.fixture
async def harness(crm: CRM) -> AsyncIterator[Harness]:
    bot, session = make_bot()
    dp = create_dispatcher(crm, default_locale="ru")
    yield Harness(dp=dp, bot=bot, session=session)
    await bot.session.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free port: (what it received, its port)."""
    with smtp_server() as found:
        yield found
