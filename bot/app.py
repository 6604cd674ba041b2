"""`salesbot run`: migrate, build everything, poll."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.factory import (
    create_bot,
    create_dispatcher,
    create_storage,
    crm_config,
    set_default_commands,
)
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade

log = logging.getLogger("salesbot")


async def run(settings: Settings) -> None:
    db = Database(settings.database_url)
    await upgrade(db)
    crm = CRM(db, crm_config(settings))
    bot = create_bot(settings.bot_token, settings.telegram_api_url)
    dp = create_dispatcher(
        crm, default_locale=settings.default_locale, storage=create_storage(settings.redis_url)
    )
    try:
        me = await bot.get_me()
        log.info("salesbot started as @%s (database: %s)", me.username, db.dialect)
        await set_default_commands(bot, dp)
        await bot.delete_webhook(drop_pending_updates=False)
        await dp.start_polling(bot, handle_signals=True)
    finally:
        await bot.session.close()
        await db.dispose()
