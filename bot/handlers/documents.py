"""Standard documents: the library (marketers and admins: «📎 Documents», /docs — add,
rename, a new version, hide) and sending one from a client's card in two taps
(«📎 Send a document» → the document; then to whom, when there is a choice, and an optional
comment), after which the next-step prompt follows as after any record of the history.
The rules are in crm/documents.py."""

from __future__ import annotations

import html
import io
import mimetypes

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.filters import FormText
from bot.handlers.log import ask_next_step
from bot.keyboards.client import ClientAction, ClientCD, card_back_kb
from bot.keyboards.documents import (
    DocAction,
    DocCD,
    DocNameCD,
    LibAction,
    LibCD,
    SendDocCD,
    SendGoCD,
    SendToCD,
    document_kb,
    library_kb,
    pick_document_kb,
    pick_target_kb,
    send_now_kb,
    use_file_name_kb,
)
from bot.keyboards.menu import BTN_DOCS
from bot.render import fmt_datetime
from crm.access import require
from crm.documents import EMAIL, MAX_BYTES, TELEGRAM, DocumentInfo, Upload, can_manage_documents
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.mail import MailFailed
from crm.service import CRM

e = html.escape
MAX_COMMENT = 1000  # a caption holds 1024


class DocAddForm(StatesGroup):
    file = State()
    name = State()


class DocRenameForm(StatesGroup):
    name = State()


class DocReplaceForm(StatesGroup):
    file = State()


class SendDocForm(StatesGroup):
    pick = State()
    to = State()
    comment = State()


forms.register(DocAddForm, lambda: _("new document"))
forms.register(DocRenameForm, lambda: _("renaming a document"))
forms.register(DocReplaceForm, lambda: _("new version of a document"))
forms.register(SendDocForm, lambda: _("sending a document"),
               buttons_only=(SendDocForm.pick, SendDocForm.to))


