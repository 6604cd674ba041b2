"""Deals, invoices and payments on a phone: thin handlers over crm.deals and crm.billing.

Every form here is a bot/forms.py form; every button is re-checked in crm (role, ownership,
the deal still open), and a form's buttons are answered once (a double tap records nothing
twice).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot import forms, report_back
from bot.deal_views import deal_text, e, invoice_text, invoices_text, money
from bot.filters import FormText
from bot.handlers.clients import input_error
from bot.keyboards.client import ClientAction, ClientCD
from bot.keyboards.deals import (
    BigAmountCD,
    CloseChoice,
    DealAction,
    DealCancelCD,
    DealCD,
    DealDateCD,
    InvDueCD,
    InvoiceAction,
    InvoiceCD,
    LossCD,
    PayConfirmCD,
    PayDateCD,
    PayDay,
    PayKeepCD,
    PaymentEditCD,
    StageCD,
    WonCD,
    big_amount_kb,
    cancel_kb,
    client_deals_kb,
    client_invoices_kb,
    close_date_kb,
    deal_invoices_kb,
    deal_kb,
    due_kb,
    invoice_kb,
    loss_kb,
    pay_confirm_kb,
    pay_date_kb,
    pay_keep_kb,
    stages_kb,
    won_kb,
)
from bot.render import current_locale, fmt_date
from crm.billing import parse_paid_on, read_payment
from crm.deals import OTHER_REASON, clean_title, needs_confirmation, read_amount
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput
from crm.service import CRM
from crm.when import read_date


class DealForm(StatesGroup):
    title = State()
    amount = State()
    amount_ok = State()  # an amount above the sane limit: right, or typed again
    close = State()  # expected close date: buttons or typed
    won_amount = State()  # "Won": confirm with the button or type the final amount
    loss_note = State()  # "Other" loss reason: a few words why


class InvoiceForm(StatesGroup):
    amount = State()
    amount_ok = State()
    due = State()


class PaymentForm(StatesGroup):
    amount = State()  # typed; a correction may keep the old one with a button
    date = State()  # Today / Yesterday / typed dd.mm
    confirm = State()  # "Paid in full": confirm the amount


forms.register(DealForm, lambda: _("new deal"), buttons_only=(DealForm.amount_ok,))
forms.register(InvoiceForm, lambda: _("new invoice"), buttons_only=(InvoiceForm.amount_ok,))
forms.register(PaymentForm, lambda: _("payment"), buttons_only=(PaymentForm.confirm,))

# A typed command is never an answer to a form question; let its own handler have it.
TYPED = FormText()


# --- plumbing ------------------------------------------------------------------------------


def local_today(crm: CRM, actor: Actor) -> date:
    return crm.clock.now().astimezone(actor.tz).date()


def month_end(day: date, months_ahead: int = 0) -> date:
    year, month = divmod(day.month - 1 + months_ahead, 12)
    y, m = day.year + year, month + 1
    return date(y, m, calendar.monthrange(y, m)[1])


async def typed_day(message: Message, actor: Actor, crm: CRM) -> date | None:
    """A close or due date typed: never in the past, never guessed into next year
    (crm.when.read_date); None after saying it is not a date (the form waits)."""
    try:
        return read_date(message.text or "", crm.clock.now(), actor.tz)
    except InvalidInput as err:
        if err.code != "when":
            raise
    await message.answer(_("I could not read the date. Type it like {examples}, or pick a "
                           "button.").format(examples=_("20.12, 31 December, in 2 weeks")))
    return None


async def typed_amount(message: Message) -> Decimal | None:
    """The amount typed, or None after saying it is not a number (the form waits). Zero,
    negative or absurd amounts are refused with their own reason by the error handler."""
    try:
        return read_amount(message.text or "")
    except InvalidInput as err:
        if err.code != "amount_format":
            raise
    await message.answer(input_error("amount_format"))
    return None


# --- the client's deals and invoices -------------------------------------------------------


async def cb_client_deals(
    query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await forms.finish(state)
    found = await crm.deals.client_deals(actor, callback_data.id)
    head = _("Deals of «{name}»").format(name=e(found.client_name))
    head = f"<b>{head}</b>"
    if not found.deals:
        head += "\n" + _("No deals yet.")
    elif len(found.deals) > 30:
        head += "\n" + _("The 30 latest of {n} are shown.").format(n=len(found.deals))
    await forms.screen(query, head,
                       client_deals_kb(found.client_id, found.deals, found.can_change))


async def cb_client_invoices(
    query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await forms.finish(state)
    lines = await crm.billing.invoices_of_client(actor, callback_data.id)
    text = invoices_text(_("<b>Invoices of the client</b>"), lines, with_deal=True)
    await forms.screen(query, text, client_invoices_kb(callback_data.id, lines))


# --- a new deal ----------------------------------------------------------------------------


async def cb_new_deal(
    query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    client = await crm.deals.new_deal_client(actor, callback_data.id)
    await forms.start(state, DealForm.title)
    await forms.prompt(
        query, state, DealForm.title,
        _("New deal for «{name}».\nWhat is it? Type a short title, e.g. «20 printers».")
        .format(name=e(client.name)),
        lambda _step: cancel_kb(), client_id=client.id,
    )


async def msg_deal_title(message: Message, state: FSMContext) -> None:
    await ask_deal_amount(message, state, title=clean_title(message.text or ""))


async def ask_deal_amount(target: Message | CallbackQuery, state: FSMContext,
                          **vals: str) -> None:
    await forms.prompt(target, state, DealForm.amount,
                       _("The amount of the deal? For example: {examples}.").format(
                           examples=_("150,000, 1.5m, 2m")),
                       lambda _step: cancel_kb(), **vals)


async def confirm_big_amount(message: Message, crm: CRM, state: FSMContext, st: State,
                             amount: Decimal, currency: str, deal_id: int | None) -> bool:
    """Above the deployment's sane limit a slip of the finger is likely (one zero too
    many): ask before going on. True when it was asked."""
    if not needs_confirmation(amount, crm.config.amount_confirm_limit):
        return False
    shown = money(amount, currency)
    await forms.prompt(message, state, st,
                       _("{amount} — that is a large amount. Is it right?").format(amount=shown),
                       lambda step: big_amount_kb(shown, step, deal_id), amount=str(amount))
    return True


async def msg_deal_amount(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    amount = await typed_amount(message)
    if amount is None:
        return
    if await confirm_big_amount(message, crm, state, DealForm.amount_ok, amount,
                                crm.config.currency, None):
        return
    await ask_close_date(message, actor, crm, state, amount)


async def cb_big_amount(query: CallbackQuery, callback_data: BigAmountCD, actor: Actor,
                        crm: CRM, state: FSMContext) -> None:
    current = await state.get_state()
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    if current == DealForm.amount_ok.state:
        if callback_data.ok:
            await ask_close_date(query, actor, crm, state, Decimal(draft["amount"]))
        else:
            await ask_deal_amount(query, state)
    elif current == InvoiceForm.amount_ok.state:
        if callback_data.ok:
            await ask_due(query, state, int(draft["deal_id"]), Decimal(draft["amount"]))
        else:
            await forms.prompt(query, state, InvoiceForm.amount,
                               _("The amount of the invoice?"),
                               lambda _step: cancel_kb(int(draft["deal_id"])))


async def ask_close_date(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                         state: FSMContext, amount: Decimal) -> None:
    today = local_today(crm, actor)
    await forms.prompt(
        target, state, DealForm.close,
        _("When do you expect to close it? Pick, or type a date (e.g. {examples}).").format(
            examples=_("20.12 or “in 2 weeks”")),
        lambda step: close_date_kb(month_end(today), month_end(today, 1), step),
        amount=str(amount),
    )


async def _create(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                  draft: forms.Draft, close: date | None) -> None:
    view = await crm.deals.create(actor, int(draft["client_id"]), str(draft["title"]),
                                  Decimal(draft["amount"]), close)
    await forms.screen(target, deal_text(view, actor), deal_kb(view))


async def cb_close_date(
    query: CallbackQuery, callback_data: DealDateCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    today = local_today(crm, actor)
    close = {CloseChoice.END_OF_MONTH: month_end(today),
             CloseChoice.NEXT_MONTH: month_end(today, 1)}.get(callback_data.choice)
    await forms.finish(state)
    await query.answer(_("Deal created."))
    await _create(query, actor, crm, draft, close)


async def msg_close_date(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    day = await typed_day(message, actor, crm)
    if day is None:
        return
    draft = await forms.values(state)
    await _create(message, actor, crm, draft, day)
    await forms.finish(state)


# --- the deal ------------------------------------------------------------------------------


async def cb_deal_open(
    query: CallbackQuery, callback_data: DealCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await forms.finish(state)
    view = await crm.deals.deal(actor, callback_data.id)
    kb = await report_back.add_button(deal_kb(view), state, report_back.Opened.DEAL, view.id)
    await forms.screen(query, deal_text(view, actor), kb)


async def cb_deal_from_report(
    query: CallbackQuery, callback_data: DealCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    """A report's drill-down: the deal, with «« Back to the report»."""
    await forms.finish(state)
    view = await crm.deals.deal(actor, callback_data.id)
    await report_back.opened(state, report_back.Opened.DEAL, view.id)
    kb = await report_back.add_button(deal_kb(view), state, report_back.Opened.DEAL, view.id)
    await forms.screen(query, deal_text(view, actor), kb)


