"""/start: registration through an invitation or ADMIN_IDS, then the main menu."""

from __future__ import annotations

import html
import re

from aiogram import Bot, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import BotCommandScopeChat, MenuButtonWebApp, Message, WebAppInfo
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.deal_views import deal_text
from bot.handlers.channel import greeting_text, open_result_text
from bot.handlers.clients import send_today
from bot.handlers.reports import DASHBOARD_ROLES
from bot.keyboards.deals import deal_kb
from bot.keyboards.menu import commands_for, main_menu
from bot.keyboards.types import INT32_MAX
from bot.texts import error_text, role_name, stranger_text
from crm.channel import LinkedClient
from crm.dto import Actor
from crm.errors import CRMError, NotAvailable
from crm.roles import Role
from crm.service import CRM

DEAL_LINK = re.compile(r"deal_(\d{1,12})")


async def set_user_commands(bot: Bot, actor: Actor, locale: str, i18n: I18n) -> None:
    with i18n.context(), i18n.use_locale(locale):
        cmds = commands_for(actor.role)
    await bot.set_my_commands(cmds, scope=BotCommandScopeChat(chat_id=actor.tg_id))


async def set_dashboard_button(bot: Bot, actor: Actor, url: str | None) -> None:
    """The chat's menu button opens the dashboard (the Mini App) for heads, admins and
    marketers when PUBLIC_URL is set."""
    if url and actor.role in DASHBOARD_ROLES:
        await bot.set_chat_menu_button(chat_id=actor.tg_id, menu_button=MenuButtonWebApp(
            text=_("📊 Dashboard"), web_app=WebAppInfo(url=url)))


async def cmd_start(
    message: Message, command: CommandObject, crm: CRM, bot: Bot, i18n: I18n,
    actor: Actor | None = None, linked_client: LinkedClient | None = None,
    dashboard_url: str | None = None,
) -> None:
    assert message.from_user is not None
    user = message.from_user
    token = (command.args or "").strip() or None
    deal = DEAL_LINK.fullmatch(token or "")
    if deal is not None:
        await open_deal(message, crm, int(deal.group(1)))
        return
    if token:
        # A client's personal link (crm/channel.py) rather than an invitation?
        opened = await crm.channel.open_link(
            user.id, user.full_name, user.username, user.language_code, token,
            staff=actor is not None,
        )
        if opened is not None:
            await message.answer(await open_result_text(opened, bot))
            return
    elif actor is None and linked_client is not None:
        greeting = await crm.channel.restart(user.id)
        if greeting is not None:
            await message.answer(await greeting_text(greeting, bot))
            return
    try:
        result = await crm.people.start(
            tg_id=user.id,
            name=user.full_name,
            username=user.username,
            language_code=user.language_code,
            token=token,
        )
    except CRMError as err:
        await message.answer(error_text(err))
        return
    if result is None:
        await message.answer(stranger_text())
        return
    actor = result.actor
    if result.created:
        text = _("Welcome, {name}! You are registered as: {role}.").format(
            name=html.escape(actor.name), role=role_name(actor.role)
        )
    else:
        text = _("Hello, {name}! Your role: {role}.").format(
            name=html.escape(actor.name), role=role_name(actor.role)
        )
    if result.ignored_invite:
        text += "\n" + _(
            "You are already registered, so the invitation was not used: it still works "
            "for the person it is meant for."
        )
    await message.answer(text, reply_markup=main_menu(actor.role))
    await set_user_commands(bot, actor, i18n.current_locale, i18n)
    await set_dashboard_button(bot, actor, dashboard_url)
    if actor.role in (Role.ADMIN, Role.HEAD, Role.MANAGER):
        await send_today(message, actor, crm)


async def open_deal(message: Message, crm: CRM, deal_id: int) -> None:
    """A deal link (the dashboard's drill-down, t.me/<bot>?start=deal_<id>): the deal's card
    for a registered user allowed to see it."""
    assert message.from_user is not None
    actor = await crm.people.identify(message.from_user.id)
    if actor is None:
        await message.answer(stranger_text())
        return
    if deal_id > INT32_MAX:
        await message.answer(error_text(NotAvailable()))
        return
    try:
        view = await crm.deals.deal(actor, deal_id)
    except CRMError as err:
        await message.answer(error_text(err))
        return
    await message.answer(deal_text(view, actor), reply_markup=deal_kb(view))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_start, CommandStart())
    return router
