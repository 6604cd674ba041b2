"""`salesbot run`: migrate, build everything, poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.config import Settings
from bot.factory import (
    create_bot,
    create_dispatcher,
    create_storage,
    crm_config,
    set_bot_profile,
    set_default_commands,
)
from crm.service import CRM
from scheduler.runner import RunnerConfig, SchedulerRunner
from storage.db import Database
from storage.migrate import upgrade

log = logging.getLogger("salesbot")


def runner_config(settings: Settings) -> RunnerConfig:
    return RunnerConfig(
        tick_seconds=settings.tick_seconds,
        rate_limit_global=settings.rate_limit_global,
        rate_limit_per_chat=settings.rate_limit_per_chat,
    )


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run(settings: Settings, *, polling: bool = True, scheduler: bool = True) -> None:
    """Polling and the scheduler in one process by default; either can run alone
    (`--no-scheduler` / `--scheduler-only`) so that they can scale out separately."""
    db = Database(settings.database_url)
    await upgrade(db)
    crm = CRM(db, crm_config(settings))
    bot = create_bot(settings.bot_token, settings.telegram_api_url)
    dp = create_dispatcher(
        crm, default_locale=settings.default_locale, storage=create_storage(settings.redis_url)
    )
    runner = SchedulerRunner(crm, bot, dp["i18n_core"], runner_config(settings)) \
        if scheduler else None
    try:
        me = await bot.get_me()
        log.info("salesbot started as @%s (database: %s)", me.username, db.dialect)
        if runner is not None:
            runner.start()
        if polling:
            await set_default_commands(bot, dp)
            await set_bot_profile(bot, dp)
            await bot.delete_webhook(drop_pending_updates=False)
            await dp.start_polling(bot, handle_signals=True)
        else:
            await _until_signalled()
    finally:
        if runner is not None:
            await runner.stop()
        await bot.session.close()
        await db.dispose()
