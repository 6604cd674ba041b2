"""Deals, invoices and payments on a phone: thin handlers over crm.deals and crm.billing.

Every button is re-checked in crm (role, ownership, the deal still open). The forms keep
their data under keys of their own in the FSM data, because other features keep theirs
there too (the last search query), and leave the state with set_state(None), never clear().
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.deal_views import deal_text, e, invoice_text, invoices_text, money
from bot.filters import FormText
from bot.keyboards.client import ClientCD
from bot.keyboards.deals import (
    DealCancelCD,
    DealCD,
    DealDateCD,
    InvDueCD,
    InvoiceCD,
    LossCD,
    StageCD,
    cancel_kb,
    client_deals_kb,
    client_invoices_kb,
    close_date_kb,
    deal_invoices_kb,
    deal_kb,
    due_kb,
    invoice_kb,
    loss_kb,
    stages_kb,
    won_kb,
)
from bot.render import current_locale
from crm.billing import InvoiceView
from crm.deals import OTHER_REASON, DealView, check_amount, clean_title
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput
from crm.parsing import parse_amount, parse_when
from crm.service import CRM


class DealForm(StatesGroup):
    title = State()
    amount = State()
    close = State()  # expected close date: buttons or typed
    won_amount = State()  # "Won": confirm with the button or type the final amount
    loss_note = State()  # "Other" loss reason: a few words why


class InvoiceForm(StatesGroup):
    amount = State()
    due = State()


class PaymentForm(StatesGroup):
    amount = State()


FORM_KEY = "deal_form"
MY_STATES = frozenset(
    DealForm.__all_states_names__
    + InvoiceForm.__all_states_names__
    + PaymentForm.__all_states_names__
)
# A typed command is never an answer to a form question; let its own handler have it.
TYPED = FormText()


# --- plumbing ------------------------------------------------------------------------------


async def show(query: CallbackQuery, text: str, kb: InlineKeyboardMarkup | None) -> None:
    """Replace the screen the button was on; a new message when it cannot be edited."""
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(text, reply_markup=kb)
            return
        except TelegramBadRequest as err:
            if "not modified" in str(err):
                return
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, text, reply_markup=kb)


async def form(state: FSMContext) -> dict[str, Any]:
    data = await state.get_data()
    found = data.get(FORM_KEY)
    return dict(found) if isinstance(found, dict) else {}


async def start_form(state: FSMContext, step: State, **values: Any) -> None:
    await state.set_state(step)
    await state.update_data({FORM_KEY: values})


async def put(state: FSMContext, step: State, **values: Any) -> None:
    await state.set_state(step)
    await state.update_data({FORM_KEY: {**await form(state), **values}})


async def leave(state: FSMContext) -> None:
    """Out of whichever deal form the user was in (not out of someone else's form)."""
    if await state.get_state() in MY_STATES:
        await state.set_state(None)
        await state.update_data({FORM_KEY: None})


async def field(state: FSMContext, key: str) -> Any:
    """A value the form collected; gone (a restart, an old chat) means start again."""
    data = await form(state)
    if key not in data:
        await leave(state)
        raise Conflict("form_expired")
    return data[key]


async def in_step(query: CallbackQuery, state: FSMContext, step: State) -> bool:
    """A date button of a form that is already over answers so, instead of acting."""
    if await state.get_state() == step.state:
        return True
    await query.answer(_("This form is already closed."), show_alert=True)
    return False


def local_today(crm: CRM, actor: Actor) -> date:
    return crm.clock.now().astimezone(actor.tz).date()


def month_end(day: date, months_ahead: int = 0) -> date:
    year, month = divmod(day.month - 1 + months_ahead, 12)
    y, m = day.year + year, month + 1
    return date(y, m, calendar.monthrange(y, m)[1])


async def bad_amount(message: Message) -> None:
    await message.answer(
        _("I could not read the amount. Type a number, for example 150,000 or 1.5m.")
    )


# --- the client's deals and invoices -------------------------------------------------------


async def cb_client_deals(
    query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await leave(state)
    found = await crm.deals.client_deals(actor, callback_data.id)
    head = _("<b>Deals of {name}</b>").format(name=e(found.client_name))
    if not found.deals:
        head += "\n" + _("No deals yet.")
    elif len(found.deals) > 30:
        head += "\n" + _("The 30 latest of {n} are shown.").format(n=len(found.deals))
    await show(query, head, client_deals_kb(found.client_id, found.deals, found.can_change))
    await query.answer()


async def cb_client_invoices(
    query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await leave(state)
    lines = await crm.billing.invoices_of_client(actor, callback_data.id)
    text = invoices_text(_("<b>Invoices of the client</b>"), lines, with_deal=True)
    await show(query, text, client_invoices_kb(callback_data.id, lines))
    await query.answer()


# --- a new deal ----------------------------------------------------------------------------


async def cb_new_deal(
    query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    client = await crm.deals.new_deal_client(actor, callback_data.id)
    await start_form(state, DealForm.title, client_id=client.id)
    await show(query, _("New deal for <b>{name}</b>.\nWhat is it? Type a short title, e.g. "
                        "«20 printers».").format(name=e(client.name)), cancel_kb())
    await query.answer()


async def msg_deal_title(message: Message, state: FSMContext) -> None:
    title = clean_title(message.text or "")
    await put(state, DealForm.amount, title=title)
    await message.answer(
        _("The amount of the deal? For example: 150,000, 1.5m, 2m."), reply_markup=cancel_kb()
    )


async def msg_deal_amount(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    amount = parse_amount(message.text or "")
    if amount is None:
        await bad_amount(message)
        return
    amount = check_amount(amount)
    await put(state, DealForm.close, amount=str(amount))
    today = local_today(crm, actor)
    await message.answer(
        _("When do you expect to close it? Pick, or type a date (e.g. 20.12 or “in 2 "
          "weeks”)."),
        reply_markup=close_date_kb(month_end(today), month_end(today, 1)),
    )


async def _create(actor: Actor, crm: CRM, state: FSMContext, close: date | None) -> DealView:
    client_id = int(await field(state, "client_id"))
    title, amount = str(await field(state, "title")), Decimal(await field(state, "amount"))
    view = await crm.deals.create(actor, client_id, title, amount, close)
    await leave(state)
    return view


async def cb_close_date(
    query: CallbackQuery, callback_data: DealDateCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    if not await in_step(query, state, DealForm.close):
        return
    today = local_today(crm, actor)
    close = {"eom": month_end(today), "nm": month_end(today, 1)}.get(callback_data.choice)
    view = await _create(actor, crm, state, close)
    await show(query, deal_text(view, actor), deal_kb(view))
    await query.answer(_("Deal created."))


async def msg_close_date(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    when = parse_when(message.text or "", crm.clock.now().astimezone(actor.tz))
    if when is None:
        await message.answer(_("I could not read the date. Type it like 20.12, 31 December or "
                               "“in a month”, or pick a button."))
        return
    view = await _create(actor, crm, state, when.date())
    await message.answer(deal_text(view, actor), reply_markup=deal_kb(view))


# --- the deal ------------------------------------------------------------------------------


async def cb_deal(
    query: CallbackQuery, callback_data: DealCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    deal_id, action = callback_data.id, callback_data.action
    loc = current_locale()
    if action == "stages":
        view = await crm.deals.open_for_change(actor, deal_id)
        text = _("Move <b>{title}</b> to which stage? Now: {stage}.").format(
            title=e(view.title), stage=e(view.stage.text(loc))
        )
        await show(query, text, stages_kb(view.id, await crm.deals.stages(), view.stage.id))
    elif action == "won":
        view = await crm.deals.open_for_change(actor, deal_id)
        await start_form(state, DealForm.won_amount, deal_id=view.id)
        amount = money(view.amount, view.currency)
        text = _("Close <b>{title}</b> as won with {amount}? Confirm, or type the final "
                 "amount.").format(title=e(view.title), amount=amount)
        await show(query, text, won_kb(view.id, amount))
    elif action == "wonok":
        view = await crm.deals.win(actor, deal_id)
        await leave(state)
        await show(query, deal_text(view, actor), deal_kb(view))
        await query.answer(_("Deal won! 🎉"))
        return
    elif action == "lost":
        view = await crm.deals.open_for_change(actor, deal_id)
        await leave(state)
        text = _("Why was <b>{title}</b> lost? It is at the stage «{stage}».").format(
            title=e(view.title), stage=e(view.stage.text(loc))
        )
        await show(query, text, loss_kb(view.id, await crm.deals.loss_reasons()))
    elif action == "reopen":
        view = await crm.deals.reopen(actor, deal_id)
        await show(query, deal_text(view, actor), deal_kb(view))
        await query.answer(_("Deal reopened."))
        return
    elif action == "inv":
        await leave(state)
        view = await crm.deals.deal(actor, deal_id)
        title = _("<b>Invoices of {title}</b>").format(title=e(view.title))
        await show(query, invoices_text(title, view.invoices, with_deal=False),
                   deal_invoices_kb(view))
    elif action == "newinv":
        title = await crm.billing.invoicable(actor, deal_id)
        await start_form(state, InvoiceForm.amount, deal_id=deal_id)
        await show(query, _("New invoice for <b>{title}</b>. The amount?").format(
            title=e(title)), cancel_kb(deal_id))
    else:  # "open", and anything an older version of the bot may have drawn
        await leave(state)
        view = await crm.deals.deal(actor, deal_id)
        await show(query, deal_text(view, actor), deal_kb(view))
    await query.answer()


async def cb_stage(
    query: CallbackQuery, callback_data: StageCD, actor: Actor, crm: CRM
) -> None:
    view = await crm.deals.move(actor, callback_data.deal_id, callback_data.stage_id)
    await show(query, deal_text(view, actor), deal_kb(view))
    await query.answer(_("Stage: {stage}").format(stage=view.stage.text(current_locale())))


async def msg_won_amount(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    amount = parse_amount(message.text or "")
    if amount is None:
        await bad_amount(message)
        return
    view = await crm.deals.win(actor, int(await field(state, "deal_id")), amount)
    await leave(state)
    await message.answer(deal_text(view, actor), reply_markup=deal_kb(view))


async def cb_loss(
    query: CallbackQuery, callback_data: LossCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    reasons = {r.id: r for r in await crm.deals.loss_reasons()}
    reason = reasons.get(callback_data.reason_id)
    if reason is None:
        raise InvalidInput("loss_reason")
    if reason.code == OTHER_REASON:
        view = await crm.deals.open_for_change(actor, callback_data.deal_id)
        await start_form(state, DealForm.loss_note, deal_id=view.id, reason_id=reason.id)
        await show(query, _("Why was <b>{title}</b> lost? Describe it in a few words.").format(
            title=e(view.title)), cancel_kb(view.id))
        await query.answer()
        return
    view = await crm.deals.lose(actor, callback_data.deal_id, reason.id)
    await show(query, deal_text(view, actor), deal_kb(view))
    await query.answer(_("The deal is closed as lost."))


async def msg_loss_note(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    deal_id, reason_id = int(await field(state, "deal_id")), int(await field(state, "reason_id"))
    view = await crm.deals.lose(actor, deal_id, reason_id, message.text or "")
    await leave(state)
    await message.answer(deal_text(view, actor), reply_markup=deal_kb(view))


# --- invoices and payments -----------------------------------------------------------------


async def msg_invoice_amount(message: Message, state: FSMContext) -> None:
    amount = parse_amount(message.text or "")
    if amount is None:
        await bad_amount(message)
        return
    amount = check_amount(amount)
    data = await form(state)
    await put(state, InvoiceForm.due, amount=str(amount))
    await message.answer(
        _("Due date of the invoice? Pick, or type a date (e.g. 15.12)."),
        reply_markup=due_kb(int(data.get("deal_id", 0))),
    )


async def _add_invoice(actor: Actor, crm: CRM, state: FSMContext, due: date) -> InvoiceView:
    deal_id = int(await field(state, "deal_id"))
    amount = Decimal(await field(state, "amount"))
    line = await crm.billing.add_invoice(actor, deal_id, amount, due)
    await leave(state)
    return await crm.billing.invoice(actor, line.id)


async def cb_due(
    query: CallbackQuery, callback_data: InvDueCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    if not await in_step(query, state, InvoiceForm.due):
        return
    due = local_today(crm, actor) + timedelta(days=max(0, min(callback_data.days, 365)))
    view = await _add_invoice(actor, crm, state, due)
    await show(query, invoice_text(view), invoice_kb(view))
    await query.answer(_("Invoice recorded."))


async def msg_invoice_due(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    when = parse_when(message.text or "", crm.clock.now().astimezone(actor.tz))
    if when is None:
        await message.answer(_("I could not read the date. Type it like 15.12 or “in 10 "
                               "days”, or pick a button."))
        return
    view = await _add_invoice(actor, crm, state, when.date())
    await message.answer(invoice_text(view), reply_markup=invoice_kb(view))


async def cb_invoice(
    query: CallbackQuery, callback_data: InvoiceCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    invoice_id, action = callback_data.id, callback_data.action
    if action == "payfull":
        line = await crm.billing.pay_rest(actor, invoice_id, local_today(crm, actor))
        await leave(state)
        view = await crm.billing.invoice(actor, line.id)
        await show(query, invoice_text(view), invoice_kb(view))
        await query.answer(_("Paid in full."))
        return
    view = await crm.billing.invoice(actor, invoice_id)
    if action == "pay":
        if view.line.is_paid:
            raise Conflict("invoice_paid")
        if not view.can_change:
            raise Forbidden()
        await start_form(state, PaymentForm.amount, invoice_id=invoice_id)
        text = _("How much was received on invoice {name}? Still due: {due}.").format(
            name=e(view.line.number or f"#{invoice_id}"),
            due=money(view.line.due, view.line.currency),
        )
        await show(query, text, cancel_kb(view.line.deal_id))
    else:
        await leave(state)
        await show(query, invoice_text(view), invoice_kb(view))
    await query.answer()


async def msg_payment_amount(
    message: Message, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    amount = parse_amount(message.text or "")
    if amount is None:
        await bad_amount(message)
        return
    invoice_id = int(await field(state, "invoice_id"))
    try:
        await crm.billing.add_payment(actor, invoice_id, amount, local_today(crm, actor))
    except InvalidInput as err:
        if err.code != "overpayment":
            raise
        await message.answer(
            _("That is more than is still due: {rest}. Type a smaller amount.").format(
                rest=money(err.params["rest"], err.params["currency"])
            )
        )
        return
    await leave(state)
    view = await crm.billing.invoice(actor, invoice_id)
    await message.answer(invoice_text(view), reply_markup=invoice_kb(view))


async def cb_cancel(
    query: CallbackQuery, callback_data: DealCancelCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await leave(state)
    if callback_data.deal_id:
        view = await crm.deals.deal(actor, callback_data.deal_id)
        await show(query, deal_text(view, actor), deal_kb(view))
    else:
        await show(query, _("Cancelled."), None)
    await query.answer()


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(cb_client_deals, ClientCD.filter(F.action == "deals"))
    router.callback_query.register(cb_client_invoices, ClientCD.filter(F.action == "inv"))
    router.callback_query.register(cb_new_deal, ClientCD.filter(F.action == "newdeal"))
    router.callback_query.register(cb_deal, DealCD.filter())
    router.callback_query.register(cb_stage, StageCD.filter())
    router.callback_query.register(cb_loss, LossCD.filter())
    router.callback_query.register(cb_close_date, DealDateCD.filter())
    router.callback_query.register(cb_due, InvDueCD.filter())
    router.callback_query.register(cb_invoice, InvoiceCD.filter())
    router.callback_query.register(cb_cancel, DealCancelCD.filter())
    router.message.register(msg_deal_title, StateFilter(DealForm.title), TYPED)
    router.message.register(msg_deal_amount, StateFilter(DealForm.amount), TYPED)
    router.message.register(msg_close_date, StateFilter(DealForm.close), TYPED)
    router.message.register(msg_won_amount, StateFilter(DealForm.won_amount), TYPED)
    router.message.register(msg_loss_note, StateFilter(DealForm.loss_note), TYPED)
    router.message.register(msg_invoice_amount, StateFilter(InvoiceForm.amount), TYPED)
    router.message.register(msg_invoice_due, StateFilter(InvoiceForm.due), TYPED)
    router.message.register(msg_payment_amount, StateFilter(PaymentForm.amount), TYPED)
    return router
