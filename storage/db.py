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

import asyncio
import contextlib
import contextvars
import json
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.base import Executable
from sqlalchemy.util.concurrency import await_

if TYPE_CHECKING:  # imported when PostgreSQL is used: a SQLite bot never loads it
    import asyncpg

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


# A read on the event loop waits this long at most (a checkpoint restarting the WAL).
READ_BUSY_MS = 200
# The page cache of Database.read's connection on the event loop on SQLite, in KiB (SQLite's
# default is 2 MiB; the four offloaded readers keep it). A screen's statements touch
# different tables — Today's agenda a few hundred client rows, its totals deals, invoices
# and payments — and with the default cache each evicted the other's pages: Today's two
# statements took 0.92 ms one after the other at 100k clients, 0.51 ms with this cache (each
# alone: 0.16 and 0.30 ms).
READ_CACHE_KIB = 16384
# Connections of Database.read's own pool on PostgreSQL, a process.
READ_POOL_SIZE = 8


class Reader:
    """See `Database.read`. Rows are plain tuples in the statement's column order."""

    async def all(self, stmt: Executable, **params: Any) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def first(self, stmt: Executable, **params: Any) -> tuple[Any, ...] | None:
        rows = await self.all(stmt, **params)
        return rows[0] if rows else None

    async def scalar(self, stmt: Executable, **params: Any) -> Any:
        row = await self.first(stmt, **params)
        return row[0] if row is not None else None

    async def gather(
        self, *reads: tuple[Executable, dict[str, Any]]
    ) -> list[list[tuple[Any, ...]]]:
        """Several reads that do not depend on each other, each answered as by `all`. On
        PostgreSQL they go out at once, on connections of the read pool: one round trip's
        wait for all of them. Elsewhere one after the other (a statement there is no
        round trip)."""
        return [await self.all(stmt, **params) for stmt, params in reads]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    defaults: dict[str, Any]
    binds: tuple[Callable[[Any], Any] | None, ...]
    results: tuple[Callable[[Any], Any] | None, ...]


