"""/new: a short guided form for a new client, with a duplicate check before creating.
Sharing a Telegram contact opens that client, or starts the form with its name and phone."""

from __future__ import annotations

import html
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.filters import FormText
from bot.handlers.clients import input_error, send_card
from bot.keyboards.client import ClientCD
from bot.keyboards.menu import BTN_NEW
from bot.render import current_locale
from bot.views import classifier_title
from crm.access import can_create_clients
from crm.clients import ClientDraft
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput
from crm.parsing import international_phone, normalize_phone, parse_probability
from crm.service import CRM


class NewClientForm(StatesGroup):
    name = State()
    phone = State()
    pick = State()
    trigger = State()
    probability = State()


class NewCD(CallbackData, prefix="nc"):
    """step: skip (this step), pick (a classifier value), prob (a probability), go (create
    even though similar clients exist), cancel."""

    step: str
    value: int = 0
    seq: int = 0  # which prompt it belongs to: a second tap on an old one is ignored


PICK_ORDER = ("region", "industry", "source")


async def next_seq(state: FSMContext) -> int:
    seq = int((await state.get_data()).get("nc_seq", 0)) + 1
    await state.update_data(nc_seq=seq)
    return seq


def skip_kb(seq: int, extra: list[tuple[str, str, int]] | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for text, step, value in extra or []:
        kb.button(text=text, callback_data=NewCD(step=step, value=value, seq=seq))
    kb.button(text=_("Skip »"), callback_data=NewCD(step="skip", seq=seq))
    kb.button(text=_("✖️ Cancel"), callback_data=NewCD(step="cancel", seq=seq))
    kb.adjust(3 if extra and len(extra) > 4 else 2)
    return kb.as_markup()


async def cmd_new(message: Message, actor: Actor, state: FSMContext) -> None:
    if not can_create_clients(actor):
        raise Forbidden()
    await state.clear()
    await state.set_state(NewClientForm.name)
    await message.answer(_("New client. The company or person's name:"))


async def msg_name(message: Message, state: FSMContext) -> None:
    name = " ".join((message.text or "").split())
    if not 2 <= len(name) <= 300:
        await message.answer(input_error("client_name"))
        return
    await state.update_data(nc_name=name)
    await state.set_state(NewClientForm.phone)
    await message.answer(_("Phone (or skip):"), reply_markup=skip_kb(await next_seq(state)))


async def msg_phone(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    phone = normalize_phone(message.text or "")
    if phone is None:
        await message.answer(input_error("phone"), reply_markup=skip_kb(await next_seq(state)))
        return
    # With its "+": the stored digits alone would be read back as a Russian number.
    await state.update_data(nc_phone=f"+{phone}")
    await after_contact_details(message, actor, crm, state)


async def after_contact_details(
    message: Message, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    """Name and phone are known: check for duplicates before asking anything else."""
    data = await state.get_data()
    draft = ClientDraft(name=data["nc_name"], phone=data.get("nc_phone"))
    dups = await crm.clients.duplicates(actor, draft)
    if dups:
        reasons = {"phone": _("same phone"), "email": _("same e-mail"), "name": _("same name")}
        lines = [_("Similar clients already exist:")]
        kb = InlineKeyboardBuilder()
        for d in dups[:5]:
            lines.append(f"• {html.escape(d.name)} — {reasons[d.reason]}"
                         + ("" if d.visible else " " + _("(another manager's client)")))
            if d.visible:
                kb.button(text=_("Open «{name}»").format(name=d.name[:30]),
                          callback_data=ClientCD(id=d.id, action="open"))
        seq = await next_seq(state)
        kb.button(text=_("Create anyway"), callback_data=NewCD(step="go", seq=seq))
        kb.button(text=_("✖️ Cancel"), callback_data=NewCD(step="cancel", seq=seq))
        kb.adjust(1)
        await state.set_state(NewClientForm.pick)
        await state.update_data(nc_step=-1)
        await message.answer("\n".join(lines), reply_markup=kb.as_markup())
        return
    await ask_pick(message, crm, state, 0)


async def ask_pick(message: Message, crm: CRM, state: FSMContext, index: int) -> None:
    if index >= len(PICK_ORDER):
        await state.set_state(NewClientForm.trigger)
        await message.answer(
            _("What made them contact us (an event, a need)? Or skip:"),
            reply_markup=skip_kb(await next_seq(state)),
        )
        return
    kind = PICK_ORDER[index]
    items = await crm.classifiers.items(kind)
    loc = current_locale()
    await state.set_state(NewClientForm.pick)
    await state.update_data(nc_step=index)
    await message.answer(
        classifier_title(kind) + ":",
        reply_markup=skip_kb(
            await next_seq(state), [(i.text(loc), "pick", i.id) for i in items]
        ),
    )


async def cb_new(query: CallbackQuery, callback_data: NewCD, actor: Actor, crm: CRM,
                 state: FSMContext) -> None:
    current = await state.get_state()
    if current is None or not current.startswith(NewClientForm.__name__):
        await query.answer(_("This form is no longer active."), show_alert=True)
        return
    data = await state.get_data()
    if callback_data.seq != data.get("nc_seq"):
        # A second tap on a prompt already answered must not answer the next one.
        await query.answer()
        return
    await state.update_data(nc_seq=-1)
    await query.answer()
    if not isinstance(query.message, Message):
        raise Conflict("form_expired")
    message = query.message
    await message.edit_reply_markup(reply_markup=None)
    step = callback_data.step
    if step == "cancel":
        await state.clear()
        await message.answer(_("Cancelled."))
        return
    if current == NewClientForm.phone.state:
        await after_contact_details(message, actor, crm, state)
        return
    if current == NewClientForm.pick.state:
        index = int(data.get("nc_step", 0))
        if step == "pick" and 0 <= index < len(PICK_ORDER):
            kind = PICK_ORDER[index]
            if await crm.classifiers.item(kind, callback_data.value) is None:
                raise InvalidInput(kind)
            await state.update_data({f"nc_{kind}": callback_data.value})
        await ask_pick(message, crm, state, index + 1)
        return
    if current == NewClientForm.trigger.state:
        await ask_probability(message, state)
        return
    if current == NewClientForm.probability.state:
        if step == "prob":
            await state.update_data(nc_prob=callback_data.value)
        await create(message, actor, crm, state)


async def msg_trigger(message: Message, state: FSMContext) -> None:
    await state.update_data(nc_trigger=(message.text or "").strip()[:500])
    await ask_probability(message, state)


async def ask_probability(message: Message, state: FSMContext) -> None:
    await state.set_state(NewClientForm.probability)
    await message.answer(
        _("Your estimate of the purchase probability, % (or type a number):"),
        reply_markup=probability_kb(await next_seq(state)),
    )


def probability_kb(seq: int) -> InlineKeyboardMarkup:
    return skip_kb(seq, [(f"{p}%", "prob", p) for p in (10, 30, 50, 70, 90)])


async def msg_probability(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    prob = parse_probability(message.text or "")
    if prob is None:
        await message.answer(input_error("probability"),
                             reply_markup=probability_kb(await next_seq(state)))
        return
    await state.update_data(nc_prob=prob)
    await create(message, actor, crm, state)


async def create(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    data: dict[str, Any] = await state.get_data()
    draft = ClientDraft(
        name=data["nc_name"],
        phone=data.get("nc_phone"),
        region_id=data.get("nc_region"),
        industry_id=data.get("nc_industry"),
        source_id=data.get("nc_source"),
        trigger_event=data.get("nc_trigger"),
        probability=data.get("nc_prob"),
        contact_name=data.get("nc_contact"),
    )
    try:
        ref = await crm.clients.create(actor, draft)
    except InvalidInput as err:
        await message.answer(input_error(err.code))
        return
    await state.clear()
    await message.answer(_("✅ Client «{name}» created.").format(name=html.escape(ref.name)))
    await send_card(message, actor, crm, ref.id)


async def msg_contact(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    """A shared Telegram contact: open the client with that phone, or start a new one."""
    contact = message.contact
    assert contact is not None
    # A contact's number is international, often without its "+".
    phone = international_phone(contact.phone_number)
    found = await crm.clients.find_by_phone(actor, phone) if phone else None
    if found is not None:
        await send_card(message, actor, crm, found.id)
        return
    if not can_create_clients(actor):
        await message.answer(_("No client with this phone among yours."))
        return
    name = " ".join(filter(None, [contact.first_name, contact.last_name])) or contact.phone_number
    await state.clear()
    await state.update_data(nc_name=name, nc_phone=phone,
                            nc_contact=name)
    await message.answer(_("No client with this phone yet. Creating «{name}».").format(
        name=html.escape(name)))
    await after_contact_details(message, actor, crm, state)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_new, Command("new"))
    router.message.register(cmd_new, F.text == BTN_NEW)
    router.message.register(msg_name, NewClientForm.name, FormText())
    router.message.register(msg_phone, NewClientForm.phone, FormText())
    router.message.register(msg_trigger, NewClientForm.trigger, FormText())
    router.message.register(msg_probability, NewClientForm.probability, FormText())
    router.callback_query.register(cb_new, NewCD.filter())
    router.message.register(msg_contact, StateFilter(None), F.contact)
    return router