# --- the library -------------------------------------------------------------------------


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{max(n // 1024, 1)} KB"


def library_text(docs: list[DocumentInfo]) -> str:
    title = _("📎 <b>Standard documents</b>")
    if not docs:
        return title + "\n\n" + _("No documents yet. Add a price list, a presentation or demo "
                                  "materials: managers send them to clients from the card.")
    return title + "\n\n" + _("Managers send these from a client's card. Open one to rename "
                              "it, upload a new version or hide it.")


def document_text(doc: DocumentInfo, actor: Actor) -> str:
    lines = [f"📄 <b>{e(doc.name)}</b>"]
    if doc.hidden:
        lines.append(_("🙈 Hidden: not offered to managers."))
    lines.append(_("Version {n}: {file} ({size})").format(
        n=doc.version, file=e(doc.file_name), size=_size(doc.size)))
    lines.append(_("Uploaded {when} by {who}").format(
        when=fmt_datetime(doc.uploaded_at, actor.tz), who=e(doc.uploaded_by or "—")))
    return "\n".join(lines)


async def show_library(target: Message | CallbackQuery, actor: Actor, crm: CRM) -> None:
    require(can_manage_documents(actor))
    docs = await crm.documents.library(actor)
    await forms.screen(target, library_text(docs), library_kb(docs))


async def cmd_docs(message: Message, actor: Actor, crm: CRM) -> None:
    await show_library(message, actor, crm)


async def cb_library(query: CallbackQuery, callback_data: LibCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    if callback_data.action is LibAction.LIST:
        await show_library(query, actor, crm)
        return
    require(can_manage_documents(actor))
    await forms.start(state, DocAddForm.file)
    await forms.prompt(query, state, DocAddForm.file, _(
        "➕ <b>New document</b>\nSend the file (as a file, or a photo). /cancel to stop."))


def _upload_of(message: Message) -> tuple[str, str, str, str, int | None] | None:
    """(kind, file id, file name, MIME type, size) of a document or a photo."""
    if message.document is not None:
        d = message.document
        name = d.file_name or "document"
        mime = d.mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return "document", d.file_id, name, mime, d.file_size
    if message.photo:
        p = message.photo[-1]
        return "photo", p.file_id, "photo.jpg", "image/jpeg", p.file_size
    return None


async def _download(bot: Bot, draft: forms.Draft) -> Upload:
    buffer = io.BytesIO()
    await bot.download(str(draft["file"]), destination=buffer)
    return Upload(str(draft["kind"]), str(draft["file"]), str(draft["file_name"]),
                  str(draft["mime"]), buffer.getvalue())


async def _take_file(message: Message) -> dict[str, str] | None:
    found = _upload_of(message)
    if found is None:
        await message.answer(_("Send the document as a file or a photo."))
        return None
    kind, file_id, name, mime, size = found
    if size is not None and size > MAX_BYTES:
        await message.answer(_("The file is too large: a bot can take files up to 20 MB."))
        return None
    return {"kind": kind, "file": file_id, "file_name": name[:255], "mime": mime}


async def msg_add_file(message: Message, actor: Actor, state: FSMContext) -> None:
    require(can_manage_documents(actor))
    taken = await _take_file(message)
    if taken is None:
        return
    stem = taken["file_name"].rsplit(".", 1)[0] if taken["kind"] == "document" else ""
    await forms.prompt(
        message, state, DocAddForm.name,
        _("What is the document called? For example: «Price list 2026». Clients see the "
          "name too."),
        (lambda step: use_file_name_kb(stem, step)) if stem else None,
        stem=stem, **taken,
    )


async def _save_new(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                    state: FSMContext, bot: Bot, name: str) -> None:
    draft = await forms.values(state)
    upload = await _download(bot, draft)
    doc = await crm.documents.add(actor, name, upload)
    await forms.finish(state)
    await forms.screen(target, _("✅ Added.") + "\n\n" + document_text(doc, actor),
                       document_kb(doc))


async def msg_add_name(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                       bot: Bot) -> None:
    await _save_new(message, actor, crm, state, bot, message.text or "")


async def cb_add_name(query: CallbackQuery, callback_data: DocNameCD, actor: Actor, crm: CRM,
                      state: FSMContext, bot: Bot) -> None:
    draft = await forms.take(query, state, callback_data.step, DocAddForm.name)
    if draft is None:
        return
    await _save_new(query, actor, crm, state, bot, str(draft["stem"]))


async def cb_document(query: CallbackQuery, callback_data: DocCD, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    did, action = callback_data.document_id, callback_data.action
    if action in (DocAction.HIDE, DocAction.SHOW):
        doc = await crm.documents.set_hidden(actor, did, action is DocAction.HIDE)
        await forms.screen(query, document_text(doc, actor), document_kb(doc))
        return
    doc = await crm.documents.get(actor, did)
    if action is DocAction.RENAME:
        await forms.start(state, DocRenameForm.name, doc=did)
        await forms.prompt(query, state, DocRenameForm.name, _(
            "✏️ New name for «{name}»:").format(name=e(doc.name)))
    elif action is DocAction.REPLACE:
        await forms.start(state, DocReplaceForm.file, doc=did)
        await forms.prompt(query, state, DocReplaceForm.file, _(
            "🔄 Send the new version of «{name}» (a file or a photo). The name stays; the "
            "old version is kept for the history.").format(name=e(doc.name)))
    else:
        await forms.screen(query, document_text(doc, actor), document_kb(doc))


async def msg_rename(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    doc = await crm.documents.rename(actor, int(draft["doc"]), message.text or "")
    await forms.finish(state)
    await message.answer(_("✅ Renamed.") + "\n\n" + document_text(doc, actor),
                         reply_markup=document_kb(doc))


async def msg_replace_file(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                           bot: Bot) -> None:
    draft = await forms.values(state)
    taken = await _take_file(message)
    if taken is None:
        return
    await forms.finish(state)
    upload = await _download(bot, forms.Draft("", None, None, taken))
    doc = await crm.documents.replace(actor, int(draft["doc"]), upload)
    await message.answer(_("✅ New version saved.") + "\n\n" + document_text(doc, actor),
                         reply_markup=document_kb(doc))


async def msg_not_a_file(message: Message) -> None:
    await message.answer(_("Send the document as a file or a photo."))


# --- sending from the card ---------------------------------------------------------------


async def cb_send_start(query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM,
                        state: FSMContext) -> None:
    cid = callback_data.id
    found = await crm.documents.targets(actor, cid)
    docs = [d for d in await crm.documents.library(actor) if not d.hidden]
    note = ("\n\n" + _("E-mail is not configured: documents go by Telegram only.")) \
        if found.email_not_configured else ""
    if not docs:
        await forms.screen(query, _("The library has no documents yet: marketing adds them "
                                    "(«📎 Documents»)."), card_back_kb(cid))
        return
    if not found.targets:
        await forms.screen(query, _(
            "«{name}» has nobody to send a document to: no contact has linked their "
            "Telegram («🔗 Link for the client») or has an e-mail address that takes our "
            "mail.").format(name=e(found.client_name)) + note, card_back_kb(cid))
        return
    await forms.start(state, SendDocForm.pick, client=cid)
    await forms.prompt(
        query, state, SendDocForm.pick,
        _("📎 <b>Send a document to «{name}»</b>\nWhich one?").format(
            name=e(found.client_name)) + note,
        lambda step: pick_document_kb(cid, docs, step),
    )


async def cb_send_pick(query: CallbackQuery, callback_data: SendDocCD, actor: Actor, crm: CRM,
                       state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, SendDocForm.pick)
    if draft is None:
        return
    cid = int(draft["client"])
    doc = await crm.documents.file(actor, callback_data.document_id)
    found = await crm.documents.targets(actor, cid)
    if len(found.targets) == 1:
        t = found.targets[0]
        await _ask_comment(query, state, cid, doc.name, t.name,
                           doc=doc.id, channel=t.channel, to_id=t.id)
        return
    await forms.prompt(
        query, state, SendDocForm.to,
        _("📎 «{doc}»: to whom?").format(doc=e(doc.name)),
        lambda step: pick_target_kb(cid, found.targets, step), doc=doc.id, doc_name=doc.name,
    )


async def cb_send_to(query: CallbackQuery, callback_data: SendToCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, SendDocForm.to)
    if draft is None:
        return
    cid = int(draft["client"])
    t = await crm.documents.target(actor, cid, str(callback_data.channel),
                                   callback_data.target_id)
    await _ask_comment(query, state, cid, str(draft["doc_name"]), t.name,
                       channel=t.channel, to_id=t.id)


async def _ask_comment(query: CallbackQuery, state: FSMContext, cid: int, doc_name: str,
                       to: str, **vals: object) -> None:
    await forms.prompt(
        query, state, SendDocForm.comment,
        _("📎 «{doc}» → {to}\nAdd a comment (it goes with the document), or send it as is.")
        .format(doc=e(doc_name), to=e(to)),
        lambda step: send_now_kb(cid, step), doc_name=doc_name, **vals,
    )


async def cb_send_go(query: CallbackQuery, callback_data: SendGoCD, actor: Actor, crm: CRM,
                     state: FSMContext, bot: Bot) -> None:
    draft = await forms.take(query, state, callback_data.step, SendDocForm.comment)
    if draft is None:
        return
    await _deliver(query, actor, crm, state, bot, draft, None)


async def msg_send_comment(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                           bot: Bot) -> None:
    text = (message.text or "").strip()
    if len(text) > MAX_COMMENT:
        raise InvalidInput("caption")
    draft = await forms.values(state)
    await _deliver(message, actor, crm, state, bot, draft, text or None)


def email_text(doc_name: str, comment: str | None, manager: str) -> str:
    body = comment or _("Hello!\n\nPlease find «{doc}» attached.").format(doc=doc_name)
    return f"{body}\n\n{manager}"


async def _deliver(target: Message | CallbackQuery, actor: Actor, crm: CRM, state: FSMContext,
                   bot: Bot, draft: forms.Draft, comment: str | None) -> None:
    # The form ends first: a second tap, or the same comment again, finds nothing to send.
    await forms.finish(state)
    cid = int(draft["client"])
    to = await crm.documents.target(actor, cid, str(draft["channel"]), int(draft["to_id"]))
    doc = await crm.documents.file(actor, int(draft["doc"]))
    if to.channel == TELEGRAM:
        assert to.chat_id is not None
        try:
            if doc.kind == "photo":
                sent = await bot.send_photo(to.chat_id, doc.tg_file_id, caption=comment,
                                            parse_mode=None)
            else:
                sent = await bot.send_document(to.chat_id, doc.tg_file_id, caption=comment,
                                               parse_mode=None)
        except TelegramForbiddenError:
            await crm.channel.mark_blocked(to.id)
            await forms.screen(target, _("{name} has blocked the bot: the document was not "
                                         "delivered.").format(name=e(to.name)),
                               card_back_kb(cid))
            return
        done = await crm.documents.record_sent(actor, cid, doc, to, comment,
                                               tg_chat_id=to.chat_id,
                                               tg_message_id=sent.message_id)
    else:
        assert to.channel == EMAIL
        try:
            done = await crm.documents.send_email(
                actor, cid, doc.id, to.id, doc.name, email_text(doc.name, comment, actor.name),
                comment)
        except MailFailed as err:
            why = _("the address was refused, it is marked as bounced") if err.refused \
                else err.reason
            await forms.screen(target, _("✉️ The e-mail to {name} was not sent: {why}.").format(
                name=e(to.name), why=e(why)), card_back_kb(cid))
            return
    await ask_next_step(
        target, state, cid, None,
        _("✅ Sent: «{doc}» → {to}. It is in the history of «{client}». What is the next "
          "step?").format(doc=e(done.name), to=e(done.to), client=e(done.client_name)),
        crm.clock.now().timestamp())


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_docs, Command("docs"))
    router.message.register(cmd_docs, F.text == BTN_DOCS)
    router.callback_query.register(cb_library, LibCD.filter())
    router.callback_query.register(cb_document, DocCD.filter())
    router.callback_query.register(cb_add_name, DocNameCD.filter())
    for kind in (F.document, F.photo):
        router.message.register(msg_add_file, DocAddForm.file, kind)
        router.message.register(msg_replace_file, DocReplaceForm.file, kind)
    router.message.register(msg_not_a_file, DocAddForm.file, FormText())
    router.message.register(msg_not_a_file, DocReplaceForm.file, FormText())
    router.message.register(msg_add_name, DocAddForm.name, FormText())
    router.message.register(msg_rename, DocRenameForm.name, FormText())
    router.callback_query.register(cb_send_start,
                                   ClientCD.filter(F.action == ClientAction.SEND_DOC))
    router.callback_query.register(cb_send_pick, SendDocCD.filter())
    router.callback_query.register(cb_send_to, SendToCD.filter())
    router.callback_query.register(cb_send_go, SendGoCD.filter())
    router.message.register(msg_send_comment, SendDocForm.comment, FormText())
    return router
