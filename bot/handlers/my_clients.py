"""'My clients': the clients one sees, filtered and paged, one tap from the main menu."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.keyboards.menu import BTN_MY_CLIENTS
from bot.keyboards.my_clients import (
    MyAction,
    MyClientsCD,
    filter_names,
    my_clients_kb,
    stages_kb,
)
from bot.render import current_locale
from bot.views import e
from crm.clients import ClientListPage, ListFilter
from crm.dto import Actor
from crm.service import CRM


def list_text(result: ClientListPage) -> str:
    title = _("<b>My clients</b>") if not result.shows_owner else _("<b>Clients</b>")
    if result.stage is not None:
        what = _("stage «{stage}»").format(stage=e(result.stage.text(current_locale())))
    else:
        what = filter_names()[result.filter].lower()
    lines = [f"{title} · {what}"]
    if result.total:
        lines.append(_("Page {page} of {pages} · clients: {n}").format(
            page=result.page + 1, pages=result.pages, n=result.total))
    else:
        lines.append(_("No clients here."))
    return "\n".join(lines)


async def btn_my_clients(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    result = await crm.clients.my_clients(actor, ListFilter.ALL)
    await forms.screen(message, list_text(result), my_clients_kb(result))


async def cb_list(
    query: CallbackQuery, callback_data: MyClientsCD, actor: Actor, crm: CRM
) -> None:
    result = await crm.clients.my_clients(
        actor, callback_data.show, callback_data.stage, callback_data.page
    )
    await forms.screen(query, list_text(result), my_clients_kb(result))


async def cb_stages(query: CallbackQuery, crm: CRM) -> None:
    stages = await crm.classifiers.stages()
    await forms.screen(query, _("Clients with an open deal at which stage?"),
                       stages_kb(stages, current_locale()))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(btn_my_clients, F.text == BTN_MY_CLIENTS)
    # A stage without the stage filter (or the reverse) is forged: it falls to the stale handler.
    router.callback_query.register(
        cb_list,
        MyClientsCD.filter(F.action == MyAction.LIST),
        MyClientsCD.filter(F.func(lambda cd: (cd.show is ListFilter.STAGE)
                                  == (cd.stage is not None))),
    )
    router.callback_query.register(cb_stages, MyClientsCD.filter(F.action == MyAction.STAGES))
    return router
