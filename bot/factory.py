"""The composition root: one place that builds the Bot and the Dispatcher."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatType, ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import BotCommandScopeDefault, Message
from aiogram.utils.i18n import gettext as _

from bot import forms, routing
from bot.config import Settings
from bot.filters import menu_texts
from bot.handlers import (
    channel,
    classifiers,
    clients,
    common,
    corrections,
    deals,
    documents,
    imports,
    leads,
    lists,
    log,
    mailings,
    my_clients,
    new_client,
    people,
    reports,
    start,
    stranger,
    visits,
)
from bot.handlers import client_admin as client_admin_handlers
from bot.handlers import reminders as reminder_handlers
from bot.handlers import settings as settings_handlers
from bot.i18n import ActorI18nMiddleware, create_i18n
from bot.keyboards.menu import commands_for
from bot.metrics import setup_handler_metrics
from bot.middlewares import ActorMiddleware
from bot.retry import RetryRequests
from crm.config import CRMConfig, MailConfig, NotifyConfig
from crm.service import CRM


def crm_config(settings: Settings) -> CRMConfig:
    return CRMConfig(
        admin_ids=frozenset(settings.admin_ids),
        default_timezone=settings.default_timezone.key,
        default_locale=settings.default_locale,
        currency=settings.currency,
        invite_ttl_days=settings.invite_ttl_days,
        amount_confirm_limit=settings.amount_confirm_limit,
        commission_rate=settings.commission_rate,
        notify=notify_config(settings),
        visit_far_km=settings.visit_far_km,
        company_name=settings.company_name or None,
        mail=mail_config(settings),
    )


def mail_config(settings: Settings) -> MailConfig:
    password = settings.smtp_password
    return MailConfig(
        smtp_host=settings.smtp_host, smtp_port=settings.smtp_port,
        smtp_user=settings.smtp_user,
        smtp_password=password.get_secret_value() if password is not None else None,
        smtp_from=settings.smtp_from, smtp_tls=settings.smtp_tls,
        timeout=settings.smtp_timeout, rate_per_minute=settings.mail_rate_per_minute,
        unsubscribe_to=settings.mail_unsubscribe_to, public_url=settings.public_url,
        attempts=settings.mail_attempts, backoff=settings.mail_backoff_seconds,
    )


def notify_config(settings: Settings) -> NotifyConfig:
    return NotifyConfig(
        overdue_repeat_days=settings.overdue_repeat_days,
        overdue_escalate_days=settings.overdue_escalate_days,
        digest_time_min=settings.digest_time.hour * 60 + settings.digest_time.minute,
        clients_in_work_min=settings.clients_in_work_min,
        clients_in_work_max=settings.clients_in_work_max,
        lead_alert_minutes=settings.lead_alert_minutes,
    )


def create_bot(token: str, api_url: str | None = None, *, retry: bool = True) -> Bot:
    """`retry`: calls refused for a moment (429, 5xx) are tried again (bot.retry); off for
    the scheduler, whose sender handles those itself."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else None
    bot = Bot(
        token=token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
    if retry:
        bot.session.middleware(RetryRequests())
    return bot


def create_storage(redis_url: str | None) -> BaseStorage:
    if redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(redis_url)
    return MemoryStorage()


def create_isolation(storage: BaseStorage) -> BaseEventIsolation:
    """One update of a chat at a time: a tap and a typed answer never race inside one
    conversation. Several workers share Redis, so they share its lock too."""
    from aiogram.fsm.storage.redis import RedisStorage

    if isinstance(storage, RedisStorage):
        return storage.create_isolation()
    return SimpleEventIsolation()


def is_escape(message: Message, data: dict[str, Any]) -> bool:
    """A command or a main-menu button: it leaves whatever form is open."""
    text = message.text or ""
    return text.startswith("/") or text in menu_texts(data["i18n"])


def create_dispatcher(
    crm: CRM, *, default_locale: str = "ru", storage: BaseStorage | None = None,
    dashboard_url: str | None = None,
) -> Dispatcher:
    storage = storage or MemoryStorage()
    dp = Dispatcher(storage=storage, events_isolation=create_isolation(storage))
    # A CRM in a group chat would show cards to everyone there: private chats only.
    dp.message.filter(F.chat.type == ChatType.PRIVATE)
    dp.callback_query.filter(
        F.message.func(lambda m: m is None or m.chat.type == ChatType.PRIVATE)
    )
    dp.update.outer_middleware(ActorMiddleware(crm))
    i18n = create_i18n(default_locale)
    dp["i18n_core"] = i18n
    # The Mini App (PUBLIC_URL/app/); None: no dashboard buttons.
    dp["dashboard_url"] = dashboard_url
    # /start first (anyone), then the stranger catch-all, then what needs a registered user.
    dp.include_routers(
        start.create_router(),
        channel.create_client_router(),
        stranger.create_router(),
        common.create_router(),
        people.create_router(),
        settings_handlers.create_router(),
        clients.create_router(),
        corrections.create_router(),
        my_clients.create_router(),
        log.create_router(),
        new_client.create_router(),
        deals.create_router(),
        reminder_handlers.create_router(),
        visits.create_router(),
        reports.create_router(),
        classifiers.create_router(),
        client_admin_handlers.create_router(),
        lists.create_router(),
        imports.create_router(),
        channel.create_router(),
        documents.create_router(),
        leads.create_router(),
        mailings.create_router(),
    )
    # Then: files outside forms, what a form's step did not take, plain text outside any form
    # is a search; last, buttons nobody takes.
    dp.include_router(log.create_files_router())
    dp.include_router(visits.create_location_router())
    dp.include_router(common.create_form_fallback_router())
    dp.include_router(clients.create_search_router())
    dp.include_router(common.create_fallback_router())
    ActorI18nMiddleware(i18n).setup(dp)
    dp.message.middleware(forms.FormMiddleware(is_escape))
    setup_handler_metrics(dp)
    routing.install(dp)
    return dp


async def set_default_commands(bot: Bot, dp: Dispatcher) -> None:
    """The `/` menu strangers see, per language; registered users get theirs at /start."""
    i18n = dp["i18n_core"]
    with i18n.context():
        for locale in ("ru", "en"):
            with i18n.use_locale(locale):
                cmds = commands_for(None)
            await bot.set_my_commands(cmds, scope=BotCommandScopeDefault(), language_code=locale)
        with i18n.use_locale(i18n.default_locale):
            await bot.set_my_commands(commands_for(None), scope=BotCommandScopeDefault())


def bot_description() -> str:
    """What people see in an empty chat with the bot, before they press Start."""
    return _(
        "Salesbot is the CRM of a sales team, right in Telegram: clients and their history, "
        "calls and meetings, the next contact with a reminder, deals, invoices and payments, "
        "a daily digest.\n\nIt works by invitation: ask your administrator or head of sales "
        "for a link, then press Start."
    )


def bot_short_description() -> str:
    """On the bot's profile and in shared links (up to 120 characters)."""
    return _("The sales team's CRM in Telegram: clients, contacts, deals, reminders. "
             "By invitation.")


async def set_bot_profile(bot: Bot, dp: Dispatcher) -> None:
    """The description and short description, per language, and the default for the rest."""
    i18n = dp["i18n_core"]
    with i18n.context():
        for locale in ("ru", "en", None):
            with i18n.use_locale(locale or i18n.default_locale):
                description, short = bot_description(), bot_short_description()
            await bot.set_my_description(description, language_code=locale)
            await bot.set_my_short_description(short, language_code=locale)
