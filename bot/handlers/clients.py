"""Today, finding a client (text, /find, inline mode), the card, its history and editing."""

from __future__ import annotations

import html
import re
from contextlib import suppress
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import forms
from bot.filters import FormText
from bot.keyboards.client import (
    AgendaCD,
    ClientAction,
    ClientCD,
    EditCD,
    EditField,
    EditPickCD,
    HistCD,
    PersonAction,
    PersonCD,
    PlayCD,
    SearchCD,
    TodayCD,
    agenda_kb,
    back_to_card,
    card_back_kb,
    card_kb,
    history_kb,
    search_kb,
    today_kb,
)
from bot.keyboards.menu import BTN_FIND, BTN_TODAY, main_menu
from bot.render import clip, current_locale
from bot.texts import error_text
from bot.views import (
    agenda_text,
    card_text,
    classifier_title,
    history_text,
    search_text,
    team_overdue_text,
    today_text,
)
from crm.clients import CARD_CLASSIFIERS
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.service import CRM


class EditForm(StatesGroup):
    value = State()


class ContactForm(StatesGroup):
    value = State()


forms.register(EditForm, lambda: _("card edit"))
forms.register(ContactForm, lambda: _("new contact person"))


CONTACTS_SHOWN = 30
EMAIL_IN_TEXT = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s()\-]{5,}\d")


async def send_today(target: Message | CallbackQuery, actor: Actor, crm: CRM) -> None:
    """Today: a new message for a command, the same one redrawn for a button."""
    view = await crm.planning.today(actor)
    text = today_text(view, actor.tz, crm.config.currency) + team_overdue_text(view, actor.tz)
    await forms.screen(target, clip(text), today_kb(view, actor.tz))


