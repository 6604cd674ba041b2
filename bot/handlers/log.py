"""Logging a contact (type → outcome → comment or voice) and the next step that follows it:
plan the next contact, close the deal, or say explicitly that there is none. Also what a
manager sends the bot outside a form (a forwarded message, a photo, a document): into which
client's history it goes."""

from __future__ import annotations

import html
from datetime import date, datetime, time

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import forms
from bot.filters import FormText
from bot.handlers.clients import input_error, run_search
from bot.keyboards.client import (
    CalAction,
    CalCD,
    ClientAction,
    ClientCD,
    FwdCancelCD,
    FwdCD,
    LogOutcomeCD,
    LogSkipCD,
    LogTypeCD,
    PlanCD,
    PlanWhen,
    SubjectCD,
    calendar_kb,
    card_back_kb,
    hours_kb,
    next_step_kb,
    outcomes_kb,
    planned_kb,
    skip_comment_kb,
    types_kb,
)
from bot.render import current_locale, fmt_when
from crm.classifiers import loggable
from crm.clients import ClientRef
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.service import CRM
from crm.when import When, quick_when, read_when

# How long "What is the next step?" and "the subject?" take typed text as their answer.
SOFT_PROMPT_TTL = 30 * 60


class LogForm(StatesGroup):
    comment = State()


class PlanForm(StatesGroup):
    next_step = State()  # "What is the next step?": buttons, or a typed date
    when = State()  # "When?" after «⌨️ Type it»
    subject = State()  # the planned contact's subject


class FileForm(StatesGroup):
    client = State()  # which client's history a forwarded message or a file goes to


forms.register(LogForm, lambda: _("contact record"))
forms.register(PlanForm, lambda: _("next contact"))
forms.register(FileForm, lambda: _("record for the history"))


async def cb_log_start(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                       crm: CRM) -> None:
    client = await crm.clients.name(actor, callback_data.id)
    types = loggable(await crm.classifiers.items("activity_type"))
    await forms.screen(query, _("<b>{name}</b>: what kind of contact?").format(
        name=html.escape(client.name)), types_kb(client.id, types, current_locale()))


async def cb_log_type(query: CallbackQuery, callback_data: LogTypeCD, actor: Actor,
                      crm: CRM) -> None:
    card = await crm.clients.name(actor, callback_data.client_id)
    kind = await crm.classifiers.item("activity_type", callback_data.type_id)
    if kind is None:
        raise InvalidInput("activity_type")
    outcomes = await crm.classifiers.outcomes_for(kind.id)
    loc = current_locale()
    await forms.screen(
        query,
        _("<b>{name}</b> · {type}: the outcome?").format(
            name=html.escape(card.name), type=html.escape(kind.text(loc))
        ),
        outcomes_kb(card.id, kind.id, outcomes, loc, callback_data.planned_id),
    )


