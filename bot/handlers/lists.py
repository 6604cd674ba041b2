"""«🗂 Client lists» (from the reports menu): saved lists → a list's result, fresh each time;
«New list» → the filter builder (a form: one screen with the filter and a button per
criterion; a value picked from buttons or typed) → «Show»: the count and pages of clients,
each opening its card → 💾 save under a name, shared with the team or private; 📥 XLSX.

The builder's filter lives in the form's draft; once shown, it waits in the FSM data under
DRAFT_KEY (like the search query) for the result's pages, XLSX and «Save». Who may do what,
and which clients a list shows, is decided in crm/ (crm.lists, crm.access) on every press.
"""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.filters import FormText
from bot.handlers.reports import period_error
from bot.keyboards.lists import (
    BuildAction,
    BuildCD,
    ListAction,
    ListCD,
    ListDeleteCD,
    PickCD,
    Share,
    ShareCD,
    back_to_list,
    builder_kb,
    choices_kb,
    criterion_name,
    draft_kb,
    menu_kb,
    saved_kb,
    share_kb,
    typed_kb,
)
from bot.list_views import builder_text, draft_text, menu_text, saved_text
from bot.render import current_locale
from bot.texts import error_text
from bot.views import e
from bot.xlsx import clients_xlsx
from crm.access import can_export_clients, can_send_mailings
from crm.dto import Actor
from crm.errors import Conflict, InvalidInput, NotAvailable
from crm.lists import (
    PICKED,
    TOGGLED,
    ClientFilter,
    Criterion,
    parse_days,
    parse_probability_range,
)
from crm.reports.period import PeriodError, parse_period
from crm.service import CRM

DRAFT_KEY = "list_draft"


class ListForm(StatesGroup):
    build = State()  # the builder screen
    pick = State()  # the values of one criterion
    value = State()  # a typed value (days, probability, dates)
    name = State()  # the name of the list being saved
    share = State()  # shared or private
    rename = State()
    delete = State()


forms.register(ListForm, lambda: _("client list"),
               buttons_only=(ListForm.build, ListForm.pick, ListForm.share, ListForm.delete))


# --- the menu ---------------------------------------------------------------------------------


async def show_menu(target: Message | CallbackQuery, actor: Actor, crm: CRM) -> None:
    saved = await crm.lists.saved(actor)
    await forms.screen(target, menu_text(saved), menu_kb(saved))


