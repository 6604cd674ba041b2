"""Engine and session factory. Each use case runs in `Database.transaction()`.

On SQLite the driver (aiosqlite) runs every call on a thread of its own and hands the
result back to the event loop: four or five hand-offs a statement (cursor, execute, fetch,
close), each costing more than an indexed lookup itself. A use case made of a few indexed
lookups — identifying the actor, a card, a history page, Today, logging a call — opens its
transaction with `quick=True`, and then its statements run on the event loop, directly on
the sqlite3 connection (`_InlineConnection`). Everything else — reports, digests, the typo
pass, searches whose cost grows with the matches, bulk work, backups — keeps the default
and runs off the loop, so nothing CPU-heavy blocks other users; inside a quick transaction
`Database.offloaded()` sends a heavy statement back to the thread.

A quick transaction never waits on the event loop: its `BEGIN IMMEDIATE` is tried with no
busy timeout, and only when another connection holds the write lock is it retried on the
thread with the usual wait; its `COMMIT`, if it wrote anything (a commit may checkpoint
the WAL and sync the file), runs on the thread too. Reads in WAL mode and statements under
a held write lock do not wait for locks. On PostgreSQL `quick` changes nothing.
"""

from __future__ import annotations

import contextvars
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import await_

BUSY_TIMEOUT_MS = 10000

# True while a quick use case runs: its SQLite calls are made on the event loop.
_INLINE: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_inline", default=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, except that while `_INLINE` is set its calls run at once on
    the caller's thread (the event loop) instead of being queued to the connection's thread.
    Calls never overlap: SQLAlchemy awaits each before making the next."""

    busy_ms = BUSY_TIMEOUT_MS
    changes_at_begin = 0

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if _INLINE.get() and self._connection is not None and self._running:
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    async def offloaded(self, fn: Any, *args: Any) -> Any:
        """Run on the connection's thread whatever the mode."""
        return await super()._execute(fn, *args)  # type: ignore[no-untyped-call]

    async def commit(self) -> None:
        if _INLINE.get() and self._conn.total_changes != self.changes_at_begin:
            await self.offloaded(self._conn.commit)
        else:
            await super().commit()

    def set_busy(self, ms: int) -> None:
        # A pragma that takes no lock: fine on any thread while no call is running.
        if self.busy_ms != ms:
            self._conn.execute(f"PRAGMA busy_timeout={ms}")
            self.busy_ms = ms


def _sqlite_creator(url: str) -> Any:
    database = make_url(url).database or ":memory:"

    async def connect() -> _InlineConnection:
        def connector() -> sqlite3.Connection:
            # Made on the connection's thread, used on the loop's too (never at once).
            return sqlite3.connect(database, timeout=30, check_same_thread=False)

        conn = _InlineConnection(connector, 64)
        conn._thread.daemon = True
        await conn
        return conn

    return connect


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    # A failing statement is logged without its values: they are clients' data.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if is_sqlite(url):
        kwargs["async_creator"] = _sqlite_creator(url)
    else:
        kwargs["pool_pre_ping"] = True
        if "+asyncpg" in url:
            # No JIT: the reports' grouped queries are estimated dear enough to be compiled,
            # and compiling costs about a second — longer than running them (bench/reports).
            kwargs["connect_args"] = {"server_settings": {"jit": "off"}}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Any) -> None:
    """Every transaction takes SQLite's write lock at its start. The driver would otherwise
    run a use case's reads outside any transaction and begin one only at its first write,
    so two payments of one invoice could both read "1,000 due" and both be recorded
    (`SELECT … FOR UPDATE` means nothing on SQLite). SQLite has one writer at a time anyway;
    WAL still lets readers of other connections (the scheduler, backups) go on."""
    adapted = conn.connection.dbapi_connection
    aconn = getattr(adapted, "_connection", None)
    if not isinstance(aconn, _InlineConnection):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    raw = aconn._conn
    if _INLINE.get():
        aconn.set_busy(0)
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            # Another connection is writing: wait for it off the loop.
            aconn.set_busy(BUSY_TIMEOUT_MS)
            await_(aconn.offloaded(raw.execute, "BEGIN IMMEDIATE"))
    else:
        aconn.set_busy(BUSY_TIMEOUT_MS)
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    aconn.changes_at_begin = raw.total_changes


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The driver must not emit BEGIN itself: _sqlite_begin does, at the transaction's start.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the scheduler read while a handler writes; busy_timeout waits out the writer.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, *, quick: bool = False) -> AsyncIterator[AsyncSession]:
        """`quick`: a few indexed lookups; on SQLite they run on the event loop (see the
        module's docstring)."""
        token = _INLINE.set(True) if quick and self.dialect == "sqlite" else None
        try:
            async with self.sessions() as session, session.begin():
                yield session
        finally:
            if token is not None:
                _INLINE.reset(token)

    @staticmethod
    @contextmanager
    def offloaded() -> Iterator[None]:
        """Inside a quick transaction: statements of unbounded cost go to the thread."""
        token = _INLINE.set(False)
        try:
            yield
        finally:
            _INLINE.reset(token)

    async def dispose(self) -> None:
        await self.engine.dispose()
