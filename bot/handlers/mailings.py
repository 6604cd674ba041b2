"""«📣 Mailings» (/mailings; «📣 Mailing» under a client list): the broadcast wizard — name,
campaign, audience, channels, the message (formatted text with {name}/{manager}, an optional
photo or document) → a review with the counts per channel and of those left out, a preview
as the first recipient sees it, a test to oneself → now, or at a time in the user's zone.
Then a progress message edited in place (pause, resume, cancel) and the report with its
spreadsheet. A linked client's «Отписаться» is handled in the client router.

Who may do what, and which clients get it, is decided in crm/ on every press.
"""

from __future__ import annotations

import asyncio
import html
from contextlib import suppress
from datetime import datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
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
from bot.keyboards.mailings import (
    MailAction,
    MailCD,
    MailWizCD,
    UnsubCD,
    WizAction,
    audience_kb,
    campaigns_kb,
    channels_kb,
    confirm_later_kb,
    content_kb,
    library_kb,
    review_kb,
)
from bot.mailing_views import (
    Part,
    email_preview,
    local,
    message_parts,
    progress_kb,
    progress_text,
    report_text,
    report_xlsx,
    review_text,
    status_name,
)
from bot.render import current_locale
from crm.access import can_send_mailings
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput
from crm.lists import ClientFilter
from crm.mailings import EMAIL, TELEGRAM, Plan, check_text, render
from crm.service import CRM
from crm.when import read_when

e = html.escape
DOWNLOAD_MAX = 20 * 1024 * 1024  # the most a bot may download from Telegram
FILTER_KEY = "mailing_filter"  # a list's filter handed to the wizard by «📣 Mailing»


class MailingForm(StatesGroup):
    name = State()
    campaign = State()
    audience = State()
    channels = State()
    content = State()
    review = State()
    when = State()
    confirm = State()


forms.register(MailingForm, lambda: _("mailing"), buttons_only=(
    MailingForm.campaign, MailingForm.audience, MailingForm.channels, MailingForm.review,
    MailingForm.confirm))


def _plan(d: forms.Draft) -> Plan:
    return Plan(name=d["name"], campaign_id=d.get("campaign"), list_id=d.get("list"),
                filter=d.get("filter"), channels=tuple(d.get("channels") or ()),
                text=d["text"], attachment_kind=d.get("kind"), attachment_ref=d.get("file"),
                attachment_name=d.get("fname"), document_version_id=d.get("docv"))


# --- the wizard ----------------------------------------------------------------------------


async def start_wizard(target: Message | CallbackQuery, actor: Actor, state: FSMContext,
                       flt: dict[str, Any] | None = None) -> None:
    if not can_send_mailings(actor):
        raise Forbidden()
    await forms.start(state, MailingForm.name, filter=flt, token="")
    await forms.prompt(target, state, MailingForm.name, _(
        "📣 <b>New mailing</b>\n\nName it (for you and the report), e.g. «Price list 2026»."))