async def cb_menu(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show_menu(query, actor, crm)


# --- the builder ------------------------------------------------------------------------------


async def show_builder(target: Message | CallbackQuery, state: FSMContext, actor: Actor,
                       crm: CRM, flt: ClientFilter) -> None:
    criteria = crm.lists.criteria(actor)
    labels = await crm.lists.labels(actor, flt)
    await forms.prompt(target, state, ListForm.build, builder_text(flt, labels),
                       lambda step: builder_kb(step, criteria, flt), f=flt.to_json())


async def _start_builder(query: CallbackQuery, state: FSMContext, actor: Actor, crm: CRM,
                         flt: ClientFilter) -> None:
    crm.lists.criteria(actor)  # the role may build lists at all
    await forms.start(state, ListForm.build, f=flt.to_json())
    await show_builder(query, state, actor, crm, flt)


async def cb_new(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await _start_builder(query, state, actor, crm, ClientFilter())


async def cb_back_to_builder(query: CallbackQuery, actor: Actor, crm: CRM,
                             state: FSMContext) -> None:
    await _start_builder(query, state, actor, crm, await _draft_filter(state))


async def cb_edit_saved(query: CallbackQuery, callback_data: ListCD, actor: Actor, crm: CRM,
                        state: FSMContext) -> None:
    assert callback_data.id is not None
    saved = await crm.lists.open(actor, callback_data.id)
    await _start_builder(query, state, actor, crm, saved.filter)


def _typed_prompt(c: Criterion) -> str:
    return {
        Criterion.PROBABILITY: _("Type the probability range in %, for example 30-70, or one "
                                 "number for that and above (50 means 50–100)."),
        Criterion.SILENT: _("Clients with no contact for how many days or more? Type a "
                            "number, for example 30. Clients never contacted count too."),
        Criterion.CONTACTED: _("Clients contacted within how many last days? Type a number, "
                               "for example 7."),
        Criterion.CREATED: _("Type the period the clients were created in, for example "
                             "01.11–30.11 or 1.11.2026-15.11.2026."),
    }[c]


async def cb_build(query: CallbackQuery, callback_data: BuildCD, actor: Actor, crm: CRM,
                   state: FSMContext) -> None:
    # The step is the builder's or one of its value prompts'; a spent one does nothing.
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    flt = ClientFilter.from_json(draft["f"])
    action, c = callback_data.action, callback_data.criterion
    if action is BuildAction.SHOW:
        await forms.finish(state)
        await state.update_data({DRAFT_KEY: flt.to_json()})
        await show_draft(query, actor, crm, flt, 0)
        return
    if action is BuildAction.RESET:
        flt = ClientFilter()
    elif action is BuildAction.CLEAR:
        assert c is not None
        flt = flt.without(c)
    elif action is BuildAction.CRITERION:
        assert c is not None
        if c not in crm.lists.criteria(actor):
            raise NotAvailable()
        if c in TOGGLED:
            flt = flt.toggled(c)
        elif c in PICKED:
            choices = await crm.lists.choices(actor, c)
            current = flt.value_of(c)
            text = _("{criterion}: pick one.").format(criterion=criterion_name(c))
            await forms.prompt(query, state, ListForm.pick, text,
                               lambda step: choices_kb(step, c, choices, current_locale(),
                                                       current))
            return
        else:
            is_set = flt.value_of(c) is not None
            await forms.prompt(query, state, ListForm.value, _typed_prompt(c),
                               lambda step: typed_kb(step, c, is_set), crit=c.value)
            return
    await show_builder(query, state, actor, crm, flt)


async def cb_pick(query: CallbackQuery, callback_data: PickCD, actor: Actor, crm: CRM,
                  state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, at=ListForm.pick)
    if draft is None:
        return
    flt = ClientFilter.from_json(draft["f"])
    # Re-checked in crm/: a value the actor may not pick (a forged id) is not available.
    flt = await crm.lists.pick(actor, flt, callback_data.criterion, callback_data.value)
    await show_builder(query, state, actor, crm, flt)


def _typed_error(err: InvalidInput) -> str:
    texts = {
        "prob_format": _("I could not read the range. Type two numbers from 0 to 100, for "
                         "example 30-70, or one number, for example 50."),
        "prob_range": _("A probability is from 0 to 100 %."),
        "prob_order": _("The range ends before it starts. Type the smaller number first, "
                        "for example 30-70."),
        "list_days_format": _("Type a whole number of days, for example 30."),
        "list_days": _("The number of days is from 1 to 3650."),
    }
    return texts.get(err.code) or error_text(err)


async def msg_value(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    flt = ClientFilter.from_json(draft["f"])
    c = Criterion(draft["crit"])
    text = message.text or ""
    try:
        if c is Criterion.PROBABILITY:
            lo, hi = parse_probability_range(text)
            flt = ClientFilter.from_json({**flt.to_json(), "prob_min": lo, "prob_max": hi})
        elif c in (Criterion.SILENT, Criterion.CONTACTED):
            key = "silent_days" if c is Criterion.SILENT else "contacted_days"
            flt = ClientFilter.from_json({**flt.to_json(), key: parse_days(text)})
        else:
            today = crm.clock.now().astimezone(actor.tz).date()
            period = parse_period(text, today)
            flt = ClientFilter.from_json({**flt.to_json(),
                                          "created_from": period.start.isoformat(),
                                          "created_to": period.end.isoformat()})
    except InvalidInput as err:
        await message.answer(_typed_error(err))
        return
    except PeriodError as err:
        await message.answer(period_error(err))
        return
    await show_builder(message, state, actor, crm, flt)


# --- results ----------------------------------------------------------------------------------


async def _draft_filter(state: FSMContext) -> ClientFilter:
    raw = (await state.get_data()).get(DRAFT_KEY)
    if raw is None:
        raise Conflict("form_expired")
    return ClientFilter.from_json(raw)


async def show_draft(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                     flt: ClientFilter, page: int) -> None:
    result = await crm.lists.page(actor, flt, page)
    labels = await crm.lists.labels(actor, flt)
    await forms.screen(target, draft_text(flt, labels, result),
                       draft_kb(result, mailing=can_send_mailings(actor)))


async def cb_draft(query: CallbackQuery, callback_data: ListCD, actor: Actor, crm: CRM,
                   state: FSMContext) -> None:
    flt = await _draft_filter(state)
    await forms.finish(state)
    await show_draft(query, actor, crm, flt, callback_data.page)


async def show_saved(target: Message | CallbackQuery, actor: Actor, crm: CRM, list_id: int,
                     page: int = 0, note: str | None = None) -> None:
    saved, result = await crm.lists.open_page(actor, list_id, page)
    labels = await crm.lists.labels(actor, saved.filter)
    text = saved_text(saved.info, saved.filter, labels, result)
    if note:
        text = note + "\n\n" + text
    await forms.screen(target, text, saved_kb(saved.info, result, can_export_clients(actor)))


async def cb_open(query: CallbackQuery, callback_data: ListCD, actor: Actor, crm: CRM,
                  state: FSMContext) -> None:
    assert callback_data.id is not None
    await forms.finish(state)
    await show_saved(query, actor, crm, callback_data.id, callback_data.page)


async def _send_xlsx(query: CallbackQuery, actor: Actor, crm: CRM, flt: ClientFilter,
                     name: str) -> None:
    rows = await crm.lists.rows(actor, flt)
    data = await asyncio.to_thread(clients_xlsx, rows, actor.tz, _("Client list"))
    await query.answer()
    if query.bot is not None:
        day = crm.clock.now().astimezone(actor.tz).date()
        await query.bot.send_document(
            query.from_user.id,
            BufferedInputFile(data, filename=f"clients_{day:%Y%m%d}.xlsx"),
            caption=_("{name} · clients: {n}").format(name=e(name), n=len(rows)))


async def cb_draft_xlsx(query: CallbackQuery, actor: Actor, crm: CRM,
                        state: FSMContext) -> None:
    await _send_xlsx(query, actor, crm, await _draft_filter(state), _("Client list"))


async def cb_xlsx(query: CallbackQuery, callback_data: ListCD, actor: Actor, crm: CRM) -> None:
    assert callback_data.id is not None
    saved = await crm.lists.open(actor, callback_data.id)
    await _send_xlsx(query, actor, crm, saved.filter, saved.info.name)


# --- saving, renaming, deleting ---------------------------------------------------------------


def _back_to_draft() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("« Back"), callback_data=ListCD(action=ListAction.DRAFT).pack())]])


