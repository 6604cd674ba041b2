"""Standard documents through the real dispatcher: a marketer keeps the library (add from a
file, rename, a new version with the old kept, hide), a manager sends one from the card to
the linked Telegram (the bot sends the document by its file id) or by e-mail to a real SMTP
server, the history says "Sent", the next-step prompt follows; a double tap sends once;
unsubscribed, blocked and bounced contacts are not offered; e-mail not configured says so —
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import SendDocument, SendPhoto, TelegramMethod
from aiogram.types import Chat, Message, PhotoSize
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.keyboards.client import ClientCD
from crm.config import MailConfig
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, Document, DocumentVersion, EmailConsent
from tests.factories import admin, client, person
from tests.harness import (
    Harness,
    TgUser,
    alerts,
    button,
    buttons,
    last_text,
    make_bot,
    reply_keyboard,
)
from tests.smtp import Inbox

MARK = TgUser(3201, "Mark", "Eting", language_code="en")
MAX = TgUser(3202, "Max", "Sokolov", language_code="en")
LENA = TgUser(3203, "Lena", "Other", language_code="en")
OLGA = TgUser(5201, "Ольга", "Иванова", language_code="ru")
PDF = b"%PDF-1.4 price list " + bytes(range(256)) * 8
PDF2 = b"%PDF-1.4 price list v2 " + bytes(range(256)) * 9
REFUSED = "Your role does not allow this."


def harness_for(crm: CRM) -> Harness:
    bot, session = make_bot()
    return Harness(dp=create_dispatcher(crm, default_locale="ru"), bot=bot, session=session)


@pytest.fixture
async def h(any_crm: CRM) -> AsyncIterator[Harness]:
    harness = harness_for(any_crm)
    yield harness
    await harness.bot.session.close()


async def count(crm: CRM, model: type[object], *where: Any) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def setup(crm: CRM, email: str | None = None) -> tuple[int, int]:
    """Mark the marketer; Max owns «Horns & Hooves» with Olga Ivanova (and her e-mail)."""
    boss = await admin(crm)
    await person(crm, MARK.id, "Mark Eting", Role.MARKETER)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    await person(crm, LENA.id, "Lena Other", Role.MANAGER)
    ref = await client(crm, max_, "Horns & Hooves", contact_name="Olga Ivanova")
    card = await crm.clients.card(max_, ref.id)
    olga_id = card.contacts[0].id
    if email:
        await crm.clients.update_contact(boss, olga_id, "email", email)
    return ref.id, olga_id


async def add_price_list(h: Harness) -> None:
    calls = await h.send(MARK, "/docs")
    calls = await h.press(MARK, button(calls, "Add a document"))
    await h.send_document(MARK, PDF, "Прайс-лист 2026.pdf")
    await h.send(MARK, "Price list 2026")


async def link_olga(h: Harness, cid: int) -> None:
    calls = await h.press(MAX, ClientCD(id=cid, action="link").pack())
    calls = await h.press(MAX, button(calls, "Olga Ivanova"))
    token = last_text(calls).split("?start=")[1].split()[0]
    await h.send(OLGA, f"/start {token}")


def sent_docs(calls: list[TelegramMethod[Any]]) -> list[SendDocument]:
    return [c for c in calls if isinstance(c, SendDocument)]


async def test_the_library_add_replace_rename_hide(h: Harness, any_crm: CRM) -> None:
    await setup(any_crm)
    calls = await h.send(MARK, "/docs")
    assert "No documents yet" in last_text(calls)
    calls = await h.press(MARK, button(calls, "Add a document"))
    assert "Send the file" in last_text(calls)
    assert "as a file or a photo" in last_text(await h.send(MARK, "a price list"))
    calls = await h.send_document(MARK, PDF, "Прайс-лист 2026.pdf")
    assert "What is the document called?" in last_text(calls)
    name_it = button(calls, "Name it «Прайс-лист 2026»")
    calls = await h.press(MARK, name_it)
    assert "✅ Added." in last_text(calls) and "Прайс-лист 2026" in last_text(calls)
    assert "Version 1: Прайс-лист 2026.pdf" in last_text(calls)
    await h.press(MARK, name_it)  # a double tap: one document
    assert await count(any_crm, Document) == 1
    async with any_crm.db.transaction() as s:
        v1 = await s.scalar(select(DocumentVersion))
        assert v1 is not None and v1.content == PDF and v1.mime_type == "application/pdf"
        assert v1.tg_file_id.startswith("doc") and v1.version == 1

    # A new version: the name stays and points to it; the old one is kept.
    calls = await h.press(MARK, button(calls, "New version"))
    calls = await h.send_document(MARK, PDF2, "price-2026-v2.pdf")
    assert "New version saved" in last_text(calls)
    assert "Version 2: price-2026-v2.pdf" in last_text(calls)
    assert await count(any_crm, DocumentVersion) == 2
    calls = await h.press(MARK, button(calls, "Rename"))
    calls = await h.send(MARK, "Price list 2026")
    assert "✅ Renamed." in last_text(calls) and "Price list 2026" in last_text(calls)
    calls = await h.send(MARK, "/docs")
    assert [t for t, _ in buttons(calls)] == ["📄 Price list 2026 · v2", "➕ Add a document"]

    # Hidden: managers are not offered it any more.
    calls = await h.press(MARK, button(calls, "Price list 2026"))
    calls = await h.press(MARK, button(calls, "Hide"))
    assert "Hidden" in last_text(calls)
    max_ = await any_crm.people.identify(MAX.id)
    assert max_ is not None
    assert await any_crm.documents.library(max_) == []
    calls = await h.press(MARK, button(calls, "Show again"))
    assert [d.name for d in await any_crm.documents.library(max_)] == ["Price list 2026"]
    # A manager does not keep the library.
    assert last_text(await h.send(MAX, "/docs")) == REFUSED
    assert "📎 Documents" not in reply_keyboard(await h.send(MAX, "/start"))
    assert "📎 Documents" in reply_keyboard(await h.send(MARK, "/start"))
    assert "No documents yet" not in last_text(await h.send(MARK, "📎 Documents"))


async def test_send_to_the_linked_telegram_once_then_the_next_step(
    h: Harness, any_crm: CRM
) -> None:
    cid, _ = await setup(any_crm)
    await add_price_list(h)
    await link_olga(h, cid)
    calls = await h.press(MAX, ClientCD(id=cid, action="open").pack())
    calls = await h.press(MAX, button(calls, "Send a document"))
    assert "Which one?" in last_text(calls)
    calls = await h.press(MAX, button(calls, "Price list 2026"))
    # One place to send to: straight to the comment, which may be skipped.
    assert "«Price list 2026» → Olga Ivanova" in last_text(calls)
    go = button(calls, "Send without a comment")
    calls = await h.press(MAX, go)
    docs = sent_docs(calls)
    assert len(docs) == 1 and int(docs[0].chat_id) == OLGA.id
    async with any_crm.db.transaction() as s:
        version = await s.scalar(select(DocumentVersion))
        assert version is not None
    assert docs[0].document == version.tg_file_id and docs[0].caption is None
    assert "✅ Sent: «Price list 2026» → Olga Ivanova" in last_text(calls)
    assert "What is the next step?" in last_text(calls)
    assert any("Tomorrow" in t or "tomorrow" in t for t, _ in buttons(calls))
    again = await h.press(MAX, go)  # a double tap
    assert sent_docs(again) == []
    assert await count(any_crm, Activity, Activity.event == "document_sent") == 1
    history = last_text(await h.press(MAX, f"h:{cid}:0:"))
    assert "📤 Sent: Price list 2026 (Telegram → Olga Ivanova)" in history

    # With a comment: it goes as the caption and into the history.
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    calls = await h.press(MAX, button(calls, "Price list 2026"))
    calls = await h.send(MAX, "Как обсуждали, <скидка> 5%")
    docs = sent_docs(calls)
    assert len(docs) == 1 and docs[0].caption == "Как обсуждали, <скидка> 5%"
    async with any_crm.db.transaction() as s:
        texts_ = (await s.scalars(select(Activity.text).where(
            Activity.event == "document_sent").order_by(Activity.id))).all()
    assert texts_ == [None, "Как обсуждали, <скидка> 5%"]


async def test_by_email_to_a_real_smtp_server(
    any_crm: CRM, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    crm = CRM(any_crm.db, replace(any_crm.config, mail=MailConfig(
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
        smtp_from="Продажи <sales@example.com>", attempts=1,
        public_url="https://bot.example.com")), any_crm.clock)
    h = harness_for(crm)
    cid, olga_id = await setup(crm, email="olga@client.ru")
    await add_price_list(h)
    await link_olga(h, cid)
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    calls = await h.press(MAX, button(calls, "Price list 2026"))
    assert "to whom?" in last_text(calls)  # Telegram and e-mail: a choice
    assert [t for t, _ in buttons(calls)][:2] == [
        "💬 Olga Ivanova · Telegram", "✉️ Olga Ivanova · olga@client.ru"]
    calls = await h.press(MAX, button(calls, "olga@client.ru"))
    calls = await h.send(MAX, "Ольга, добрый день! Прайс во вложении.")
    assert sent_docs(calls) == []
    assert "✅ Sent: «Price list 2026» → Olga Ivanova" in last_text(calls)
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["Subject"] == "Price list 2026"
    assert msg["To"].addresses[0].addr_spec == "olga@client.ru"
    assert msg["To"].addresses[0].display_name == "Olga Ivanova"
    body = msg.get_body(("plain",))
    assert body is not None
    assert "Ольга, добрый день! Прайс во вложении." in body.get_content()
    assert "Max Sokolov" in body.get_content()
    files = list(msg.iter_attachments())
    assert [(f.get_filename(), f.get_content()) for f in files] == [
        ("Прайс-лист 2026.pdf", PDF)]
    async with crm.db.transaction() as s:
        token = await s.scalar(select(EmailConsent.token))
    assert msg["List-Unsubscribe"] == (
        f"<mailto:sales@example.com?subject=unsubscribe%20{token}>, "
        f"<https://bot.example.com/mail/unsubscribe/{token}>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    history = last_text(await h.press(MAX, f"h:{cid}:0:"))
    assert "📤 Sent: Price list 2026 (e-mail → Olga Ivanova)" in history

    # She unsubscribes by the link, then blocks the bot: nobody left to offer.
    assert await crm.mail.email_unsubscribe(str(token)) is not None
    card = last_text(await h.press(MAX, ClientCD(id=cid, action="open").pack()))
    assert "olga@client.ru (🚫 unsubscribed from mail)" in card
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    calls = await h.press(MAX, button(calls, "Price list 2026"))
    assert "«Price list 2026» → Olga Ivanova" in last_text(calls)  # Telegram only now
    h.session.fail_next(error=TelegramForbiddenError)
    calls = await h.press(MAX, button(calls, "Send without a comment"))
    assert "has blocked the bot" in last_text(calls)
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    assert "has nobody to send a document to" in last_text(calls)
    assert await count(crm, Activity, Activity.event == "document_sent") == 1
    assert olga_id
    await h.bot.session.close()


async def test_a_refused_address_is_bounced_and_not_offered_again(
    any_crm: CRM, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.refuse.add("gone@client.ru")
    crm = CRM(any_crm.db, replace(any_crm.config, mail=MailConfig(
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
        smtp_from="sales@example.com", attempts=1)), any_crm.clock)
    h = harness_for(crm)
    cid, _ = await setup(crm, email="gone@client.ru")
    await add_price_list(h)
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    calls = await h.press(MAX, button(calls, "Price list 2026"))
    assert "«Price list 2026» → Olga Ivanova" in last_text(calls)
    calls = await h.press(MAX, button(calls, "Send without a comment"))
    assert "was not sent" in last_text(calls) and "bounced" in last_text(calls)
    assert await count(crm, Activity, Activity.event == "document_sent") == 0
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    assert "has nobody to send a document to" in last_text(calls)
    card = last_text(await h.press(MAX, ClientCD(id=cid, action="open").pack()))
    assert "gone@client.ru (⚠️ address refused, no mail)" in card
    async with crm.db.transaction() as s:
        row = await s.scalar(select(EmailConsent))
        assert row is not None and row.state == "bounced" and "550" in (row.reason or "")
    await h.bot.session.close()


async def test_email_not_configured_is_said_and_rights_are_checked(
    h: Harness, any_crm: CRM
) -> None:
    cid, _ = await setup(any_crm, email="olga@client.ru")
    await add_price_list(h)
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    text = last_text(calls)
    assert "has nobody to send a document to" in text
    assert "E-mail is not configured" in text
    # Another manager, and a marketer, may not send from this card.
    for user in (LENA, MARK):
        calls = await h.press(user, ClientCD(id=cid, action="doc").pack())
        assert alerts(calls) in (
            [REFUSED], ["This is not available (it may have been removed or is not yours)."])
    # Linked: Telegram is offered, with the note that e-mail is off.
    await link_olga(h, cid)
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    assert "Which one?" in last_text(calls) and "E-mail is not configured" in last_text(calls)
    # A forged pick for another client's form is not taken.
    pick = button(calls, "Price list 2026")
    calls = await h.press(LENA, pick)
    assert sent_docs(calls) == []


async def test_a_photo_in_the_library_goes_as_a_photo(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)
    await link_olga(h, cid)
    calls = await h.send(MARK, "/docs")
    await h.press(MARK, button(calls, "Add a document"))
    h.session.files["PHOTO-DEMO"] = b"\xff\xd8\xff jpeg bytes"
    photo = Message(
        message_id=4242, date=datetime.now(UTC), chat=Chat(id=MARK.id, type="private"),
        from_user=MARK.as_user(),
        photo=[PhotoSize(file_id="PHOTO-DEMO", file_unique_id="pd", width=800, height=600,
                         file_size=14)],
    )
    calls = await h.send_message(photo)
    assert "What is the document called?" in last_text(calls)
    calls = await h.send(MARK, "Demo stand")
    assert "Version 1: photo.jpg" in last_text(calls)
    async with any_crm.db.transaction() as s:
        v = await s.scalar(select(DocumentVersion))
        assert v is not None and v.kind == "photo" and v.content == b"\xff\xd8\xff jpeg bytes"
    calls = await h.press(MAX, ClientCD(id=cid, action="doc").pack())
    calls = await h.press(MAX, button(calls, "Demo stand"))
    calls = await h.press(MAX, button(calls, "Send without a comment"))
    pics = [c for c in calls if isinstance(c, SendPhoto)]
    assert len(pics) == 1 and pics[0].photo == "PHOTO-DEMO" and int(pics[0].chat_id) == OLGA.id