async def cmd_today(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await send_today(message, actor, crm)


async def cb_today(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    await send_today(query, actor, crm)


async def cb_agenda(
    query: CallbackQuery, callback_data: AgendaCD, actor: Actor, crm: CRM
) -> None:
    page = await crm.planning.agenda(actor, callback_data.part.value, callback_data.page)
    await forms.screen(query, agenda_text(page, actor.tz), agenda_kb(page, actor.tz))


async def cmd_find(
    message: Message, actor: Actor, crm: CRM, state: FSMContext, command: CommandObject
) -> None:
    await forms.finish(state)
    if command.args:
        await run_search(message, actor, crm, state, command.args)
    else:
        await message.answer(_("Type a name, a contact person, a phone or an e-mail:"))


async def btn_find(message: Message, state: FSMContext) -> None:
    await forms.finish(state)
    await message.answer(_("Type a name, a contact person, a phone or an e-mail:"))


async def run_search(
    message: Message, actor: Actor, crm: CRM, state: FSMContext, query: str
) -> None:
    query = query.strip()[:200]
    result = await crm.clients.search(actor, query)
    await state.update_data(search_q=query)
    if result.total == 1 and result.items:
        # One match: straight to the card, one tap saved.
        await send_card(message, actor, crm, result.items[0].id)
        return
    await message.answer(search_text(result), reply_markup=search_kb(result))


async def msg_text(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    text = message.text or ""
    if text.startswith("/"):
        await message.answer(_("Unknown command. See /help."))
        return
    await run_search(message, actor, crm, state, text)


async def cb_search_page(
    query: CallbackQuery, callback_data: SearchCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    q = (await state.get_data()).get("search_q")
    if not q:
        await query.answer(_("The search has expired. Type it again."), show_alert=True)
        return
    result = await crm.clients.search(actor, q, callback_data.page)
    await forms.screen(query, search_text(result), search_kb(result))


async def send_card(message: Message, actor: Actor, crm: CRM, client_id: int) -> None:
    card = await crm.clients.card(actor, client_id)
    await message.answer(card_text(card, actor.tz), reply_markup=card_kb(card))


async def cb_card(
    query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    left = await forms.leave(state)
    card = await crm.clients.card(actor, callback_data.id, archived=True)
    if left is not None:
        with suppress(TelegramBadRequest):
            await query.answer(forms.discarded_text(left))
    await forms.screen(query, card_text(card, actor.tz), card_kb(card))


async def cb_history(
    query: CallbackQuery, callback_data: HistCD, actor: Actor, crm: CRM
) -> None:
    await show_history(query, actor, crm, callback_data.client_id, callback_data.page,
                       callback_data.type_id or 0)


async def show_history(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                       client_id: int, page_no: int = 0, type_id: int = 0) -> None:
    page = await crm.history.page(actor, client_id, page_no, type_id)
    types = await crm.classifiers.items("activity_type")
    await forms.screen(target, history_text(page, actor.tz, crm.config.currency),
               history_kb(page, types, current_locale(), actor.tz))


async def cb_play(
    query: CallbackQuery, callback_data: PlayCD, actor: Actor, crm: CRM, bot: Bot
) -> None:
    kind, ref = await crm.history.attachment(actor, callback_data.activity_id)
    if kind == "voice":
        await bot.send_voice(query.from_user.id, ref)
    elif kind == "photo":
        await bot.send_photo(query.from_user.id, ref)
    else:
        await bot.send_document(query.from_user.id, ref)
    await query.answer()


def field_names() -> dict[str, str]:
    """A card field's name in an edit prompt."""
    return {
        "name": _("Name"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "address": _("Address"),
        "tax_number": _("Tax number"),
        "trigger_event": _("Why they came"),
        "probability": _("Probability"),
    }


def edit_menu_kb(client_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    names = {
        EditField.NAME: _("Name"),
        EditField.PHONE: _("Add phone"),
        EditField.EMAIL: _("Add e-mail"),
        EditField.ADDRESS: _("Address"),
        EditField.TAX_NUMBER: _("Tax number"),
        EditField.TRIGGER: _("Why they came"),
        EditField.PROBABILITY: _("Probability"),
    }
    for field, text in names.items():
        kb.button(text=text, callback_data=EditCD(client_id=client_id, field=field))
    for kind in CARD_CLASSIFIERS:
        kb.button(text=classifier_title(kind),
                  callback_data=EditCD(client_id=client_id, field=EditField(kind)))
    kb.adjust(2)
    kb.row(back_to_card(client_id))
    return kb.as_markup()


async def cb_edit_menu(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                       crm: CRM) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    if not card.can_change:
        await query.answer(_("Only the client's manager can edit the card."), show_alert=True)
        return
    await forms.screen(query, _("What to change in «{name}»?").format(name=html.escape(card.name)),
               edit_menu_kb(card.id))


async def cb_edit_pick(query: CallbackQuery, callback_data: EditPickCD, actor: Actor,
                       crm: CRM) -> None:
    cid, field = callback_data.client_id, callback_data.field
    if field not in CARD_CLASSIFIERS:
        raise InvalidInput("field")
    await crm.clients.set_classifier(actor, cid, field, callback_data.item_id)
    card = await crm.clients.card(actor, cid)
    await forms.screen(query, card_text(card, actor.tz), card_kb(card))


async def cb_edit_field(
    query: CallbackQuery, callback_data: EditCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    cid, field = callback_data.client_id, callback_data.field
    card = await crm.clients.card(actor, cid)
    if not card.can_change:
        await query.answer(_("Only the client's manager can edit the card."), show_alert=True)
        return
    if field in CARD_CLASSIFIERS:
        items = await crm.classifiers.items(field)
        kb = InlineKeyboardBuilder()
        for item in items:
            kb.button(text=item.text(current_locale()),
                      callback_data=EditPickCD(client_id=cid, field=field, item_id=item.id))
        kb.button(text=_("— clear"), callback_data=EditPickCD(client_id=cid, field=field))
        kb.adjust(2)
        kb.row(back_to_card(cid))
        await forms.screen(query, _("«{name}» · {field}:").format(
            name=html.escape(card.name), field=classifier_title(field)), kb.as_markup())
        return
    await forms.start(state, EditForm.value)
    await forms.prompt(
        query, state, EditForm.value,
        _("«{name}» · {field}: send the new value (or «-» to clear it).").format(
            name=html.escape(card.name), field=field_names()[field]),
        lambda _step: card_back_kb(cid), client=cid, field=str(field),
    )


async def msg_edit_value(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    cid, field = int(draft["client"]), str(draft["field"])
    try:
        await crm.clients.update_field(actor, cid, field, message.text or "")
    except InvalidInput as err:
        await message.answer(input_error(err.code))
        return
    await forms.finish(state)
    await message.answer(_("Saved."))
    await send_card(message, actor, crm, cid)


def input_error(code: str) -> str:
    return error_text(InvalidInput(code))


async def cb_contacts(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                      crm: CRM) -> None:
    await show_contacts(query, actor, crm, callback_data.id)


async def show_contacts(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                        client_id: int) -> None:
    card = await crm.clients.card(actor, client_id)
    lines = [_("<b>Contacts: {name}</b>").format(name=html.escape(card.name))]
    for c in card.contacts[:CONTACTS_SHOWN]:
        bits = [html.escape(c.name)]
        bits += [html.escape(x) for x in (c.position, c.phone, c.email) if x]
        lines.append("👤 " + ", ".join(bits))
    for phone in card.phones:
        lines.append(f"📞 {html.escape(phone)}")
    if len(lines) == 1:
        lines.append(_("No contacts yet."))
    kb = InlineKeyboardBuilder()
    if card.can_change:
        for c in card.contacts[:CONTACTS_SHOWN]:
            kb.button(text="✏️ " + c.name[:30],
                      callback_data=PersonCD(person_id=c.id, action=PersonAction.OPEN))
        kb.button(text=_("➕ Add contact"),
                  callback_data=ClientCD(id=card.id, action=ClientAction.ADD_CONTACT))
        kb.adjust(2)
    kb.row(back_to_card(card.id))
    await forms.screen(target, clip("\n".join(lines)), kb.as_markup())


async def cb_add_contact(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    if not card.can_change:
        await query.answer(_("Only the client's manager can edit the card."), show_alert=True)
        return
    await forms.start(state, ContactForm.value)
    await forms.prompt(
        query, state, ContactForm.value,
        _("«{name}»: send the contact person: name, phone and/or e-mail. Example: {example}")
        .format(name=html.escape(card.name), example=_("John Smith, +44 20 7946 0958")),
        lambda _step: card_back_kb(card.id), client=card.id,
    )


async def msg_contact_value(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    cid = int((await forms.values(state))["client"])
    text = message.text or ""
    email_m = EMAIL_IN_TEXT.search(text)
    phone_m = PHONE_IN_TEXT.search(text)
    name = text
    for m in (email_m, phone_m):
        if m:
            name = name.replace(m.group(0), " ")
    name = " ".join(name.replace(",", " ").split())
    try:
        await crm.clients.add_contact(
            actor, cid, name, phone_m.group(0) if phone_m else None,
            email_m.group(0) if email_m else None,
        )
    except InvalidInput as err:
        await message.answer(input_error(err.code))
        return
    await forms.finish(state)
    await message.answer(_("Contact added."))
    await send_card(message, actor, crm, cid)


async def inline_search(query: InlineQuery, actor: Actor, crm: CRM) -> None:
    text = query.query.strip()
    if len(text) < 2:
        await query.answer([], cache_time=0, is_personal=True)
        return
    articles: list[Any] = []
    for found in await crm.clients.summaries(actor, text):
        body = [f"<b>{html.escape(found.name)}</b>"]
        body += [html.escape(p) for p in found.phones]
        body += [html.escape(m) for m in found.emails]
        if found.address:
            body.append(html.escape(found.address))
        articles.append(InlineQueryResultArticle(
            id=str(found.id),
            title=found.name,
            description=", ".join(found.phones + found.emails)[:200] or None,
            input_message_content=InputTextMessageContent(
                message_text="\n".join(body), parse_mode="HTML"
            ),
        ))
    await query.answer(articles, cache_time=0, is_personal=True)


async def cmd_cancel(message: Message, actor: Actor, state: FSMContext) -> None:
    await forms.finish(state)
    await message.answer(_("Cancelled."), reply_markup=main_menu(actor.role))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_cancel, Command("cancel"))
    router.message.register(cmd_today, Command("today"))
    router.message.register(cmd_today, F.text == BTN_TODAY)
    router.callback_query.register(cb_today, TodayCD.filter())
    router.callback_query.register(cb_agenda, AgendaCD.filter())
    router.message.register(cmd_find, Command("find"))
    router.message.register(btn_find, F.text == BTN_FIND)
    router.callback_query.register(cb_search_page, SearchCD.filter())
    router.callback_query.register(cb_card, ClientCD.filter(F.action == ClientAction.OPEN))
    router.callback_query.register(cb_history, HistCD.filter())
    router.callback_query.register(cb_play, PlayCD.filter())
    router.callback_query.register(cb_edit_menu, ClientCD.filter(F.action == ClientAction.EDIT))
    router.callback_query.register(cb_edit_field, EditCD.filter())
    router.callback_query.register(cb_edit_pick, EditPickCD.filter())
    router.callback_query.register(cb_contacts,
                                   ClientCD.filter(F.action == ClientAction.CONTACTS))
    router.callback_query.register(cb_add_contact,
                                   ClientCD.filter(F.action == ClientAction.ADD_CONTACT))
    router.message.register(msg_edit_value, EditForm.value, FormText())
    router.message.register(msg_contact_value, ContactForm.value, FormText())
    router.inline_query.register(inline_search)
    return router


def create_search_router() -> Router:
    """The catch-all: plain text outside any form is a search. Included last."""
    router = Router(name=__name__ + ".search")
    router.message.register(msg_text, StateFilter(None), F.text)
    return router

