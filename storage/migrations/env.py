"""Alembic environment. Runs on a connection handed in by `storage.migrate`, or on its own
(async engine) when called by the `alembic` command line."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata
# The same default as the bot's settings (bot.config), which storage may not import.
DEFAULT_URL = "sqlite+aiosqlite:///salesbot.db"


def _url() -> str:
    """`storage.migrate` sets the URL; the `alembic` command line takes DATABASE_URL."""
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
        or DEFAULT_URL
    )


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url())
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        if config.config_file_name is not None:
            # Only the command line configures logging from alembic.ini; the bot has its own.
            fileConfig(config.config_file_name, disable_existing_loggers=False)
        asyncio.run(_run_async())
