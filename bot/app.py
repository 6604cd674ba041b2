"""`salesbot run`: migrate, build everything, poll."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.exceptions import AiogramError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.types import User
from aiohttp import web

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
from web.miniapp import MiniAppConfig
from web.server import create_web_app

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


async def _until_signalled(*, parent: int | None = None) -> None:
    """Until SIGTERM/SIGINT — or, for a worker of `--workers N`, until its parent is gone
    (killed with -9, it could not stop them): an orphaned worker would hold the port."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    while parent is not None and os.getppid() == parent:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        if stop.is_set():
            return
    if parent is not None:
        log.warning("the parent process is gone: stopping")
        return
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


async def set_webhook(bot: Bot, dp: Dispatcher, settings: Settings) -> None:
    url, secret = settings.webhook()
    await bot.set_webhook(url, secret_token=secret,
                          allowed_updates=dp.resolve_used_update_types(),
                          drop_pending_updates=False)
    log.info("webhook set to %s", url)


async def prepare_workers(settings: Settings) -> None:
    """What `--workers N` does once, before the workers start: migrate, check the token,
    register the commands and the webhook."""
    db = Database(settings.database_url)
    bot = create_bot(settings.token(), settings.telegram_api_url)
    try:
        await upgrade(db)
        dp = create_dispatcher(CRM(db, crm_config(settings)),
                               default_locale=settings.default_locale)
        await _whoami(bot, settings.telegram_api_url or TELEGRAM_API)
        await set_default_commands(bot, dp)
        await set_webhook(bot, dp, settings)
    finally:
        await bot.session.close()
        await db.dispose()


def miniapp_config(settings: Settings, me: User) -> MiniAppConfig | None:
    """The dashboard's settings, when PUBLIC_URL is set."""
    if not settings.public_url:
        return None
    return MiniAppConfig(settings.token(), me.username or "", settings.webapp_auth_max_age,
                         settings.default_locale)


async def _start_web(app: web.Application, settings: Settings) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    except OSError as err:
        await runner.cleanup()
        raise StartupError(f"cannot listen on {settings.web_host}:{settings.web_port} "
                           f"(WEB_HOST, WEB_PORT): {err.strerror}") from None
    log.info("web server (dashboard) listening on %s:%s", settings.web_host, settings.web_port)
    return runner


async def _serve(app: web.Application, settings: Settings, *, worker: bool) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        # SO_REUSEPORT: several workers listen on one port; the kernel spreads connections.
        site = web.TCPSite(runner, settings.web_host, settings.web_port, reuse_port=True)
        try:
            await site.start()
        except OSError as err:
            raise StartupError(f"cannot listen on {settings.web_host}:{settings.web_port} "
                               f"(WEB_HOST, WEB_PORT): {err.strerror}") from None
        log.info("web server listening on %s:%s (pid %s)", settings.web_host,
                 settings.web_port, os.getpid())
        await _until_signalled(parent=os.getppid() if worker else None)
    finally:
        await runner.cleanup()


# Allocations between two collections of the youngest generation (Python's default: 700).
GC_YOUNG = 20_000


def settle_gc() -> None:
    """Called once the bot is set up. The objects of the imports and of the set-up — some
    hundreds of thousands: aiogram's and pydantic's types, SQLAlchemy's mappers, the
    catalogs — are moved out of the collector's sight (`gc.freeze`), so its older
    generations stop walking them again and again, and the young one is collected less
    often. Refcounting frees nearly everything an update makes; the collector only finds
    cycles. A card tap at 10k clients: 2.2 → 1.5 ms (bench/scale.py settles the same way)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, 20, 20)


async def run(
    settings: Settings, *, polling: bool = True, scheduler: bool = True,
    webhook: bool = False, worker: bool = False,
) -> None:
    """Polling and the scheduler in one process by default; either can run alone
    (`--no-scheduler` / `--scheduler-only`) so that they can scale out separately.
    `webhook`: updates come to the web server instead of polling; `worker`: one of
    `--workers N`, whose parent has migrated and set the webhook already."""
    db = Database(settings.database_url)
    if not worker:
        await upgrade(db)
    crm = CRM(db, crm_config(settings))
    bot = create_bot(settings.token(), settings.telegram_api_url)
    dp = create_dispatcher(
        crm, default_locale=settings.default_locale, storage=create_storage(settings.redis_url),
        dashboard_url=settings.dashboard_url(),
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
        settle_gc()
        if webhook and polling:
            url, secret = settings.webhook()
            if not worker:
                await set_default_commands(bot, dp)
                await set_webhook(bot, dp, settings)
            app = create_web_app(crm, redis_url=settings.redis_url, dp=dp, bot=bot,
                                 webhook_path=urlsplit(url).path or "/", secret=secret,
                                 miniapp=miniapp_config(settings, me),
                                 mail_unsubscribe=bool(settings.public_url))
            await _serve(app, settings, worker=worker)
        elif polling:
            await set_default_commands(bot, dp)
            await set_bot_profile(bot, dp)
            await bot.delete_webhook(drop_pending_updates=False)
            # With PUBLIC_URL the Mini App needs the web server in polling mode too.
            web_runner = await _start_web(create_web_app(
                crm, redis_url=settings.redis_url, dp=dp,
                miniapp=miniapp_config(settings, me), mail_unsubscribe=True), settings) \
                if settings.public_url else None
            try:
                await dp.start_polling(bot, handle_signals=True)
            finally:
                if web_runner is not None:
                    await web_runner.cleanup()
        else:
            await _until_signalled()
    finally:
        if runner is not None:
            await runner.stop()
        if sched_bot is not None:
            await sched_bot.session.close()
        await bot.session.close()
        await db.dispose()