class _Statements:
    """Statements compiled once for a dialect, with what binds and reads their values."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.compiled: weakref.WeakKeyDictionary[Executable, _Compiled] = (
            weakref.WeakKeyDictionary())
        self.count = 0  # statements run so far (the benches count SQL statements an update)

    def compile(self, stmt: Executable) -> _Compiled:
        self.count += 1
        done = self.compiled.get(stmt)
        if done is None:
            c: Any = stmt.compile(dialect=self.dialect)  # type: ignore[attr-defined]
            if "POSTCOMPILE" in c.string:
                raise ValueError("Database.read takes no expanding IN parameters")
            names = tuple(c.positiontup or ())
            done = _Compiled(
                c.string, names,
                {n: b.effective_value for b, n in c.bind_names.items() if not b.required},
                tuple(c._bind_processors.get(n) for n in names),
                tuple(col.type._cached_result_processor(self.dialect, None)
                      for col in c._result_columns))
            self.compiled[stmt] = done
        return done

    def values(self, c: _Compiled, params: dict[str, Any]) -> list[Any]:
        values = []
        for name, bind in zip(c.names, c.binds, strict=True):
            value = params[name] if name in params else c.defaults[name]  # KeyError: required
            values.append(bind(value) if bind is not None and value is not None else value)
        return values

    @staticmethod
    def rows(c: _Compiled, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        procs = c.results
        if not any(procs):
            return [tuple(row) for row in rows]
        return [tuple(p(v) if p is not None else v for p, v in zip(procs, row, strict=True))
                for row in rows]


class _SqliteReader(Reader):
    def __init__(self, conn: sqlite3.Connection, statements: _Statements) -> None:
        self.conn = conn
        self.statements = statements

    async def all(self, stmt: Executable, **params: Any) -> list[tuple[Any, ...]]:
        st = self.statements
        c = st.compile(stmt)
        return st.rows(c, self.conn.execute(c.sql, st.values(c, params)).fetchall())


# Threads answering offloaded reads on SQLite, each on a connection of its own (WAL: readers
# run side by side, and sqlite3 lets go of the GIL while a statement runs).
OFFLOADED_READ_THREADS = 4


class _OffloadedSqliteReader(Reader):
    """`Database.read(offloaded=True)` on SQLite: compiled once and bound on the loop as on
    `_SqliteReader`, then each statement is run and fetched on a pool thread in one hand-off
    (a session's statement on aiosqlite takes four or five, and a transaction two more)."""

    def __init__(self, database: str, statements: _Statements) -> None:
        self.database = database
        self.statements = statements
        self.pool = ThreadPoolExecutor(OFFLOADED_READ_THREADS, thread_name_prefix="sqlite-read")
        self.local = threading.local()
        self.conns: list[sqlite3.Connection] = []
        self.lock = threading.Lock()

    def _run(self, sql: str, values: list[Any]) -> list[Any]:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.database, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self.local.conn = conn
            with self.lock:
                self.conns.append(conn)
        return conn.execute(sql, values).fetchall()

    async def all(self, stmt: Executable, **params: Any) -> list[tuple[Any, ...]]:
        st = self.statements
        c = st.compile(stmt)
        rows = await asyncio.get_running_loop().run_in_executor(
            self.pool, self._run, c.sql, st.values(c, params))
        return st.rows(c, rows)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for conn in self.conns:
            conn.close()
        self.conns.clear()


class _PgReader(Reader):
    """asyncpg straight, on a pool of its own, autocommit: one round trip a statement (a
    session adds a ping, BEGIN and ROLLBACK around them). A connection found closed (the
    server restarted) is replaced and the read run again: reads are safe to repeat."""

    def __init__(self, pool: asyncpg.Pool, statements: _Statements) -> None:
        self.pool = pool
        self.statements = statements
        self.conn: asyncpg.Connection | None = None

    async def all(self, stmt: Executable, **params: Any) -> list[tuple[Any, ...]]:
        st = self.statements
        c = st.compile(stmt)
        values = st.values(c, params)
        if self.conn is None:
            self.conn = await self.pool.acquire()
        import asyncpg

        try:
            rows = await self.conn.fetch(c.sql, *values)
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                asyncpg.InternalClientError, OSError):
            # The connection is gone or broken (a terminated backend can leave the protocol
            # mid-state; the pool may have taken it back already). The server went away,
            # so every pooled connection is suspect: all are replaced as they are next
            # taken, and the read runs once more on a fresh one.
            broken, self.conn = self.conn, None
            with contextlib.suppress(Exception):
                broken.terminate()
            with contextlib.suppress(Exception):
                await self.pool.release(broken)
            await self.pool.expire_connections()
            self.conn = await self.pool.acquire()
            rows = await self.conn.fetch(c.sql, *values)
        return st.rows(c, rows)

    async def gather(
        self, *reads: tuple[Executable, dict[str, Any]]
    ) -> list[list[tuple[Any, ...]]]:
        if len(reads) < 2:
            return await super().gather(*reads)
        import asyncpg

        st = self.statements
        compiled = [st.compile(stmt) for stmt, _ in reads]
        # Each read takes a pool connection and gives it back, holding no other: a reader
        # never waits for a connection while it holds one (no deadlock when the pool runs
        # dry; the reads then queue). Its own connection goes back first.
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await self.pool.release(conn)

        async def pooled(c: _Compiled, values: list[Any]) -> list[Any]:
            async with self.pool.acquire() as conn:
                return list(await conn.fetch(c.sql, *values))

        tasks = [asyncio.ensure_future(pooled(c, st.values(c, params)))
                 for c, (_, params) in zip(compiled, reads, strict=True)]
        try:
            results = await asyncio.gather(*tasks)
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                asyncpg.InternalClientError, OSError):
            # A connection the server dropped: one by one, each with `all`'s recovery.
            await _cancelled(tasks)
            return await super().gather(*reads)
        except BaseException:
            await _cancelled(tasks)
            raise
        return [st.rows(c, rows) for c, rows in zip(compiled, results, strict=True)]


