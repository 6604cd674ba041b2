"""Quick transactions on SQLite run on the event loop, yet never make it wait for a lock."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database


async def _thread_of(s: AsyncSession) -> int:
    conn = await s.connection()
    raw = await conn.get_raw_connection()
    raw.driver_connection._conn.create_function(  # type: ignore[union-attr]
        "tid", 0, threading.get_ident)
    return int((await s.execute(text("SELECT tid()"))).scalar_one())


async def test_quick_statements_run_on_the_loop_and_others_on_the_driver_thread(
    db: Database,
) -> None:
    loop_thread = threading.get_ident()
    async with db.transaction(quick=True) as s:
        assert await _thread_of(s) == loop_thread
        with db.offloaded():
            assert (await s.execute(text("SELECT tid()"))).scalar_one() != loop_thread
    async with db.transaction() as s:
        assert await _thread_of(s) != loop_thread


async def test_a_quick_write_waits_for_another_writer_off_the_loop(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (v INTEGER)"))
    other = Database(db.url)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def quick_write() -> list[int]:
        async with db.transaction(quick=True) as s:
            await s.execute(text("INSERT INTO t VALUES (2)"))
            return [r[0] for r in await s.execute(text("SELECT v FROM t ORDER BY v"))]

    try:
        async with other.transaction() as held:  # holds the write lock
            await held.execute(text("INSERT INTO t VALUES (1)"))
            tick_task = asyncio.create_task(ticker())
            writer = asyncio.create_task(quick_write())
            await asyncio.sleep(0.3)
            assert not writer.done()  # it waits for the lock…
            assert ticks >= 5  # …and the loop goes on meanwhile
        # The other one committed: the quick write goes through and sees its row.
        assert await asyncio.wait_for(writer, 10) == [1, 2]
        done.set()
        await tick_task
        async with db.transaction(quick=True) as s:
            assert (await s.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2
    finally:
        await other.dispose()


async def test_quick_changes_nothing_on_a_failed_use_case(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (v INTEGER)"))
    try:
        async with db.transaction(quick=True) as s:
            await s.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with db.transaction(quick=True) as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
