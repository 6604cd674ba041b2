"""An English screen has no Russian in it, and the Russian catalog no English left in it.

The English check drives the main screens through the real dispatcher for a user whose
Telegram speaks English, with Latin-only client data, and looks at every text, caption,
alert and button the bot sent; the reminders and the digest are rendered as the scheduler
renders them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, create_i18n
from bot.keyboards.client import ClientAction, ClientCD
from bot.notices import digest_parts, overdue_text, reminder_text
from bot.render import fmt_decimal, fmt_percent
from crm.classifiers import Label
from crm.reminders import LastEntry, OverdueView, Recipient, ReminderView
from crm.roles import Role
from crm.service import CRM
from scheduler.sender import in_locale
from tests.factories import client, person
from tests.harness import Harness, TgUser, button, buttons, last_text
from tests.notify_data import actor
from tests.test_digest import build

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
JOHN = TgUser(5005, "John", "Smith", language_code="en")


def said(calls: list[TelegramMethod[Any]]) -> list[str]:
    """Everything a person sees from these calls: texts, captions, alerts, buttons."""
    out: list[str] = []
    for call in calls:
        if isinstance(call, (SendMessage, EditMessageText)):
            out.append(call.text or "")
        elif isinstance(call, SendPhoto):
            out.append(call.caption or "")
        elif isinstance(call, AnswerCallbackQuery):
            out.append(call.text or "")
        elif isinstance(call, SetMyCommands):
            out += [c.description for c in call.commands]
        markup = getattr(call, "reply_markup", None)
        if isinstance(call, (SendMessage, EditMessageText, EditMessageReplyMarkup, SendPhoto)):
            if isinstance(markup, InlineKeyboardMarkup):
                out += [b.text for row in markup.inline_keyboard for b in row]
            elif isinstance(markup, ReplyKeyboardMarkup):
                out += [b.text for row in markup.keyboard for b in row]
    return out


def russian_in(texts: list[str]) -> list[str]:
    return [t for t in texts if CYRILLIC.search(t)]


def test_the_check_itself_sees_russian() -> None:
    assert russian_in(["Deal: Pumps", "Сделка: Pumps"]) == ["Сделка: Pumps"]


async def test_english_screens_have_no_cyrillic(harness: Harness, crm: CRM) -> None:
    john = await person(crm, JOHN.id, "John Smith", locale="en")
    ref = await client(crm, john, "Acme Pumps Ltd", "+44 20 7946 0958",
                       probability=70)
    seen: list[str] = []

    async def send(text: str) -> list[TelegramMethod[Any]]:
        calls = await harness.send(JOHN, text)
        seen.extend(said(calls))
        return calls

    async def press(data: str) -> list[TelegramMethod[Any]]:
        calls = await harness.press(JOHN, data)
        seen.extend(said(calls))
        return calls

    await send("/start")
    await send("/help")
    await send("📅 Today")
    await send("/find")
    await send("nothing like this")
    calls = await send("acme")
    assert "Acme Pumps Ltd" in last_text(calls)
    card = ClientCD(id=ref.id, action=ClientAction.OPEN).pack()
    calls = await press(card)
    assert "Purchase probability: 70%" in last_text(calls)
    await press(button(calls, "History"))
    # Log a contact up to the next-step prompt, and type a date it cannot read.
    calls = await press(ClientCD(id=ref.id, action=ClientAction.LOG).pack())
    calls = await press(button(calls, "Call"))
    calls = await press(button(calls, "Reached"))
    calls = await send("Talked about the price list")
    assert "next step" in last_text(calls)
    calls = await press(button(calls, "Type it"))
    calls = await send("some day")
    assert "tomorrow 3pm" in last_text(calls)
    await send("tomorrow 3pm")
    await press(ClientCD(id=ref.id, action=ClientAction.EDIT).pack())
    await send("/cancel")
    # A deal with an invoice: the deals screen, the deal and the invoice screens.
    calls = await press(ClientCD(id=ref.id, action=ClientAction.NEW_DEAL).pack())
    await send("Pump service")
    await send("lots")
    calls = await send("150000")
    await send("whenever")
    calls = await press(button(calls, "End of next month"))
    calls = await press(button(calls, "Invoices"))
    calls = await press(button(calls, "Invoice"))
    await send("100000")
    calls = await press(button(await send("15.12"), "Record payment"))
    await send("40000")
    await press(ClientCD(id=ref.id, action=ClientAction.DEALS).pack())
    await press(ClientCD(id=ref.id, action=ClientAction.INVOICES).pack())
    calls = await press(card)
    await press(button(calls, "History"))
    # The new-client form: every prompt up to the probability.
    await send("/new")
    await send("Globex Corporation")
    calls = await send("+7 916 765-43-21")
    for _ in range(8):
        skip = [b for b in said(calls) if "Skip" in b]
        if not skip:
            break
        calls = await press(button(calls, "Skip"))
    await send("/cancel")
    found = russian_in(seen)
    assert not found, "Russian on an English screen:\n" + "\n".join(found)
    assert len(seen) > 40  # the walk really went through the screens


async def test_english_reminders_and_digest_have_no_cyrillic(crm: CRM) -> None:
    ids = await build(crm.db)
    d = await crm.digest.for_actor(await actor(crm.db, ids["helen"]))
    i18n = create_i18n("ru")
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    who = Recipient(user_id=1, tg_id=1, name="John Smith", locale="en",
                    timezone="Europe/Moscow", role=Role.MANAGER)
    call = Label(id=1, code="call", ru="Звонок", en="Call")
    reminder = ReminderView(
        recipient=who, planned_id=1, client_id=1, client_name="Acme Pumps Ltd",
        deal_title="Pump service", due_at=now, note="Ask about the budget",
        phone="+44 20 7946 0958", contact_name="Jane Doe",
        last=LastEntry(occurred_at=now - timedelta(days=3), type=call, outcome=None,
                       event=None, text="Sent the offer"),
        call_type_id=1,
    )
    no_history = ReminderView(
        recipient=who, planned_id=2, client_id=1, client_name="Acme Pumps Ltd",
        deal_title=None, due_at=now, note=None, phone=None, contact_name=None,
        last=LastEntry(occurred_at=now, type=None, outcome=None, event="deal_won", text=None),
        call_type_id=None,
    )
    overdue = OverdueView(
        recipient=who, invoice_id=1, number="INV-7", amount=Decimal("100000"),
        owed=Decimal("60000"), currency="RUB", due_on=date(2026, 11, 15), days_overdue=10,
        client_id=1, client_name="Acme Pumps Ltd", deal_title="Pump service",
        manager_name="John Smith",
    )
    with in_locale(i18n, "en"):
        texts = [
            reminder_text(reminder), reminder_text(no_history, late_since=now),
            overdue_text(overdue, late_since=now), *digest_parts(d),
        ]
        assert fmt_decimal(25.5) == "25.5" and fmt_percent(70) == "70%"
    found = russian_in(texts)
    assert not found, "Russian in an English notice:\n" + "\n".join(found)
    assert "Payment overdue by 10 days" in texts[2]
    with in_locale(i18n, "ru"):
        assert fmt_decimal(25.5) == "25,5" and fmt_percent(70) == "70\u202f%"
        assert "Оплата просрочена на 10 дней" in overdue_text(overdue)


def test_russian_catalog_has_no_english_left() -> None:
    """Every Russian msgstr has Cyrillic in it, unless there is nothing to translate (only
    placeholders, emoji, symbols, numbers, commands and brand names)."""
    with (LOCALES_DIR / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        catalog = read_po(fp, locale="ru")
    # Said once the user has switched to English, so in English whatever the catalog.
    deliberate = {"Language: English"}
    neutral = re.compile(r"\{\w+\}|/\w+|<[^>]+>|e-mail|E-mail|Telegram|Salesbot|CRM")
    english: list[str] = []
    for m in catalog:
        if not m.id or m.id in deliberate:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for s in map(str, strings):
            if re.search(r"[A-Za-z]", neutral.sub("", s)) and not CYRILLIC.search(s):
                english.append(f"{m.id!r} → {s!r}")
    assert not english, "English left in the Russian catalog:\n" + "\n".join(english)


async def test_english_report_screens_have_no_cyrillic(harness: Harness, crm: CRM) -> None:
    """Every report through the menu, its period picker, a typed period and its spreadsheet
    (the latter's header rows and sheet names)."""
    from io import BytesIO

    from aiogram.methods import SendDocument
    from aiogram.types import BufferedInputFile
    from openpyxl import load_workbook

    from bot.keyboards.reports import kinds_for

    await build(crm.db)
    helen = TgUser(9001, "Helen", "Head", language_code="en")
    seen: list[str] = []
    menu = await harness.send(helen, "📊 Reports")
    seen += said(menu)
    titles = [t for t, _ in buttons(menu)]
    assert titles[-2:] == ["📥 Import clients", "📤 Export clients"]  # not reports
    # The client lists have their own test of English screens (tests/test_bot_client_lists.py).
    titles = [t for t in titles[:-2] if "Client lists" not in t]
    assert len(titles) == len(kinds_for(Role.HEAD))
    for title in titles:
        if "Digest" in title:
            continue
        calls = await harness.press(helen, button(menu, title))
        seen += said(calls)
        if any(t == "This month" for t, _ in buttons(calls)):  # a snapshot has no period
            calls = await harness.press(helen, button(calls, "This month"))
            seen += said(calls)
            calls = await harness.press(helen, button(calls, "Period"))
            seen += said(calls)
            calls = await harness.send(helen, "1.11-24.11")
            seen += said(calls)
        calls = await harness.press(helen, button(calls, "XLSX"))
        seen += said(calls)
        for doc in [c.document for c in calls if isinstance(c, SendDocument)]:
            assert isinstance(doc, BufferedInputFile)
            seen.append(doc.filename or "")
            wb = load_workbook(BytesIO(doc.data))
            seen += wb.sheetnames
            seen += [str(c.value) for ws in wb for c in ws[1]]
    found = russian_in(seen)
    assert not found, "Russian on an English report screen:\n" + "\n".join(found)