async def _cancelled(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def _sqlite_read(db: Database) -> AsyncIterator[Reader]:
    yield db._sqlite_reader()


@asynccontextmanager
async def _sqlite_offloaded_read(db: Database) -> AsyncIterator[Reader]:
    yield db._sqlite_offloaded_reader()


async def _no_reset(conn: asyncpg.Connection) -> None:
    """A read connection goes back to the pool as it is: its reads change no session state
    (no SET, LISTEN, cursor or lock; autocommit, and asyncpg still rolls back a transaction
    left open), so the reset query asyncpg sends by default (a round trip at every release,
    the price of a second statement) has nothing to undo."""


async def _pg_json_codecs(conn: asyncpg.Connection) -> None:
    """JSON columns come back decoded, as through the engine (whose asyncpg dialect sets
    the same codecs on its connections; the column type then leaves the value alone)."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def _pg_read(db: Database) -> AsyncIterator[Reader]:
    pool = await db._pg_pool()
    reader = _PgReader(pool, db._statements)
    try:
        yield reader
    finally:
        if reader.conn is not None:
            await pool.release(reader.conn)


@asynccontextmanager
async def _pooled_read(db: Database) -> AsyncIterator[Reader]:
    async with db.engine.connect() as conn:
        yield _PooledReader(conn)


class _PooledReader(Reader):
    """Any other database: a pooled connection of the engine."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def all(self, stmt: Executable, **params: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.conn.execute(stmt, params)]


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader: _SqliteReader | None = None
        self._offloaded_reader: _OffloadedSqliteReader | None = None
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._statements = _Statements(self.engine.dialect)

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

    def read(self, *, offloaded: bool = False) -> AbstractAsyncContextManager[Reader]:
        """Display-only reads on the hot paths (a card, a history page, Today, identifying
        the actor): Core statements with named `bindparam`s, answered as plain tuples.

        On SQLite each statement runs on the event loop on a connection of its own, in
        autocommit (WAL: it sees every committed write, and takes no lock), with the
        statement compiled once: about a tenth of what a statement costs through a session.
        It never sees a transaction's uncommitted writes — use it for what is shown, never
        for what is then written. On PostgreSQL (asyncpg) the statements go straight to the
        driver, compiled once, on a small pool of autocommit connections of its own: one
        round trip each, where a session adds a ping, a BEGIN and a ROLLBACK.

        `offloaded`: display reads of unbounded cost (a full-text or trigram scan: searches).
        On SQLite each statement then runs on a pool thread, never on the event loop, in one
        hand-off, on a read connection of that thread's own; on PostgreSQL it changes nothing
        (the work is the server's). Each statement sees what was committed when it started."""
        if self.dialect == "sqlite":
            return _sqlite_offloaded_read(self) if offloaded else _sqlite_read(self)
        if self.engine.dialect.driver == "asyncpg":
            return _pg_read(self)
        return _pooled_read(self)

    async def _pg_pool(self) -> asyncpg.Pool:
        import asyncpg

        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    url = make_url(self.url).set(drivername="postgresql")
                    self._pool = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False), min_size=0,
                        max_size=READ_POOL_SIZE, server_settings={"jit": "off"},
                        init=_pg_json_codecs, reset=_no_reset)
        return self._pool

    def _sqlite_reader(self) -> _SqliteReader:
        if self._reader is None:
            database = make_url(self.url).database or ""
            conn = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={READ_BUSY_MS}")
            conn.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
            self._reader = _SqliteReader(conn, self._statements)
        return self._reader

    def _sqlite_offloaded_reader(self) -> _OffloadedSqliteReader:
        if self._offloaded_reader is None:
            self._offloaded_reader = _OffloadedSqliteReader(
                make_url(self.url).database or "", self._statements)
        return self._offloaded_reader

    @property
    def read_statements(self) -> int:
        """Statements Database.read ran so far, outside the engine's events."""
        return self._statements.count

    async def dispose(self) -> None:
        if self._offloaded_reader is not None:
            self._offloaded_reader.close()
            self._offloaded_reader = None
        if self._reader is not None:
            self._reader.conn.close()
            self._reader = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self.engine.dispose()