async def cb_save(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext) -> None:
    flt = await _draft_filter(state)
    crm.lists.criteria(actor)
    await forms.start(state, ListForm.name, f=flt.to_json())
    await forms.prompt(query, state, ListForm.name,
                       _("Type a name for the list, for example «Moscow retail, no contact "
                         "30 days»."), lambda step: _back_to_draft())


async def msg_name(message: Message, actor: Actor, state: FSMContext) -> None:
    draft = await forms.values(state)
    name = " ".join((message.text or "").split())
    if not 1 <= len(name) <= 100:
        await message.answer(_("A list name is 1 to 100 characters."))
        return
    await forms.prompt(message, state, ListForm.share,
                       _("«{name}»: who sees this list? Everyone sees only the clients they "
                         "may open.").format(name=e(name)),
                       lambda step: share_kb(step, actor.team_id is not None),
                       f=draft["f"], name=name)


async def cb_share(query: CallbackQuery, callback_data: ShareCD, actor: Actor, crm: CRM,
                   state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, at=ListForm.share)
    if draft is None:
        return
    flt = ClientFilter.from_json(draft["f"])
    try:
        info = await crm.lists.save(actor, draft["name"], flt,
                                    callback_data.share is Share.TEAM)
    except Conflict as err:
        if err.code != "list_name_taken":
            raise
        await forms.prompt(query, state, ListForm.name,
                           _("You already have a list named «{name}». Type another name.")
                           .format(name=e(draft["name"])), lambda step: _back_to_draft())
        return
    await forms.finish(state)
    await show_saved(query, actor, crm, info.id, note=_("💾 Saved."))