async def cb_log_outcome(query: CallbackQuery, callback_data: LogOutcomeCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    # Re-checks visibility now, not only when the comment arrives.
    card = await crm.clients.name(actor, callback_data.client_id)
    await forms.start(state, LogForm.comment)
    await forms.prompt(
        query, state, LogForm.comment,
        _("<b>{name}</b>: write a comment or record a voice note:").format(
            name=html.escape(card.name)),
        lambda step: skip_comment_kb(card.id, step),
        client=card.id, type=callback_data.type_id, outcome=callback_data.outcome_id,
    )


async def _save_log(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                    state: FSMContext, text: str | None, voice: str | None) -> None:
    draft = await forms.values(state)
    client_id = int(draft["client"])
    logged = await crm.history.log(
        actor, client_id, int(draft["type"]), draft.get("outcome"), text,
        attachment_kind="voice" if voice else None, attachment_ref=voice,
    )
    await ask_next_step(target, state, client_id, logged.deal_id,
                        saved_text(logged.client_name),
                        crm.clock.now().timestamp())


def saved_text(client_name: str) -> str:
    return _("✅ «{name}»: saved to the history. What is the next step?").format(
        name=html.escape(client_name))


async def ask_next_step(target: Message | CallbackQuery, state: FSMContext, client_id: int,
                        deal_id: int | None, text: str, now: float) -> None:
    """The next-step prompt: its buttons, or a date typed straight away."""
    await forms.start(state, PlanForm.next_step)
    await forms.prompt(target, state, PlanForm.next_step, text,
                       lambda _step: next_step_kb(client_id, deal_id),
                       client=client_id, deal=deal_id, at=now)


async def msg_log_comment(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await _save_log(message, actor, crm, state, message.text, None)


async def msg_log_voice(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    assert message.voice is not None  # guaranteed by the F.voice filter
    await _save_log(message, actor, crm, state, message.caption, message.voice.file_id)


async def cb_log_skip(query: CallbackQuery, callback_data: LogSkipCD, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    if await forms.take(query, state, callback_data.step, LogForm.comment) is None:
        return
    await _save_log(query, actor, crm, state, None, None)


async def _planned(target: Message | CallbackQuery, actor: Actor, crm: CRM, state: FSMContext,
                   client_id: int, due: When | datetime, deal_id: int | None) -> None:
    asked = due if isinstance(due, When) else When(due)
    planned = await crm.planning.plan(actor, client_id, asked.due, deal_id=deal_id)
    await forms.finish(state)
    when = fmt_when(planned.due_at, actor.tz, crm.clock.now())
    name = html.escape(planned.client_name)
    text = (_("⏭ Next contact with «{name}» moved to {when}.") if planned.moved
            else _("⏭ Next contact with «{name}»: {when}.")).format(name=name, when=when)
    if asked.moved_from_day_off:
        text += "\n" + _("That day is a day off for you, so it is the next working day.")
    elif asked.moved_out_of_hours:
        text += "\n" + _("That is outside your working hours, so it is their next start.")
    await forms.screen(target, text, planned_kb(planned.id, client_id))


async def cb_subject(query: CallbackQuery, callback_data: SubjectCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    planned = await crm.planning.get(actor, callback_data.planned_id)
    await forms.start(state, PlanForm.subject)
    await forms.prompt(
        query, state, PlanForm.subject,
        _("«{name}»: what is the contact about? Type the subject, e.g. {example}.").format(
            name=html.escape(planned.client_name),
            example=_("«Call: budget and who decides»")),
        lambda _step: card_back_kb(planned.client_id),
        planned=planned.id, client=planned.client_id,
    )


async def msg_subject(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    subject = " ".join((message.text or "").split())
    await crm.planning.set_note(actor, int(draft["planned"]), subject)
    await forms.finish(state)
    await message.answer(_("📝 Subject saved: {subject}").format(subject=html.escape(subject)),
                         reply_markup=card_back_kb(int(draft["client"])))


async def cb_plan_menu(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                       crm: CRM, state: FSMContext) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    deal_id = card.open_deals[0].id if len(card.open_deals) == 1 else None
    await forms.start(state, PlanForm.next_step)
    await forms.prompt(
        query, state, PlanForm.next_step,
        _("<b>{name}</b>: when is the next contact? Tap, or type a date.").format(
            name=html.escape(card.name)),
        lambda _step: next_step_kb(card.id, deal_id, with_close=False),
        client=card.id, deal=deal_id, at=crm.clock.now().timestamp(),
    )


async def cb_plan_quick(query: CallbackQuery, callback_data: PlanCD, actor: Actor, crm: CRM,
                        state: FSMContext) -> None:
    now_local = crm.clock.now().astimezone(actor.tz)
    when = quick_when(callback_data.when, now_local, actor.hours)
    await _planned(query, actor, crm, state, callback_data.client_id, when,
                   callback_data.deal_id)


async def cb_plan_calendar(query: CallbackQuery, callback_data: PlanCD, actor: Actor,
                           crm: CRM) -> None:
    cid, did = callback_data.client_id, callback_data.deal_id
    now_local = crm.clock.now().astimezone(actor.tz)
    await crm.clients.name(actor, cid)
    await forms.screen(query, _("Pick a day:"),
                       calendar_kb(cid, did, now_local.year, now_local.month, now_local.date()))


async def cb_plan_type(query: CallbackQuery, callback_data: PlanCD, actor: Actor, crm: CRM,
                       state: FSMContext) -> None:
    cid, did = callback_data.client_id, callback_data.deal_id
    card = await crm.clients.name(actor, cid)
    await forms.start(state, PlanForm.when)
    await forms.prompt(
        query, state, PlanForm.when,
        _("<b>{name}</b>: when? For example: {examples}.").format(
            name=html.escape(card.name),
            examples=_("tomorrow 3pm, fri 11, in 3 days, 03.12 14:30")),
        lambda _step: card_back_kb(cid), client=cid, deal=did,
    )


async def cb_cal_month(query: CallbackQuery, callback_data: CalCD, actor: Actor,
                       crm: CRM) -> None:
    today = crm.clock.now().astimezone(actor.tz).date()
    year, month = divmod(callback_data.value, 100)
    if not 1 <= month <= 12 or not today.year <= year <= today.year + 2:
        raise InvalidInput("when")
    await forms.screen(query, _("Pick a day:"), calendar_kb(
        callback_data.client_id, callback_data.deal_id, year, month, today))


def _day(value: int) -> date:
    try:
        return date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        raise InvalidInput("when") from None


async def cb_cal_day(query: CallbackQuery, callback_data: CalCD) -> None:
    day = _day(callback_data.value)
    await forms.screen(query, _("Pick the time:"),
                       hours_kb(callback_data.client_id, callback_data.deal_id, day))


async def cb_cal_hour(query: CallbackQuery, callback_data: CalCD, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    day, hour = _day(callback_data.value // 100), callback_data.value % 100
    if hour > 23:
        raise InvalidInput("when")
    due = datetime.combine(day, time(hour), actor.tz)
    await _planned(query, actor, crm, state, callback_data.client_id, due,
                   callback_data.deal_id)


async def msg_plan_text(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    """The answer to "When?": a date, or the reason it is not one."""
    draft = await forms.values(state)
    now_local = crm.clock.now().astimezone(actor.tz)
    try:
        when = read_when(message.text or "", now_local, actor.hours)
        await _planned(message, actor, crm, state, int(draft["client"]), when,
                       draft.get("deal"))
    except InvalidInput as err:
        await message.answer(input_error(err.code))


def _fresh(draft: forms.Draft, crm: CRM) -> bool:
    """A prompt that did not ask for typing outright takes typed text for a while only: a
    name typed an hour later is a search, not an answer to an old question."""
    at = draft.get("at")
    return isinstance(at, (int, float)) and crm.clock.now().timestamp() - at < SOFT_PROMPT_TTL


async def msg_next_step_text(message: Message, actor: Actor, crm: CRM,
                             state: FSMContext) -> None:
    """At "What is the next step?" a typed date plans it; any other text is a search."""
    draft = await forms.values(state)
    now_local = crm.clock.now().astimezone(actor.tz)
    try:
        if not _fresh(draft, crm):
            raise InvalidInput("when")
        when = read_when(message.text or "", now_local, actor.hours)
    except InvalidInput as err:
        if err.code != "when":
            await message.answer(input_error(err.code))
            return
        # Not a date at all: a name to find.
        await forms.finish(state)
        await run_search(message, actor, crm, state, message.text or "")
        return
    await _planned(message, actor, crm, state, int(draft["client"]), when, draft.get("deal"))


async def cb_no_next(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                     crm: CRM, state: FSMContext) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    deal_id = card.open_deals[0].id if len(card.open_deals) == 1 else None
    await crm.planning.no_next_step(actor, card.id, deal_id)
    await forms.finish(state)
    await forms.screen(query, _("Recorded: no next step for «{name}».").format(
        name=html.escape(card.name)), card_back_kb(card.id))


def _forward_sender(message: Message) -> str:
    origin = message.forward_origin
    if origin is None:
        return ""
    return (getattr(origin, "sender_user_name", None)
            or getattr(getattr(origin, "sender_user", None), "full_name", None)
            or getattr(getattr(origin, "chat", None), "title", None) or "")


def _attachment(message: Message) -> tuple[str | None, str | None]:
    if message.photo:
        return "photo", message.photo[-1].file_id
    if message.document is not None:
        return "document", message.document.file_id
    if message.voice is not None:
        return "voice", message.voice.file_id
    return None, None


async def msg_to_history(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    """A forwarded client's message, a photo or a document (a signed contract, a business
    card) outside any form: which client's history does it go to?"""
    sender = _forward_sender(message)[:100]
    kind, ref = _attachment(message)
    text = (message.text or message.caption or "")[:3000]
    await forms.start(state, FileForm.client, text=text, sender=sender, kind=kind, ref=ref)
    found = await crm.clients.search(actor, sender) if sender else None
    await _ask_client(message, state, found.items if found else [])


async def _ask_client(target: Message | CallbackQuery, state: FSMContext,
                      found: list[ClientRef]) -> None:
    draft = await forms.values(state)
    what = {"photo": _("this photo"), "document": _("this document"),
            "voice": _("this voice note")}.get(draft.get("kind") or "", _("this message"))
    text = _("Into which client's history should {what} go?").format(what=what)
    text += "\n" + (_("Pick the client, or type a name to find another one.") if found
                    else _("Type the client's name, phone or e-mail to find them."))

    def kb(step: int) -> InlineKeyboardMarkup:
        b = InlineKeyboardBuilder()
        for ref in found[:6]:
            b.button(text=ref.name[:40], callback_data=FwdCD(client_id=ref.id, step=step))
        b.button(text=_("✖️ Cancel"), callback_data=FwdCancelCD(step=step))
        b.adjust(1)
        return b.as_markup()

    await forms.prompt(target, state, FileForm.client, text, kb)


async def msg_file_client(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    result = await crm.clients.search(actor, (message.text or "").strip()[:200])
    if not result.items:
        await message.answer(_("Nothing found. Try another name, a phone or an e-mail."))
        return
    await _ask_client(message, state, result.items)


async def cb_forward(query: CallbackQuery, callback_data: FwdCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, FileForm.client)
    if draft is None:
        return
    kind = await crm.classifiers.by_code("activity_type", "message")
    if kind is None:
        raise InvalidInput("activity_type")
    sender = draft.get("sender")
    body = ((f"{sender}: " if sender else "") + (draft.get("text") or "")) or None
    logged = await crm.history.log(
        actor, callback_data.client_id, kind.id, None, body,
        attachment_kind=draft.get("kind"), attachment_ref=draft.get("ref"),
    )
    await ask_next_step(query, state, callback_data.client_id, logged.deal_id,
                        saved_text(logged.client_name),
                        crm.clock.now().timestamp())


async def cb_forward_cancel(query: CallbackQuery, callback_data: FwdCancelCD,
                            state: FSMContext) -> None:
    if await forms.claim(state, callback_data.step) is None:
        await query.answer()
        return
    await forms.finish(state)
    await forms.screen(query, _("Cancelled."))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(cb_log_start, ClientCD.filter(F.action == ClientAction.LOG))
    router.callback_query.register(cb_log_type, LogTypeCD.filter())
    router.callback_query.register(cb_log_outcome, LogOutcomeCD.filter())
    router.callback_query.register(cb_log_skip, LogSkipCD.filter())
    router.message.register(msg_log_comment, LogForm.comment, FormText())
    router.message.register(msg_log_voice, LogForm.comment, F.voice)
    router.callback_query.register(cb_plan_menu, ClientCD.filter(F.action == ClientAction.PLAN))
    router.callback_query.register(cb_plan_calendar, PlanCD.filter(F.when == PlanWhen.CALENDAR))
    router.callback_query.register(cb_plan_type, PlanCD.filter(F.when == PlanWhen.TYPE))
    router.callback_query.register(cb_plan_quick, PlanCD.filter())
    router.callback_query.register(cb_cal_month, CalCD.filter(F.action == CalAction.MONTH))
    router.callback_query.register(cb_cal_day, CalCD.filter(F.action == CalAction.DAY))
    router.callback_query.register(cb_cal_hour, CalCD.filter(F.action == CalAction.HOUR))
    router.message.register(msg_plan_text, PlanForm.when, FormText())
    router.message.register(msg_next_step_text, PlanForm.next_step, FormText())
    router.callback_query.register(cb_subject, SubjectCD.filter())
    router.message.register(msg_subject, PlanForm.subject, FormText())
    router.callback_query.register(cb_no_next,
                                   ClientCD.filter(F.action == ClientAction.NO_NEXT))
    router.message.register(msg_file_client, FileForm.client, FormText())
    router.callback_query.register(cb_forward, FwdCD.filter())
    router.callback_query.register(cb_forward_cancel, FwdCancelCD.filter())
    return router


def create_files_router() -> Router:
    """Forwarded messages, photos and documents outside a form; included after the forms."""
    router = Router(name=__name__ + ".files")
    for kind in (F.forward_origin, F.photo, F.document):
        # The next-step prompt is soft: a file sent there starts a new record.
        router.message.register(msg_to_history, StateFilter(None, PlanForm.next_step), kind)
    return router
