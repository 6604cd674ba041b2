"""/new: a short guided form for a new client, with a duplicate check before creating.
Sharing a Telegram contact opens that client, or starts the form with its name and phone."""

from __future__ import annotations

import html
from enum import StrEnum

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import forms
from bot.filters import FormText
from bot.handlers.clients import input_error, send_card
from bot.keyboards.client import ClientAction, ClientCD
from bot.keyboards.menu import BTN_NEW
from bot.keyboards.types import CD, DbId, Percent, Step
from bot.render import current_locale, fmt_percent
from bot.views import classifier_title
from crm.access import can_create_clients, can_reassign
from crm.clients import ClientDraft
from crm.dto import Actor
from crm.errors import Forbidden, InvalidInput
from crm.parsing import international_phone, normalize_phone, parse_probability
from crm.service import CRM


class NewClientForm(StatesGroup):
    name = State()
    phone = State()
    duplicates = State()
    pick = State()
    trigger = State()
    probability = State()


forms.register(NewClientForm, lambda: _("new client"),
               buttons_only=(NewClientForm.duplicates, NewClientForm.pick))


class NewAction(StrEnum):
    SKIP = "skip"
    CREATE_ANYWAY = "go"
    CANCEL = "cancel"


class NewCD(CD, prefix="nc"):
    """A button of the new-client form: skip this question, create despite duplicates, or
    cancel. `step` is the token of the prompt it belongs to."""

    action: NewAction
    step: Step


class NewPickCD(CD, prefix="ncp"):
    """A classifier value picked for the new client (region, industry, source)."""

    item_id: DbId
    step: Step


class NewProbCD(CD, prefix="ncr"):
    value: Percent
    step: Step


PICK_ORDER = ("region", "industry", "source")
PROBABILITIES = (10, 30, 50, 70, 90)


