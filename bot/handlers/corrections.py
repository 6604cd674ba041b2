"""Corrections made on the phone: a contact record of the history (its comment, its outcome,
or the record itself) and a contact person of a client (edited or removed).

Who may do what is decided in crm/ (HistoryService.change_*, ClientService.update_contact …);
these handlers only re-ask it and show the answer."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import forms
from bot.filters import FormText
from bot.handlers.clients import input_error, show_contacts, show_history
from bot.keyboards.client import (
    ClientAction,
    ClientCD,
    EntryAction,
    EntryCD,
    EntryDeleteCD,
    EntryOutcomeCD,
    HistCD,
    PersonAction,
    PersonCD,
    PersonEditCD,
    PersonField,
    PersonRemoveCD,
)
from bot.render import current_locale, fmt_datetime
from bot.texts import role_name
from crm.clients import ContactView
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.history import EntryView
from crm.service import CRM


class EntryForm(StatesGroup):
    comment = State()
    confirm = State()


class PersonForm(StatesGroup):
    value = State()
    confirm = State()


forms.register(EntryForm, lambda: _("history correction"), buttons_only=(EntryForm.confirm,))
forms.register(PersonForm, lambda: _("contact person edit"), buttons_only=(PersonForm.confirm,))


# --- a contact record of the history ------------------------------------------------------


def entry_text(view: EntryView, actor: Actor, question: str) -> str:
    item, loc = view.item, current_locale()
    who = ""
    if item.author_name:
        role = f" ({role_name(item.author_role)})" if item.author_role else ""
        who = f" — {html.escape(item.author_name)}{role}"
    head = f"<b>{html.escape(item.type.text(loc))}</b>" if item.type else ""
    if item.outcome is not None:
        head += f" · {html.escape(item.outcome.text(loc))}"
    lines = [_("«{name}»: a record of the history").format(name=html.escape(view.client_name)),
             "", fmt_datetime(item.occurred_at, actor.tz) + who, head]
    if item.text:
        lines.append(html.escape(item.text[:1500]) + ("…" if len(item.text) > 1500 else ""))
    lines += ["", question]
    return "\n".join(lines)


def back_to_entry(activity_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("« Back"),
        callback_data=EntryCD(activity_id=activity_id, action=EntryAction.OPEN).pack(),
    )


def entry_kb(view: EntryView) -> InlineKeyboardMarkup:
    aid = view.item.id
    kb = InlineKeyboardBuilder()
    for action, text in ((EntryAction.COMMENT, _("✍️ Comment")),
                         (EntryAction.OUTCOME, _("🎯 Outcome")),
                         (EntryAction.DELETE, _("🗑 Delete"))):
        kb.button(text=text, callback_data=EntryCD(activity_id=aid, action=action))
    kb.adjust(3)
    kb.row(InlineKeyboardButton(
        text=_("« History"), callback_data=HistCD(client_id=view.client_id, page=0).pack()))
    return kb.as_markup()


async def cb_entry(query: CallbackQuery, callback_data: EntryCD, actor: Actor, crm: CRM,
                   state: FSMContext) -> None:
    view = await crm.history.entry(actor, callback_data.activity_id)
    await forms.leave(state)
    await forms.screen(query, entry_text(view, actor, _("What to correct?")), entry_kb(view))


async def cb_entry_comment(query: CallbackQuery, callback_data: EntryCD, actor: Actor,
                           crm: CRM, state: FSMContext) -> None:
    view = await crm.history.entry(actor, callback_data.activity_id)
    await forms.start(state, EntryForm.comment)
    await forms.prompt(
        query, state, EntryForm.comment,
        _("«{name}»: send the new comment (or «-» to clear it).").format(
            name=html.escape(view.client_name)),
        lambda _step: InlineKeyboardMarkup(inline_keyboard=[[back_to_entry(view.item.id)]]),
        activity=view.item.id,
    )


async def msg_entry_comment(message: Message, actor: Actor, crm: CRM,
                            state: FSMContext) -> None:
    draft = await forms.values(state)
    try:
        client_id = await crm.history.change_comment(actor, int(draft["activity"]),
                                                     message.text or "")
    except InvalidInput as err:
        await message.answer(input_error(err.code))
        return
    await forms.finish(state)
    await message.answer(_("Saved."))
    await show_history(message, actor, crm, client_id)


async def cb_entry_outcome(query: CallbackQuery, callback_data: EntryCD, actor: Actor,
                           crm: CRM) -> None:
    view = await crm.history.entry(actor, callback_data.activity_id)
    outcomes = (await crm.classifiers.outcomes_for(view.item.type.id) if view.item.type
                else await crm.classifiers.items("outcome"))
    loc, aid = current_locale(), view.item.id
    kb = InlineKeyboardBuilder()
    for o in outcomes:
        kb.button(text=o.text(loc), callback_data=EntryOutcomeCD(activity_id=aid,
                                                                  outcome_id=o.id))
    kb.button(text=_("— no outcome"), callback_data=EntryOutcomeCD(activity_id=aid))
    kb.adjust(2)
    kb.row(back_to_entry(aid))
    await forms.screen(query, _("«{name}»: the outcome?").format(
        name=html.escape(view.client_name)), kb.as_markup())


async def cb_entry_outcome_pick(query: CallbackQuery, callback_data: EntryOutcomeCD,
                                actor: Actor, crm: CRM) -> None:
    client_id = await crm.history.change_outcome(actor, callback_data.activity_id,
                                                 callback_data.outcome_id)
    await show_history(query, actor, crm, client_id)


async def cb_entry_delete(query: CallbackQuery, callback_data: EntryCD, actor: Actor,
                          crm: CRM, state: FSMContext) -> None:
    view = await crm.history.entry(actor, callback_data.activity_id)
    aid = view.item.id
    await forms.start(state, EntryForm.confirm)
    await forms.prompt(
        query, state, EntryForm.confirm,
        entry_text(view, actor, _("Delete this record from the history?")),
        lambda step: forms.confirm_kb(_("🗑 Yes, delete"),
                                      EntryDeleteCD(activity_id=aid, step=step),
                                      back_to_entry(aid)),
        activity=aid)


async def cb_entry_delete_yes(query: CallbackQuery, callback_data: EntryDeleteCD,
                              actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    await forms.finish(state)
    client_id = await crm.history.delete_entry(actor, int(draft["activity"]))
    await query.answer(_("The record is deleted."))
    await show_history(query, actor, crm, client_id)


# --- a contact person ----------------------------------------------------------------------


def field_names() -> dict[PersonField, str]:
    return {
        PersonField.NAME: _("Name"),
        PersonField.POSITION: _("Position"),
        PersonField.PHONE: _("Phone"),
        PersonField.EMAIL: _("E-mail"),
    }


def person_text(view: ContactView) -> str:
    c = view.contact
    dash = "—"
    names = field_names()
    return "\n".join([
        _("«{name}»: a contact person").format(name=html.escape(view.client_name)),
        "",
        f"👤 <b>{html.escape(c.name)}</b>",
        f"{names[PersonField.POSITION]}: {html.escape(c.position or dash)}",
        f"{names[PersonField.PHONE]}: {html.escape(c.phone or dash)}",
        f"{names[PersonField.EMAIL]}: {html.escape(c.email or dash)}",
    ])


def back_to_person(person_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("« Back"),
        callback_data=PersonCD(person_id=person_id, action=PersonAction.OPEN).pack(),
    )


def person_kb(view: ContactView) -> InlineKeyboardMarkup:
    pid = view.contact.id
    kb = InlineKeyboardBuilder()
    for field, text in field_names().items():
        kb.button(text="✏️ " + text, callback_data=PersonEditCD(person_id=pid, field=field))
    kb.button(text=_("🗑 Remove"), callback_data=PersonCD(person_id=pid,
                                                          action=PersonAction.REMOVE))
    kb.adjust(2)
    kb.row(InlineKeyboardButton(
        text=_("« Contacts"),
        callback_data=ClientCD(id=view.client_id, action=ClientAction.CONTACTS).pack()))
    return kb.as_markup()


async def changeable_person(query: CallbackQuery, actor: Actor, crm: CRM,
                            person_id: int) -> ContactView | None:
    view = await crm.clients.contact(actor, person_id)
    if not view.can_change:
        await query.answer(_("Only the client's manager can edit the card."), show_alert=True)
        return None
    return view


async def cb_person(query: CallbackQuery, callback_data: PersonCD, actor: Actor, crm: CRM,
                    state: FSMContext) -> None:
    view = await changeable_person(query, actor, crm, callback_data.person_id)
    if view is None:
        return
    await forms.leave(state)
    await forms.screen(query, person_text(view), person_kb(view))


async def cb_person_edit(query: CallbackQuery, callback_data: PersonEditCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    view = await changeable_person(query, actor, crm, callback_data.person_id)
    if view is None:
        return
    pid = view.contact.id
    await forms.start(state, PersonForm.value)
    hint = (_("«{name}» · {field}: send the new value.") if callback_data.field is
            PersonField.NAME else _("«{name}» · {field}: send the new value (or «-» to clear "
                                    "it)."))
    await forms.prompt(
        query, state, PersonForm.value,
        hint.format(name=html.escape(view.contact.name),
                    field=field_names()[callback_data.field]),
        lambda _step: InlineKeyboardMarkup(inline_keyboard=[[back_to_person(pid)]]),
        person=pid, field=str(callback_data.field),
    )


async def msg_person_value(message: Message, actor: Actor, crm: CRM,
                           state: FSMContext) -> None:
    draft = await forms.values(state)
    pid = int(draft["person"])
    try:
        await crm.clients.update_contact(actor, pid, str(draft["field"]), message.text or "")
    except InvalidInput as err:
        await message.answer(input_error(err.code))
        return
    await forms.finish(state)
    view = await crm.clients.contact(actor, pid)
    await message.answer(_("Saved.") + "\n\n" + person_text(view), reply_markup=person_kb(view))


async def cb_person_remove(query: CallbackQuery, callback_data: PersonCD, actor: Actor,
                           crm: CRM, state: FSMContext) -> None:
    view = await changeable_person(query, actor, crm, callback_data.person_id)
    if view is None:
        return
    pid = view.contact.id
    await forms.start(state, PersonForm.confirm)
    await forms.prompt(
        query, state, PersonForm.confirm,
        person_text(view) + "\n\n" + _("Remove this contact person?"),
        lambda step: forms.confirm_kb(_("🗑 Yes, remove"),
                                      PersonRemoveCD(person_id=pid, step=step),
                                      back_to_person(pid)),
        person=pid)


async def cb_person_remove_yes(query: CallbackQuery, callback_data: PersonRemoveCD,
                               actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    await forms.finish(state)
    client_id = await crm.clients.remove_contact(actor, int(draft["person"]))
    await query.answer(_("The contact person is removed."))
    await show_contacts(query, actor, crm, client_id)


def create_router() -> Router:
    router = Router(name=__name__)
    cb = router.callback_query
    cb.register(cb_entry, EntryCD.filter(F.action == EntryAction.OPEN))
    cb.register(cb_entry_comment, EntryCD.filter(F.action == EntryAction.COMMENT))
    cb.register(cb_entry_outcome, EntryCD.filter(F.action == EntryAction.OUTCOME))
    cb.register(cb_entry_delete, EntryCD.filter(F.action == EntryAction.DELETE))
    cb.register(cb_entry_outcome_pick, EntryOutcomeCD.filter())
    cb.register(cb_entry_delete_yes, EntryDeleteCD.filter())
    cb.register(cb_person, PersonCD.filter(F.action == PersonAction.OPEN))
    cb.register(cb_person_remove, PersonCD.filter(F.action == PersonAction.REMOVE))
    cb.register(cb_person_edit, PersonEditCD.filter())
    cb.register(cb_person_remove_yes, PersonRemoveCD.filter())
    router.message.register(msg_entry_comment, EntryForm.comment, FormText())
    router.message.register(msg_person_value, PersonForm.value, FormText())
    return router