async def cb_deal_stages(query: CallbackQuery, callback_data: DealCD, actor: Actor,
                         crm: CRM) -> None:
    view = await crm.deals.open_for_change(actor, callback_data.id)
    text = _("«{title}»: to which stage? Now: «{stage}».").format(
        title=e(view.title), stage=e(view.stage.text(current_locale())))
    await forms.screen(query, text,
                       stages_kb(view.id, await crm.deals.stages(), view.stage.id))


async def cb_deal_won(
    query: CallbackQuery, callback_data: DealCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    view = await crm.deals.open_for_change(actor, callback_data.id)
    amount = money(view.amount, view.currency)
    await forms.start(state, DealForm.won_amount)
    await forms.prompt(
        query, state, DealForm.won_amount,
        _("«{title}»: close as won with {amount}? Confirm, or type the final amount.")
        .format(title=e(view.title), amount=amount),
        lambda step: won_kb(view.id, amount, step), deal_id=view.id,
    )


async def cb_won_confirm(
    query: CallbackQuery, callback_data: WonCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    await forms.finish(state)
    view = await crm.deals.win(actor, int(draft["deal_id"]))
    await query.answer(_("Deal won! 🎉"))
    await forms.screen(query, deal_text(view, actor), deal_kb(view))


async def msg_won_amount(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    amount = await typed_amount(message)
    if amount is None:
        return
    draft = await forms.values(state)
    view = await crm.deals.win(actor, int(draft["deal_id"]), amount)
    await forms.finish(state)
    await message.answer(deal_text(view, actor), reply_markup=deal_kb(view))


async def cb_deal_lost(
    query: CallbackQuery, callback_data: DealCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    view = await crm.deals.open_for_change(actor, callback_data.id)
    await forms.finish(state)
    text = _("«{title}»: the reason for the loss? Now at the stage «{stage}».").format(
        title=e(view.title), stage=e(view.stage.text(current_locale())))
    await forms.screen(query, text, loss_kb(view.id, await crm.deals.loss_reasons()))


async def cb_deal_reopen(query: CallbackQuery, callback_data: DealCD, actor: Actor,
                         crm: CRM) -> None:
    view = await crm.deals.reopen(actor, callback_data.id)
    await query.answer(_("Deal reopened."))
    await forms.screen(query, deal_text(view, actor), deal_kb(view))


async def cb_deal_invoices(
    query: CallbackQuery, callback_data: DealCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await forms.finish(state)
    view = await crm.deals.deal(actor, callback_data.id)
    title = _("<b>Invoices</b> of «{title}»").format(title=e(view.title))
    await forms.screen(query, invoices_text(title, view.invoices, with_deal=False),
                       deal_invoices_kb(view))


async def cb_new_invoice(
    query: CallbackQuery, callback_data: DealCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    title = await crm.billing.invoicable(actor, callback_data.id)
    deal_id = callback_data.id
    await forms.start(state, InvoiceForm.amount)
    await forms.prompt(query, state, InvoiceForm.amount,
                       _("New invoice for «{title}». The amount?").format(title=e(title)),
                       lambda _step: cancel_kb(deal_id), deal_id=deal_id)


async def cb_stage(
    query: CallbackQuery, callback_data: StageCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    view = await crm.deals.move(actor, callback_data.deal_id, callback_data.stage_id)
    await query.answer(_("Stage: {stage}").format(stage=view.stage.text(current_locale())))
    kb = await report_back.add_button(deal_kb(view), state, report_back.Opened.DEAL, view.id)
    await forms.screen(query, deal_text(view, actor), kb)


async def cb_loss(
    query: CallbackQuery, callback_data: LossCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    reasons = {r.id: r for r in await crm.deals.loss_reasons()}
    reason = reasons.get(callback_data.reason_id)
    if reason is None:
        raise InvalidInput("loss_reason")
    if reason.code == OTHER_REASON:
        view = await crm.deals.open_for_change(actor, callback_data.deal_id)
        await forms.start(state, DealForm.loss_note)
        await forms.prompt(
            query, state, DealForm.loss_note,
            _("«{title}»: the reason for the loss, in a few words?").format(title=e(view.title)),
            lambda _step: cancel_kb(view.id), deal_id=view.id, reason_id=reason.id,
        )
        return
    view = await crm.deals.lose(actor, callback_data.deal_id, reason.id)
    await query.answer(_("The deal is closed as lost."))
    await forms.screen(query, deal_text(view, actor), deal_kb(view))


async def msg_loss_note(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    view = await crm.deals.lose(actor, int(draft["deal_id"]), int(draft["reason_id"]),
                                message.text or "")
    await forms.finish(state)
    await message.answer(deal_text(view, actor), reply_markup=deal_kb(view))


# --- invoices ------------------------------------------------------------------------------


async def msg_invoice_amount(message: Message, crm: CRM, state: FSMContext) -> None:
    amount = await typed_amount(message)
    if amount is None:
        return
    deal_id = int((await forms.values(state))["deal_id"])
    if await confirm_big_amount(message, crm, state, InvoiceForm.amount_ok, amount,
                                crm.config.currency, deal_id):
        return
    await ask_due(message, state, deal_id, amount)


async def ask_due(target: Message | CallbackQuery, state: FSMContext, deal_id: int,
                  amount: Decimal) -> None:
    await forms.prompt(target, state, InvoiceForm.due,
                       _("Due date of the invoice? Pick, or type a date (e.g. 15.12)."),
                       lambda step: due_kb(deal_id, step), amount=str(amount))


async def _add_invoice(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                       draft: forms.Draft, due: date) -> None:
    line = await crm.billing.add_invoice(actor, int(draft["deal_id"]),
                                         Decimal(draft["amount"]), due)
    view = await crm.billing.invoice(actor, line.id)
    await forms.screen(target, invoice_text(view), invoice_kb(view))


async def cb_due(
    query: CallbackQuery, callback_data: InvDueCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    await forms.finish(state)
    await query.answer(_("Invoice recorded."))
    due = local_today(crm, actor) + timedelta(days=callback_data.days)
    await _add_invoice(query, actor, crm, draft, due)


async def msg_invoice_due(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    day = await typed_day(message, actor, crm)
    if day is None:
        return
    await _add_invoice(message, actor, crm, await forms.values(state), day)
    await forms.finish(state)


async def cb_invoice_open(
    query: CallbackQuery, callback_data: InvoiceCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await forms.finish(state)
    view = await crm.billing.invoice(actor, callback_data.id)
    kb = await report_back.add_button(invoice_kb(view), state, report_back.Opened.INVOICE,
                                      view.line.id)
    await forms.screen(query, invoice_text(view), kb)


async def cb_invoice_from_report(
    query: CallbackQuery, callback_data: InvoiceCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    """A report's drill-down: the invoice, with «« Back to the report»."""
    await forms.finish(state)
    view = await crm.billing.invoice(actor, callback_data.id)
    await report_back.opened(state, report_back.Opened.INVOICE, view.line.id)
    kb = await report_back.add_button(invoice_kb(view), state, report_back.Opened.INVOICE,
                                      view.line.id)
    await forms.screen(query, invoice_text(view), kb)


def _invoice_name(number: str | None, invoice_id: int) -> str:
    return e(number or f"#{invoice_id}")


# --- payments ------------------------------------------------------------------------------


async def _payable(actor: Actor, crm: CRM, invoice_id: int) -> tuple[str, Decimal, str, int]:
    """(name, still due, currency, deal id) of an invoice the actor may record money on."""
    view = await crm.billing.invoice(actor, invoice_id)
    if view.line.is_paid:
        raise Conflict("invoice_paid")
    if not view.can_change:
        raise Forbidden()
    line = view.line
    return _invoice_name(line.number, line.id), line.due, line.currency, line.deal_id


async def cb_pay(
    query: CallbackQuery, callback_data: InvoiceCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    name, due, currency, deal_id = await _payable(actor, crm, callback_data.id)
    await forms.start(state, PaymentForm.amount)
    await forms.prompt(
        query, state, PaymentForm.amount,
        _("How much was received on invoice {name}? Still due: {due}.").format(
            name=name, due=money(due, currency)),
        lambda _step: cancel_kb(deal_id), invoice_id=callback_data.id, deal_id=deal_id,
    )


async def cb_pay_full(
    query: CallbackQuery, callback_data: InvoiceCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    name, due, currency, deal_id = await _payable(actor, crm, callback_data.id)
    await forms.start(state, PaymentForm.confirm)
    await forms.prompt(
        query, state, PaymentForm.confirm,
        _("Record a payment of {amount} for invoice {name}, dated today — confirm?").format(
            amount=money(due, currency), name=name),
        lambda step: pay_confirm_kb(deal_id, step),
        invoice_id=callback_data.id, deal_id=deal_id, amount=str(due),
    )


async def cb_pay_confirm(
    query: CallbackQuery, callback_data: PayConfirmCD, actor: Actor, crm: CRM,
    state: FSMContext,
) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    await forms.finish(state)
    # Exactly the amount that was confirmed: if more came in meanwhile, it is refused.
    await _record(query, actor, crm, state, draft, local_today(crm, actor))


async def msg_payment_amount(
    message: Message, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    draft = await forms.values(state)
    try:
        amount = read_amount(message.text or "")
    except InvalidInput as err:
        if err.code != "amount_format":
            raise
        # "600 вчера", "600 15.11": the amount and its day in one answer.
        try:
            amount, day = read_payment(message.text or "", crm.clock.now(), actor.tz)
        except InvalidInput as bad:
            if bad.code != "amount_format":
                raise
            await message.answer(input_error("amount_format"))
            return
        await _record(message, actor, crm, state, await forms.update(state, amount=str(amount)),
                      day)
        return
    # Said now rather than after the date; crm checks it again under the invoice's lock.
    line = (await crm.billing.invoice(actor, int(draft["invoice_id"]))).line
    if line.is_paid and not draft.get("payment_id"):
        raise Conflict("invoice_paid")  # a colleague recorded it meanwhile: the form ends
    room = line.due + (Decimal(draft["was"]) if draft.get("payment_id") else 0)
    if amount > room:
        await message.answer(_("That is more than is still due: {rest}. Type a smaller "
                               "amount.").format(rest=money(room, line.currency)))
        return
    today = local_today(crm, actor)
    keep = date.fromisoformat(draft["was_on"]) if draft.get("payment_id") else None
    deal_id = int(draft["deal_id"])
    await forms.prompt(
        message, state, PaymentForm.date,
        _("Date of the payment? Pick, or type it (e.g. {example}).").format(
            example=f"{today:%d.%m}"),
        lambda step: pay_date_kb(deal_id, step, keep), amount=str(amount),
    )


async def cb_pay_keep_amount(
    query: CallbackQuery, callback_data: PayKeepCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    deal_id = int(draft["deal_id"])
    keep = date.fromisoformat(draft["was_on"])
    today = local_today(crm, actor)
    await forms.prompt(
        query, state, PaymentForm.date,
        _("Date of the payment? Pick, or type it (e.g. {example}).").format(
            example=f"{today:%d.%m}"),
        lambda step: pay_date_kb(deal_id, step, keep), amount=draft["was"],
    )


async def cb_pay_date(
    query: CallbackQuery, callback_data: PayDateCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    today = local_today(crm, actor)
    if callback_data.day is PayDay.KEEP:
        if not draft.get("payment_id"):
            raise Conflict("form_expired")
        day = date.fromisoformat(draft["was_on"])
    else:
        day = today - timedelta(days=1 if callback_data.day is PayDay.YESTERDAY else 0)
    await _record(query, actor, crm, state, draft, day)


async def msg_payment_date(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    day = parse_paid_on(message.text or "", local_today(crm, actor))
    if day is None:
        await message.answer(_("I could not read the date. Type it like 25.11 or 25.11.2026, "
                               "or pick a button."))
        return
    await _record(message, actor, crm, state, await forms.values(state), day)


async def _record(target: Message | CallbackQuery, actor: Actor, crm: CRM, state: FSMContext,
                  draft: forms.Draft, day: date) -> None:
    """Record the payment (or its correction); a refused amount or date leaves the form
    open at a step that can take a new answer."""
    invoice_id, amount = int(draft["invoice_id"]), Decimal(draft["amount"])
    try:
        if draft.get("payment_id"):
            await crm.billing.correct_payment(actor, int(draft["payment_id"]), amount, day)
        else:
            await crm.billing.add_payment(actor, invoice_id, amount, day)
    except InvalidInput as err:
        if err.code != "overpayment":
            raise
        await forms.finish(state)
        text = _("That is more than is still due: {rest}.").format(
            rest=money(err.params["rest"], err.params["currency"]))
        if isinstance(target, CallbackQuery):
            await target.answer(text, show_alert=True)
        await _to_invoice(target, actor, crm, invoice_id, text)
        return
    await forms.finish(state)
    if isinstance(target, CallbackQuery):
        await target.answer(_("Payment recorded."))
    await _to_invoice(target, actor, crm, invoice_id)


async def _to_invoice(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                      invoice_id: int, note: str | None = None) -> None:
    view = await crm.billing.invoice(actor, invoice_id)
    text = invoice_text(view)
    if note:
        text = f"⚠️ {note}\n\n{text}"
    await forms.screen(target, text, invoice_kb(view))


async def cb_payment_edit(
    query: CallbackQuery, callback_data: PaymentEditCD, actor: Actor, crm: CRM,
    state: FSMContext,
) -> None:
    pay, line = await crm.billing.payment(actor, callback_data.id)
    amount = money(pay.amount, line.currency)
    await forms.start(state, PaymentForm.amount)
    await forms.prompt(
        query, state, PaymentForm.amount,
        _("Payment of {amount} on {date}, invoice {name}: the correct amount? Type it, or "
          "keep it.").format(amount=amount, date=fmt_date(pay.paid_on),
                             name=_invoice_name(line.number, line.id)),
        lambda step: pay_keep_kb(line.deal_id, amount, step),
        invoice_id=line.id, deal_id=line.deal_id, payment_id=pay.id,
        was=str(pay.amount), was_on=pay.paid_on.isoformat(),
    )


async def cb_cancel(
    query: CallbackQuery, callback_data: DealCancelCD, actor: Actor, crm: CRM, state: FSMContext
) -> None:
    await forms.finish(state)
    if callback_data.deal_id is not None:
        view = await crm.deals.deal(actor, callback_data.deal_id)
        await forms.screen(query, deal_text(view, actor), deal_kb(view))
    else:
        await forms.screen(query, _("Cancelled."), None)


def create_router() -> Router:
    router = Router(name=__name__)
    cb = router.callback_query.register
    cb(cb_client_deals, ClientCD.filter(F.action == ClientAction.DEALS))
    cb(cb_client_invoices, ClientCD.filter(F.action == ClientAction.INVOICES))
    cb(cb_new_deal, ClientCD.filter(F.action == ClientAction.NEW_DEAL))
    cb(cb_deal_open, DealCD.filter(F.action == DealAction.OPEN))
    cb(cb_deal_stages, DealCD.filter(F.action == DealAction.STAGES))
    cb(cb_deal_won, DealCD.filter(F.action == DealAction.WON))
    cb(cb_deal_lost, DealCD.filter(F.action == DealAction.LOST))
    cb(cb_deal_reopen, DealCD.filter(F.action == DealAction.REOPEN))
    cb(cb_deal_invoices, DealCD.filter(F.action == DealAction.INVOICES))
    cb(cb_new_invoice, DealCD.filter(F.action == DealAction.NEW_INVOICE))
    cb(cb_won_confirm, WonCD.filter())
    cb(cb_stage, StageCD.filter())
    cb(cb_loss, LossCD.filter())
    cb(cb_close_date, DealDateCD.filter())
    cb(cb_due, InvDueCD.filter())
    cb(cb_invoice_open, InvoiceCD.filter(F.action == InvoiceAction.OPEN))
    cb(cb_pay, InvoiceCD.filter(F.action == InvoiceAction.PAY))
    cb(cb_pay_full, InvoiceCD.filter(F.action == InvoiceAction.PAY_FULL))
    cb(cb_deal_from_report, DealCD.filter(F.action == DealAction.REPORT))
    cb(cb_invoice_from_report, InvoiceCD.filter(F.action == InvoiceAction.REPORT))
    cb(cb_pay_confirm, PayConfirmCD.filter())
    cb(cb_pay_date, PayDateCD.filter())
    cb(cb_pay_keep_amount, PayKeepCD.filter())
    cb(cb_payment_edit, PaymentEditCD.filter())
    cb(cb_cancel, DealCancelCD.filter())
    msg = router.message.register
    msg(msg_deal_title, StateFilter(DealForm.title), TYPED)
    msg(msg_deal_amount, StateFilter(DealForm.amount), TYPED)
    router.callback_query.register(cb_big_amount, BigAmountCD.filter())
    msg(msg_close_date, StateFilter(DealForm.close), TYPED)
    msg(msg_won_amount, StateFilter(DealForm.won_amount), TYPED)
    msg(msg_loss_note, StateFilter(DealForm.loss_note), TYPED)
    msg(msg_invoice_amount, StateFilter(InvoiceForm.amount), TYPED)
    msg(msg_invoice_due, StateFilter(InvoiceForm.due), TYPED)
    msg(msg_payment_amount, StateFilter(PaymentForm.amount), TYPED)
    msg(msg_payment_date, StateFilter(PaymentForm.date), TYPED)
    return router