def skip_kb(step: int, extra: list[tuple[str, CallbackData]] | None = None,
            can_skip: bool = True) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for text, data in extra or []:
        kb.button(text=text, callback_data=data)
    if can_skip:
        kb.button(text=_("Skip »"), callback_data=NewCD(action=NewAction.SKIP, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=NewCD(action=NewAction.CANCEL, step=step))
    kb.adjust(3 if extra and len(extra) > 4 else 2)
    return kb.as_markup()


def clean_name(text: str) -> str | None:
    name = " ".join(text.split())
    return name if 2 <= len(name) <= 300 else None


async def cmd_new(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                  command: CommandObject | None = None) -> None:
    """/new, the menu button, or «/new ИП Иванов» with the name given at once."""
    if not can_create_clients(actor):
        raise Forbidden()
    await forms.start(state, NewClientForm.name)
    given = command.args if command is not None else None
    if given:
        name = clean_name(given)
        if name is None:
            await message.answer(input_error("client_name"))
            await forms.prompt(message, state, NewClientForm.name,
                               _("New client. The company or person's name:"))
            return
        await ask_phone(message, state, name)
        return
    await forms.prompt(message, state, NewClientForm.name,
                       _("New client. The company or person's name:"))


async def msg_name(message: Message, state: FSMContext) -> None:
    name = clean_name(message.text or "")
    if name is None:
        await message.answer(input_error("client_name"))
        return
    await ask_phone(message, state, name)


async def ask_phone(message: Message, state: FSMContext, name: str, error: str = "") -> None:
    await forms.prompt(
        message, state, NewClientForm.phone,
        error + _("«{name}». Phone (or skip):").format(name=html.escape(name)), skip_kb,
        name=name,
    )


async def msg_phone(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    phone = normalize_phone(message.text or "")
    if phone is None:
        draft = await forms.values(state)
        await ask_phone(message, state, draft["name"], input_error("phone") + "\n\n")
        return
    # With its "+": the stored digits alone would be read back as a Russian number.
    await forms.update(state, phone=f"+{phone}")
    await after_contact_details(message, actor, crm, state)


async def after_contact_details(
    target: Message | CallbackQuery, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    """Name and phone are known: check for duplicates before asking anything else."""
    draft = await forms.values(state)
    dups = await crm.clients.duplicates(
        actor, ClientDraft(name=draft["name"], phone=draft.get("phone"))
    )
    if not dups:
        await ask_pick(target, crm, state, 0)
        return
    reasons = {"phone": _("same phone"), "email": _("same e-mail"), "name": _("same name")}
    lines = [_("Similar clients already exist:")]
    opens: list[tuple[str, CallbackData]] = []
    for d in dups[:5]:
        lines.append(f"• {html.escape(d.name)} — {reasons[d.reason]}"
                     + ("" if d.visible else " " + _("(another manager's client)")))
        if d.visible:
            opens.append((_("Open «{name}»").format(name=d.name[:30]),
                          ClientCD(id=d.id, action=ClientAction.OPEN)))

    if len(opens) > 1 and can_reassign(actor):
        # Heads and admins merge duplicates from a card (bot/handlers/client_admin.py).
        lines.append(_("If these are duplicates of each other, open one and press «{button}».")
                     .format(button=_("🧬 Merge with…")))

    def kb(step: int) -> InlineKeyboardMarkup:
        b = InlineKeyboardBuilder()
        for text, data in opens:
            b.button(text=text, callback_data=data)
        b.button(text=_("Create anyway"),
                 callback_data=NewCD(action=NewAction.CREATE_ANYWAY, step=step))
        b.button(text=_("✖️ Cancel"), callback_data=NewCD(action=NewAction.CANCEL, step=step))
        b.adjust(1)
        return b.as_markup()

    await forms.prompt(target, state, NewClientForm.duplicates, "\n".join(lines), kb)


async def ask_pick(target: Message | CallbackQuery, crm: CRM, state: FSMContext,
                   index: int) -> None:
    if index >= len(PICK_ORDER):
        await forms.prompt(target, state, NewClientForm.trigger,
                           _("What made them contact us (an event, a need)? Or skip:"), skip_kb)
        return
    kind = PICK_ORDER[index]
    items = await crm.classifiers.items(kind)
    loc = current_locale()
    await forms.prompt(
        target, state, NewClientForm.pick, classifier_title(kind) + ":",
        lambda step: skip_kb(step, [(i.text(loc), NewPickCD(item_id=i.id, step=step))
                                    for i in items]),
        pick=index,
    )


async def cb_cancel(query: CallbackQuery, callback_data: NewCD, state: FSMContext) -> None:
    if await forms.take(query, state, callback_data.step) is None:
        return
    await forms.finish(state)
    await forms.screen(query, _("Cancelled."))


async def cb_skip(query: CallbackQuery, callback_data: NewCD, actor: Actor, crm: CRM,
                  state: FSMContext) -> None:
    current = await state.get_state()
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    if current == NewClientForm.phone.state:
        await after_contact_details(query, actor, crm, state)
    elif current == NewClientForm.pick.state:
        await ask_pick(query, crm, state, int(draft["pick"]) + 1)
    elif current == NewClientForm.trigger.state:
        await ask_probability(query, state)
    elif current == NewClientForm.probability.state:
        await create(query, actor, crm, state)


async def cb_create_anyway(query: CallbackQuery, callback_data: NewCD, crm: CRM,
                           state: FSMContext) -> None:
    if await forms.take(query, state, callback_data.step, NewClientForm.duplicates) is None:
        return
    await ask_pick(query, crm, state, 0)


async def cb_pick(query: CallbackQuery, callback_data: NewPickCD, crm: CRM,
                  state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, NewClientForm.pick)
    if draft is None:
        return
    index = int(draft["pick"])
    kind = PICK_ORDER[index]
    if await crm.classifiers.item(kind, callback_data.item_id) is None:
        raise InvalidInput(kind)
    await forms.update(state, **{kind: callback_data.item_id})
    await ask_pick(query, crm, state, index + 1)


async def msg_trigger(message: Message, state: FSMContext) -> None:
    await forms.update(state, trigger=(message.text or "").strip()[:500])
    await ask_probability(message, state)


async def ask_probability(target: Message | CallbackQuery, state: FSMContext,
                          error: str = "") -> None:
    await forms.prompt(
        target, state, NewClientForm.probability,
        error + _("Your estimate of the purchase probability, % (or type a number):"),
        lambda step: skip_kb(step, [(fmt_percent(p), NewProbCD(value=p, step=step))
                                    for p in PROBABILITIES]),
    )


async def cb_probability(query: CallbackQuery, callback_data: NewProbCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    if await forms.take(query, state, callback_data.step, NewClientForm.probability) is None:
        return
    await forms.update(state, prob=callback_data.value)
    await create(query, actor, crm, state)


async def msg_probability(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    prob = parse_probability(message.text or "")
    if prob is None:
        await ask_probability(message, state, input_error("probability") + "\n\n")
        return
    await forms.update(state, prob=prob)
    await create(message, actor, crm, state)


async def create(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                 state: FSMContext) -> None:
    draft = await forms.values(state)
    client = ClientDraft(
        name=draft["name"],
        phone=draft.get("phone"),
        region_id=draft.get("region"),
        industry_id=draft.get("industry"),
        source_id=draft.get("source"),
        trigger_event=draft.get("trigger"),
        probability=draft.get("prob"),
        contact_name=draft.get("contact"),
    )
    # The form ends before the write: the same answer arriving again finds no form to answer.
    await forms.finish(state)
    ref = await crm.clients.create(actor, client)
    done = _("✅ Client «{name}» created.").format(name=html.escape(ref.name))
    if isinstance(target, CallbackQuery):
        await forms.screen(target, done)
        assert isinstance(target.message, Message)
        await send_card(target.message, actor, crm, ref.id)
    else:
        await target.answer(done)
        await send_card(target, actor, crm, ref.id)


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
    await forms.start(state, NewClientForm.phone, name=name, phone=phone, contact=name)
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
    router.callback_query.register(cb_cancel, NewCD.filter(F.action == NewAction.CANCEL))
    router.callback_query.register(cb_skip, NewCD.filter(F.action == NewAction.SKIP))
    router.callback_query.register(cb_create_anyway,
                                   NewCD.filter(F.action == NewAction.CREATE_ANYWAY))
    router.callback_query.register(cb_pick, NewPickCD.filter())
    router.callback_query.register(cb_probability, NewProbCD.filter())
    router.message.register(msg_contact, StateFilter(None), F.contact)
    return router
