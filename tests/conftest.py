"""Shared fixtures: a migrated database (SQLite always, PostgreSQL when TEST_DATABASE_URL
is set), the CRM services on a frozen clock, and the production dispatcher."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

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
    await db.dispose()


async def migrated_db(url: str) -> Database:
    if url.startswith("postgresql"):
        await reset_postgres(url)
    db = Database(url)
    await upgrade(db)
    return db


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
