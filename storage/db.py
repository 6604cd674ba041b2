"""Engine and session factory. Each use case runs in `Database.transaction()`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    # A failing statement is logged without its values: they are clients' data.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if is_sqlite(url):
        kwargs["connect_args"] = {"timeout": 30}
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
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The driver must not emit BEGIN itself: _sqlite_begin does, at the transaction's start.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the scheduler read while a handler writes; busy_timeout waits out the writer.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
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
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
