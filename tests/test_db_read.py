"""Database.read: display reads answer what was committed, with the same values a session
gives (time zones included), on both databases."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, func, select

from storage.db import Database
from storage.models import Client, User
from tests.conftest import PG_URL, migrated_db

T = User.__table__
BY_TG = select(T.c.id, T.c.name, T.c.created_at, T.c.is_active).where(
    T.c.tg_id == bindparam("tg")).order_by(T.c.id)
ACTIVE_BY_TG = select(T.c.name).where(T.c.tg_id == bindparam("tg"), T.c.is_active.is_(True))


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    """A migrated PostgreSQL database, with Vera (tg 9) in it."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests need a server")
    db = await migrated_db(PG_URL)
    try:
        async with db.transaction() as s:
            s.add(person(9, "Вера"))
        yield db
    finally:
        await db.dispose()


def person(tg: int, name: str, *, active: bool = True) -> User:
    return User(tg_id=tg, name=name, role="manager", timezone="Europe/Moscow", locale="ru",
                work_start_min=540, work_end_min=1080, work_days="12345", is_active=active,
                created_at=datetime(2026, 11, 30, 21, 15, 7, tzinfo=UTC))


async def test_a_read_sees_what_is_committed_as_a_session_does(any_db: Database) -> None:
    async with any_db.read() as r:
        assert await r.all(BY_TG, tg=7) == []
        assert await r.first(BY_TG, tg=7) is None
    async with any_db.transaction() as s:
        s.add_all([person(7, "Анна"), person(8, "Борис", active=False)])
    async with any_db.read() as r:
        rows = await r.all(BY_TG, tg=7)
        assert await r.scalar(ACTIVE_BY_TG, tg=8) is None  # the literal True is bound too
        assert await r.scalar(ACTIVE_BY_TG, tg=7) == "Анна"
    async with any_db.transaction() as s:
        expected = [tuple(row) for row in await s.execute(BY_TG, {"tg": 7})]
    assert rows == expected
    assert rows[0][2] == datetime(2026, 11, 30, 21, 15, 7, tzinfo=UTC)
    assert rows[0][2].tzinfo is not None
    # A write committed after the first read is seen by the next one.
    async with any_db.transaction() as s:
        (await s.execute(select(User).where(User.tg_id == 7))).scalar_one().name = "Анна К."
    async with any_db.read() as r:
        assert await r.scalar(ACTIVE_BY_TG, tg=7) == "Анна К."


async def test_a_missing_parameter_is_an_error_not_a_null(db: Database) -> None:
    async with db.read() as r:
        with pytest.raises(KeyError):
            await r.all(BY_TG)


async def test_expanding_in_lists_are_refused_on_sqlite(db: Database) -> None:
    stmt = select(Client.__table__.c.id).where(
        Client.__table__.c.id.in_(bindparam("ids", expanding=True)))
    async with db.read() as r:
        with pytest.raises(ValueError, match="expanding"):
            await r.all(stmt, ids=[1, 2])


async def test_a_read_outlives_a_dropped_postgresql_connection(pg_db: Database) -> None:
    """The server closed the read pool's connection (a restart, an idle timeout): the next
    read gets a new one and answers, instead of "Something went wrong"."""
    async with pg_db.read() as r:
        assert await r.scalar(ACTIVE_BY_TG, tg=9) == "Вера"
        pid = await r.scalar(select(func.pg_backend_pid()))
    async with pg_db.engine.begin() as conn:
        await conn.execute(select(func.pg_terminate_backend(pid)))
    async with pg_db.read() as r:
        assert await r.scalar(ACTIVE_BY_TG, tg=9) == "Вера"
        assert await r.scalar(select(func.pg_backend_pid())) != pid


async def test_an_offloaded_read_runs_off_the_loop_and_answers_the_same(any_db: Database) -> None:
    async with any_db.transaction() as s:
        s.add_all([person(7, "Анна"), person(8, "Борис", active=False)])
    async with any_db.read() as r:
        expected = await r.all(BY_TG, tg=7)
    async with any_db.read(offloaded=True) as r:
        assert await r.all(BY_TG, tg=7) == expected
        assert await r.scalar(ACTIVE_BY_TG, tg=8) is None
        assert await r.first(BY_TG, tg=9) is None


async def test_an_offloaded_read_on_sqlite_never_runs_on_the_loop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = db._sqlite_offloaded_reader()
    threads: list[int] = []
    run = reader._run

    def spy(sql: str, values: list[Any]) -> list[Any]:
        threads.append(threading.get_ident())
        return run(sql, values)

    monkeypatch.setattr(reader, "_run", spy)
    async with db.read(offloaded=True) as r:
        assert await r.all(BY_TG, tg=7) == []
    assert threads and threading.get_ident() not in threads


async def test_gathered_reads_answer_as_one_by_one_and_never_starve_the_pool(
        any_db: Database) -> None:
    """`gather` answers each read as `all` does, in order; on PostgreSQL it goes out at
    once on the read pool's connections — many readers gathering more reads than the pool
    has connections all finish (none waits for a connection while holding one)."""
    async with any_db.transaction() as s:
        s.add_all([person(7, "Анна"), person(8, "Борис", active=False), person(9, "Вера")])
    reads = [(BY_TG, {"tg": tg}) for tg in (7, 8, 9, 10)] + [(ACTIVE_BY_TG, {"tg": 8})]
    async with any_db.read() as r:
        expected = [await r.all(stmt, **params) for stmt, params in reads]
        assert await r.gather(*reads) == expected
        assert await r.scalar(ACTIVE_BY_TG, tg=7) == "Анна"  # the reader goes on after it
    assert [row[0][1] for row in expected[:3]] == ["Анна", "Борис", "Вера"]

    async def reader() -> list[list[tuple[Any, ...]]]:
        async with any_db.read() as r:
            await r.all(BY_TG, tg=7)  # holds a connection before it gathers
            return await r.gather(*reads)

    results = await asyncio.wait_for(asyncio.gather(*(reader() for _ in range(40))), 30)
    assert all(got == expected for got in results)


async def test_gathered_reads_outlive_a_dropped_postgresql_connection(pg_db: Database) -> None:
    async with pg_db.read() as r:
        pids = [row[0][0] for row in await r.gather(
            *[(select(func.pg_backend_pid()), {})] * 3)]
    async with pg_db.engine.begin() as conn:
        for pid in set(pids):
            await conn.execute(select(func.pg_terminate_backend(pid)))
    async with pg_db.read() as r:
        got = await r.gather((ACTIVE_BY_TG, {"tg": 9}), (ACTIVE_BY_TG, {"tg": 9}))
    assert got == [[("Вера",)], [("Вера",)]]
