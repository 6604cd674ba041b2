"""Apply Alembic migrations from code (`salesbot migrate`, and `salesbot run` on start)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.db import Database

if TYPE_CHECKING:  # Alembic is loaded by what migrates, not by the bot (see upgrade_apart)
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config(db.url)

    def _upgrade(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def downgrade(db: Database, revision: str) -> None:
    """Undo migrations down to `revision` ("base": an empty database)."""
    from alembic import command

    cfg = alembic_config(db.url)

    def _downgrade(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(_downgrade)


async def current_tables(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: inspect(c).get_table_names())


class MigrationFailed(Exception):
    """The migration process failed; the message is its last line of error output."""


URL_VARIABLE = "SALESBOT_MIGRATE_URL"


async def upgrade_apart(url: str) -> None:
    """`upgrade` in a process of its own (`python -m storage.migrate`): Alembic, Mako and the
    migrations' modules — some 7 MB — never stay in the long-running bot's memory. The URL
    goes through the environment, not the command line others can read."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "storage.migrate",
        env={**os.environ, URL_VARIABLE: url},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        raise MigrationFailed(lines[-1] if lines else f"exit code {proc.returncode}")


async def _main() -> None:
    db = Database(os.environ[URL_VARIABLE])
    try:
        await upgrade(db)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
