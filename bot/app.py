"""`salesbot run`: migrate, build everything, poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiogram import Bot
from aiogram.exceptions import AiogramError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.types import User

from bot.config import Settings
from bot.factory import (
    create_bot,
    create_dispatcher,
    create_storage,
    crm_config,
    set_default_commands,
)
from crm.service import CRM
from scheduler.runner import RunnerConfig, SchedulerRunner
from storage.db import Database
from storage.migrate import upgrade

log = logging.getLogger("salesbot")

TELEGRAM_API = "https://api.telegram.org"


class StartupError(Exception):
    """Start-up cannot go on (Telegram unreachable, the token refused); the message says
    why in one line."""


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


async def _whoami(bot: Bot, api_url: str) -> User:
    """getMe, with a failure told in one line: it is a setting or the network, not a bug."""
    try:
        return await bot.get_me()
    except TelegramUnauthorizedError:
        raise StartupError(
            f"Telegram ({api_url}) rejected BOT_TOKEN (401 Unauthorized): "
            "check the token from @BotFather"
        ) from None
    except TelegramNetworkError as err:
        raise StartupError(f"cannot reach Telegram at {api_url} "
                           f"(check TELEGRAM_API_URL and the network): {err.message}") from None
    except AiogramError as err:
        raise StartupError(f"Telegram at {api_url} did not answer getMe: {err}") from None


async def run(settings: Settings, *, polling: bool = True, scheduler: bool = True) -> None:
    """Polling and the scheduler in one process by default; either can run alone
    (`--no-scheduler` / `--scheduler-only`) so that they can scale out separately."""
    db = Database(settings.database_url)
    await upgrade(db)
    crm = CRM(db, crm_config(settings))
    bot = create_bot(settings.token(), settings.telegram_api_url)
    dp = create_dispatcher(
        crm, default_locale=settings.default_locale, storage=create_storage(settings.redis_url)
    )
    # The sender handles 429 and 5xx itself (a 429 pauses every sender): no session retry.
    sched_bot = create_bot(settings.token(), settings.telegram_api_url, retry=False) \
        if scheduler else None
    runner = SchedulerRunner(crm, sched_bot, dp["i18n_core"], runner_config(settings)) \
        if sched_bot is not None else None
    try:
        me = await _whoami(bot, settings.telegram_api_url or TELEGRAM_API)
        log.info("salesbot started as @%s (database: %s)", me.username, db.dialect)
        if runner is not None:
            runner.start()
        if polling:
            await set_default_commands(bot, dp)
            await bot.delete_webhook(drop_pending_updates=False)
            await dp.start_polling(bot, handle_signals=True)
        else:
            await _until_signalled()
    finally:
        if runner is not None:
            await runner.stop()
        if sched_bot is not None:
            await sched_bot.session.close()
        await bot.session.close()
        await db.dispose()