async def cmd_mailings(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await show_list(message, actor, crm)


async def show_list(target: Message | CallbackQuery, actor: Actor, crm: CRM) -> None:
    found = await crm.mailings.recent(actor)
    lines = [_("📣 <b>Mailings</b>")]
    if not found:
        lines.append(_("None yet."))
    rows = [[InlineKeyboardButton(
        text=f"{m.name} · {status_name(m.status)} · {local(m.start_at, actor.timezone)}",
        callback_data=MailCD(action=MailAction.PROGRESS, id=m.id).pack())] for m in found]
    rows.append([InlineKeyboardButton(text=_("➕ New mailing"),
                                      callback_data=MailCD(action=MailAction.NEW).pack())])
    await forms.screen(target, "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))


async def cb_list(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    await show_list(query, actor, crm)


async def cb_new(query: CallbackQuery, actor: Actor, state: FSMContext) -> None:
    await start_wizard(query, actor, state)


async def cb_from_list(query: CallbackQuery, actor: Actor, state: FSMContext) -> None:
    """«📣 Mailing to this list» under a list just built: its filter is the audience."""
    from bot.handlers.lists import DRAFT_KEY

    raw = (await state.get_data()).get(DRAFT_KEY)
    if raw is None:
        raise Conflict("form_expired")
    flt = ClientFilter.from_json(raw).checked()
    await start_wizard(query, actor, state, flt.to_json())


async def msg_name(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    name = " ".join((message.text or "").split())
    if not name or len(name) > 200:
        await message.answer(_("A mailing's name is 1 to 200 characters."))
        return
    campaigns = await crm.mailings.campaigns(actor)
    loc = current_locale()
    await forms.prompt(message, state, MailingForm.campaign,
                       _("Which campaign is it part of? The report and the history record it."),
                       lambda step: campaigns_kb(campaigns, loc, step), name=name)


async def cb_campaign(query: CallbackQuery, callback_data: MailWizCD, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    d = await forms.take(query, state, callback_data.step, MailingForm.campaign)
    if d is None:
        return
    await crm.mailings.check_campaign(actor, callback_data.id)
    lists = await crm.mailings.saved_lists(actor)
    has_filter = d.get("filter") is not None
    await forms.prompt(query, state, MailingForm.audience,
                       _("Who gets it? A saved client list, or every client you see. "
                         "Unsubscribed and blocked contacts are left out."),
                       lambda step: audience_kb(lists, has_filter, step),
                       campaign=callback_data.id)


async def cb_audience(query: CallbackQuery, callback_data: MailWizCD, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    d = await forms.take(query, state, callback_data.step, MailingForm.audience)
    if d is None:
        return
    if callback_data.id is not None:
        await crm.lists.open(actor, callback_data.id)  # a list the actor may open
    chosen = [TELEGRAM]
    await _channels_prompt(query, crm, state, chosen, list=callback_data.id)


async def _channels_prompt(target: CallbackQuery, crm: CRM, state: FSMContext,
                           chosen: list[str], **vals: Any) -> None:
    ready = dict(crm.mailings.channels()).get(EMAIL, False)
    await forms.prompt(target, state, MailingForm.channels,
                       _("Over which channels? Telegram reaches contacts who linked their "
                         "Telegram; e-mail, contacts with an address."),
                       lambda step: channels_kb(chosen, ready, step), channels=chosen, **vals)


async def cb_channel(query: CallbackQuery, callback_data: MailWizCD, crm: CRM,
                     state: FSMContext) -> None:
    d = await forms.take(query, state, callback_data.step, MailingForm.channels)
    if d is None:
        return
    chosen = list(d.get("channels") or [])
    channel = TELEGRAM if callback_data.action is WizAction.TELEGRAM else EMAIL
    if channel == EMAIL and not dict(crm.mailings.channels()).get(EMAIL, False):
        await query.answer(_("E-mail is not configured: Telegram only for now."),
                           show_alert=True)
    elif channel in chosen:
        chosen.remove(channel)
    else:
        chosen.append(channel)
    await _channels_prompt(query, crm, state, chosen)


async def cb_channels_ok(query: CallbackQuery, callback_data: MailWizCD,
                         state: FSMContext) -> None:
    current = await forms.values(state)
    if not current.get("channels"):
        await query.answer(_("Pick at least one channel."), show_alert=True)
        return
    if await forms.take(query, state, callback_data.step, MailingForm.channels) is None:
        return
    await _content_prompt(query, state)


async def _content_prompt(target: Message | CallbackQuery, state: FSMContext,
                          picked: str | None = None, **vals: Any) -> None:
    text = _(
        "Send the message as clients should get it: text with formatting; a photo or a "
        "document with a caption if you like, or «📎 From the library».\n\nFields: "
        "<code>{name}</code> — the contact's name, <code>{manager}</code> — their manager.\n"
        "E-mail recipients get the file attached and the mailing's name as the subject.")
    if picked is not None:
        text = _("📎 «{doc}» from the library goes with it. Now send the message's text (or "
                 "upload another file with a caption instead).").format(doc=e(picked)) \
            + "\n\n" + text
    await forms.prompt(target, state, MailingForm.content, text, content_kb, **vals)


async def cb_library(query: CallbackQuery, callback_data: MailWizCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    """«📎 From the library»: the documents that may be sent (their newest version)."""
    docs = [(x.id, x.name) for x in await crm.documents.library(actor) if not x.hidden]
    if not docs:
        await query.answer(_("The library has no documents yet."), show_alert=True)
        return
    if await forms.take(query, state, callback_data.step, MailingForm.content) is None:
        return
    await forms.prompt(query, state, MailingForm.content,
                       _("Which document? Telegram recipients get it as a file, e-mail "
                         "recipients as an attachment."),
                       lambda step: library_kb(docs, step))


async def cb_library_doc(query: CallbackQuery, callback_data: MailWizCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    if callback_data.id is None:
        raise InvalidInput("mailing_attachment")
    doc = await crm.documents.file(actor, callback_data.id)  # not hidden, still there
    if await forms.take(query, state, callback_data.step, MailingForm.content) is None:
        return
    await _content_prompt(query, state, doc.name, lib=[doc.kind, doc.tg_file_id,
                                                       doc.file_name, doc.version_id])


async def msg_content(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    kind = file_id = fname = None
    docv: int | None = None
    if message.photo:
        kind, file_id = "photo", message.photo[-1].file_id
    elif message.document:
        kind, file_id = "document", message.document.file_id
        fname = message.document.file_name
    size = message.document.file_size if message.document else None
    if size and size > DOWNLOAD_MAX and \
            EMAIL in ((await forms.values(state)).get("channels") or ()):
        # The bot downloads an uploaded file to attach it to the e-mails: Telegram lets
        # bots download 20 MB at most.
        await message.answer(_("This file is too big to attach to e-mails (over 20 MB): "
                               "send a smaller one, or pick one «📎 From the library»."))
        return
    else:
        lib = (await forms.values(state)).get("lib")
        if lib:  # a document picked from the library
            kind, file_id, fname, docv = lib[0], lib[1], lib[2], int(lib[3])
    if not (message.text or message.caption):
        await message.answer(_("The message needs a text (with a photo or a document, a "
                               "caption)."))
        return
    text = message.html_text
    try:
        check_text(text)
    except InvalidInput as err:
        if err.code == "mailing_field":
            await message.answer(_("Unknown field {{{field}}}. Use {{name}} and {{manager}} "
                                   "only.").format(field=e(str(err.params.get("field")))))
            return
        await message.answer(_("The message is 1 to 3500 characters."))
        return
    await forms.update(state, text=text, kind=kind, file=file_id, fname=fname, docv=docv)
    await show_review(message, actor, crm, state)


async def show_review(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    d = await forms.values(state)
    plan = _plan(d)
    preview = await crm.mailings.preview(actor, plan)
    campaign = await crm.mailings.check_campaign(actor, plan.campaign_id)
    audience = await crm.mailings.audience_name(actor, plan)
    if audience is None and plan.filter is None:
        audience = _("every client you see")
    text = review_text(plan.name, campaign.text(current_locale()) if campaign else None,
                       audience, preview)
    sample = preview.sample
    await forms.prompt(target, state, MailingForm.review, text,
                       lambda step: review_kb(step, preview.total > 0),
                       token=d.get("token") or crm.mailings.new_token(),
                       sample=[sample.name, sample.manager] if sample else None)


async def _send_parts(bot: Bot, chat_id: int, parts: list[Part]) -> None:
    for p in parts:
        if p.media is not None:
            kind, file_id = p.media
            if kind == "photo":
                await bot.send_photo(chat_id, file_id, caption=p.caption, reply_markup=p.markup)
            else:
                await bot.send_document(chat_id, file_id, caption=p.caption,
                                        reply_markup=p.markup)
        else:
            await bot.send_message(chat_id, p.text or "", reply_markup=p.markup)


async def cb_preview(query: CallbackQuery, callback_data: MailWizCD, actor: Actor,
                     crm: CRM, state: FSMContext, bot: Bot) -> None:
    """Not a step: the review stays open (its buttons keep working)."""
    d = await forms.draft(state)
    if d is None or d.step != callback_data.step or \
            await state.get_state() != MailingForm.review.state:
        await forms.refuse(query, state, callback_data.step)
        return
    plan = _plan(d)
    if callback_data.action is WizAction.PREVIEW:
        sample = d.get("sample") or [actor.name, actor.name]
        header = _("👁 As {name} will see it:").format(name=e(sample[0]))
        text = render(plan.text, sample[0], sample[1])
    else:
        header = _("🧪 Test: your name and yours as the manager's.")
        text = render(plan.text, actor.name, actor.name)
    await query.answer()
    await bot.send_message(actor.tg_id, header)
    # Mailing id 1 stands in for the real one: the button only says what clients see.
    await _send_parts(bot, actor.tg_id,
                      message_parts(1, text, plan.attachment_kind, plan.attachment_ref))
    if EMAIL in plan.channels and crm.mailings.email_enabled:
        name = plan.attachment_name or ("photo.jpg" if plan.attachment_kind == "photo"
                                        else None)
        await bot.send_message(actor.tg_id, email_preview(plan.name, text, name))


async def cb_now(query: CallbackQuery, callback_data: MailWizCD, actor: Actor, crm: CRM,
                 state: FSMContext) -> None:
    d = await forms.take(query, state, callback_data.step, MailingForm.review)
    if d is None:
        return
    await forms.finish(state)
    await _start(query, actor, crm, d, None)


async def _start(query: CallbackQuery, actor: Actor, crm: CRM, d: forms.Draft,
                 at: datetime | None) -> None:
    """Create the mailing (now, or at `at`) and turn the wizard's message into its progress."""
    chat_id = message_id = None
    if isinstance(query.message, Message):
        chat_id, message_id = query.message.chat.id, query.message.message_id
    mailing_id = await crm.mailings.create(actor, _plan(d), d["token"], at, chat_id,
                                           message_id)
    p = await crm.mailings.progress(actor, mailing_id)
    await forms.screen(query, progress_text(p), progress_kb(p))


async def cb_later(query: CallbackQuery, callback_data: MailWizCD, state: FSMContext) -> None:
    d = await forms.take(query, state, callback_data.step, MailingForm.review)
    if d is None:
        return
    await forms.prompt(query, state, MailingForm.when, _(
        "When should it go out? Your time zone. Examples: tomorrow 10:00, 05.12 9:30, fri 11."))


async def msg_when(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    when = read_when(message.text or "", crm.clock.now(), actor.hours)
    at = when.due
    shown = local(at, actor.timezone)
    await forms.prompt(message, state, MailingForm.confirm,
                       _("It goes out at {when} (your time).").format(when=shown),
                       lambda step: confirm_later_kb(step, shown), at=at.isoformat())


async def cb_confirm(query: CallbackQuery, callback_data: MailWizCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    d = await forms.take(query, state, callback_data.step, MailingForm.confirm)
    if d is None:
        return
    await forms.finish(state)
    await _start(query, actor, crm, d, datetime.fromisoformat(d["at"]))


# --- progress and report -------------------------------------------------------------------


async def cb_control(query: CallbackQuery, callback_data: MailCD, actor: Actor,
                     crm: CRM) -> None:
    assert callback_data.id is not None
    mid = callback_data.id
    action = callback_data.action
    if action is MailAction.PAUSE:
        p = await crm.mailings.pause(actor, mid)
    elif action is MailAction.RESUME:
        p = await crm.mailings.resume(actor, mid)
    elif action is MailAction.CANCEL:
        p = await crm.mailings.cancel(actor, mid)
    else:
        p = await crm.mailings.progress(actor, mid)
    if isinstance(query.message, Message) and action is not MailAction.PROGRESS:
        # This message shows the progress from now on.
        await crm.mailings.set_progress_message(actor, mid, query.message.chat.id,
                                                query.message.message_id)
    await forms.screen(query, progress_text(p), progress_kb(p))


async def cb_report(query: CallbackQuery, callback_data: MailCD, actor: Actor,
                    crm: CRM) -> None:
    assert callback_data.id is not None
    from bot.keyboards.mailings import report_kb

    r = await crm.mailings.report(actor, callback_data.id)
    await forms.screen(query, report_text(r, current_locale()), report_kb(callback_data.id))


async def cb_xlsx(query: CallbackQuery, callback_data: MailCD, actor: Actor, crm: CRM,
                  bot: Bot) -> None:
    assert callback_data.id is not None
    r = await crm.mailings.report(actor, callback_data.id)
    data = await asyncio.to_thread(report_xlsx, r)
    with suppress(TelegramBadRequest):
        await query.answer()
    await bot.send_document(
        actor.tg_id, BufferedInputFile(data, filename=f"mailing_{callback_data.id}.xlsx"),
        caption=_("«{name}» · recipients: {n}").format(name=e(r.progress.name),
                                                         n=r.progress.total))


async def cb_staff_unsub(query: CallbackQuery) -> None:
    await query.answer(_("Your clients see this button under a mailing: it unsubscribes "
                         "them."), show_alert=True)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_mailings, Command("mailings"))
    router.message.register(msg_name, MailingForm.name, FormText())
    router.message.register(msg_content, MailingForm.content, FormText())
    router.message.register(msg_content, MailingForm.content, F.photo | F.document)
    router.message.register(msg_when, MailingForm.when, FormText())
    cb = router.callback_query.register
    cb(cb_campaign, MailWizCD.filter(F.action == WizAction.CAMPAIGN))
    cb(cb_audience, MailWizCD.filter(F.action == WizAction.LIST))
    cb(cb_channel, MailWizCD.filter(F.action.in_({WizAction.TELEGRAM, WizAction.EMAIL})))
    cb(cb_channels_ok, MailWizCD.filter(F.action == WizAction.CHANNELS))
    cb(cb_preview, MailWizCD.filter(F.action.in_({WizAction.PREVIEW, WizAction.TEST})))
    cb(cb_library, MailWizCD.filter(F.action == WizAction.LIBRARY))
    cb(cb_library_doc, MailWizCD.filter(F.action == WizAction.DOC))
    cb(cb_now, MailWizCD.filter(F.action == WizAction.NOW))
    cb(cb_later, MailWizCD.filter(F.action == WizAction.LATER))
    cb(cb_confirm, MailWizCD.filter(F.action == WizAction.CONFIRM))
    cb(cb_list, MailCD.filter(F.action == MailAction.LIST))
    cb(cb_new, MailCD.filter(F.action == MailAction.NEW))
    cb(cb_from_list, MailCD.filter(F.action == MailAction.FROM_LIST))
    cb(cb_report, MailCD.filter(F.action == MailAction.REPORT))
    cb(cb_xlsx, MailCD.filter(F.action == MailAction.XLSX))
    cb(cb_control, MailCD.filter())
    cb(cb_staff_unsub, UnsubCD.filter())
    return router