async def cb_rename(query: CallbackQuery, callback_data: ListCD, actor: Actor, crm: CRM,
                    state: FSMContext) -> None:
    assert callback_data.id is not None
    saved = await crm.lists.open(actor, callback_data.id)
    if not saved.info.mine:
        raise NotAvailable()
    await forms.start(state, ListForm.rename, id=saved.info.id)
    await forms.prompt(query, state, ListForm.rename,
                       _("Type the new name of «{name}».").format(name=e(saved.info.name)),
                       lambda step: InlineKeyboardMarkup(
                           inline_keyboard=[[back_to_list(saved.info.id)]]))


async def msg_rename(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    try:
        info = await crm.lists.rename(actor, int(draft["id"]), message.text or "")
    except InvalidInput as err:
        if err.code != "list_name":
            raise
        await message.answer(_("A list name is 1 to 100 characters."))
        return
    except Conflict as err:
        if err.code != "list_name_taken":
            raise
        await message.answer(_("You already have a list with this name. Type another one."))
        return
    await forms.finish(state)
    await show_saved(message, actor, crm, info.id, note=_("✏️ Renamed."))


async def cb_delete(query: CallbackQuery, callback_data: ListCD, actor: Actor, crm: CRM,
                    state: FSMContext) -> None:
    assert callback_data.id is not None
    saved = await crm.lists.open(actor, callback_data.id)
    if not saved.info.mine:
        raise NotAvailable()
    list_id = saved.info.id
    await forms.start(state, ListForm.delete, id=list_id)
    await forms.prompt(
        query, state, ListForm.delete,
        _("Delete the list «{name}»? The clients stay as they are.").format(
            name=e(saved.info.name)),
        lambda step: forms.confirm_kb(_("🗑 Yes, delete"), ListDeleteCD(id=list_id, step=step),
                                      back_to_list(list_id)))


async def cb_delete_yes(query: CallbackQuery, callback_data: ListDeleteCD, actor: Actor,
                        crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, at=ListForm.delete)
    if draft is None:
        return
    await forms.finish(state)
    if int(draft["id"]) != callback_data.id:
        raise InvalidInput("list_filter")  # a step of one list's prompt with another's id
    await crm.lists.delete(actor, callback_data.id)
    await show_menu(query, actor, crm)


def create_router() -> Router:
    router = Router(name=__name__)
    on = router.callback_query.register
    on(cb_menu, ListCD.filter(F.action == ListAction.MENU))
    on(cb_new, ListCD.filter(F.action == ListAction.NEW))
    on(cb_draft, ListCD.filter(F.action == ListAction.DRAFT))
    on(cb_draft_xlsx, ListCD.filter(F.action == ListAction.DRAFT_XLSX))
    on(cb_back_to_builder, ListCD.filter(F.action == ListAction.BUILDER))
    on(cb_save, ListCD.filter(F.action == ListAction.SAVE))
    on(cb_open, ListCD.filter(F.action == ListAction.OPEN))
    on(cb_xlsx, ListCD.filter(F.action == ListAction.XLSX))
    on(cb_edit_saved, ListCD.filter(F.action == ListAction.EDIT))
    on(cb_rename, ListCD.filter(F.action == ListAction.RENAME))
    on(cb_delete, ListCD.filter(F.action == ListAction.DELETE))
    on(cb_build, BuildCD.filter())
    on(cb_pick, PickCD.filter())
    on(cb_share, ShareCD.filter())
    on(cb_delete_yes, ListDeleteCD.filter())
    router.message.register(msg_value, ListForm.value, FormText())
    router.message.register(msg_name, ListForm.name, FormText())
    router.message.register(msg_rename, ListForm.rename, FormText())
    return router
