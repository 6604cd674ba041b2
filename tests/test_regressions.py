"""Regressions found in review, through the real dispatcher. Each docstring says what went
wrong before the fix; the test asserts what a user sees now."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.keyboards.client import ClientCD, EditPickCD, HistCD, LogOutcomeCD
from bot.keyboards.reminders import RemCD
from bot.render import clip
from crm.clock import FrozenClock
from crm.roles import Role
from crm.service import CRM
from tests.conftest import ADMIN_TG
from tests.factories import client, person
from tests.harness import (
    BOT_ID,
    BOT_USERNAME,
    Harness,
    RecordingSession,
    TgUser,
    alerts,
    button,
    buttons,
    last_text,
    texts,
)

ADMIN = TgUser(ADMIN_TG, "Anna", "Adminova", language_code="en")
MAX = TgUser(2002, "Max", "Sokolov", language_code="en")


# --- a session that answers edits the way Telegram does ------------------------------------


class TelegramLikeSession(RecordingSession):
    """Telegram refuses an edit that changes nothing (400 "message is not modified") and a
    second answer to the same callback query (400 "query ID is invalid")."""

    def __init__(self) -> None:
        super().__init__()
        self.content: dict[int, tuple[Any, Any]] = {}
        self.answered: set[str] = set()

    async def make_request(self, bot: Bot, method: TelegramMethod[Any],
                           timeout: int | None = None) -> Any:
        if isinstance(method, (EditMessageText, EditMessageReplyMarkup)):
            mid = method.message_id or 0
            old = self.content.get(mid)
            new_text = getattr(method, "text", old[0] if old else None)
            new = (new_text, method.reply_markup)
            if old is not None and old == new:
                self.calls.append(method)
                raise TelegramBadRequest(
                    method=method,
                    message="Bad Request: message is not modified: specified new message "
                            "content and reply markup are exactly the same",
                )
            self.content[mid] = new
        if isinstance(method, AnswerCallbackQuery):
            if method.callback_query_id in self.answered:
                self.calls.append(method)
                raise TelegramBadRequest(
                    method=method,
                    message="Bad Request: query is too old and response timeout expired or "
                            "query ID is invalid",
                )
            self.answered.add(method.callback_query_id)
        return await super().make_request(bot, method, timeout)


def plain(html_text: str) -> str:
    """What Telegram puts into Message.text for an HTML message: tags gone, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def answered_quietly(calls: list[Any]) -> bool:
    """The press was answered, with no error shown (a spinner otherwise stays on)."""
    answers = [c for c in calls if isinstance(c, AnswerCallbackQuery)]
    return bool(answers) and not any(
        "went wrong" in (a.text or "") for a in answers)


_query_ids = iter(range(10_000, 10**9))


async def press_on(h: Harness, user: TgUser, data: str, message_id: int,
                   html_text: str, markup: InlineKeyboardMarkup | None) -> list[Any]:
    """A press on a message as Telegram delivers it: plain text, with its keyboard."""
    msg = Message(
        message_id=message_id, date=datetime.now(UTC), chat=Chat(id=user.id, type="private"),
        from_user=User(id=BOT_ID, is_bot=True, first_name="Salesbot"),
        text=plain(html_text), reply_markup=markup,
    )
    query = CallbackQuery(id=str(next(_query_ids)), from_user=user.as_user(),
                          chat_instance="ci", message=msg, data=data)
    return await h._feed(Update(update_id=next(_query_ids), callback_query=query))


@pytest.fixture
def tg_harness(harness: Harness) -> Harness:
    session = TelegramLikeSession()
    harness.bot.session = session
    harness.session = session
    return harness


# --- 1. An existing user who opens an invitation link loses their role ------------------------


async def test_admin_opening_an_invite_link_keeps_their_role(
    harness: Harness, crm: CRM
) -> None:
    """crm/people.py:107-113: any active user who opens an invitation link (e.g. the admin
    checking the link they just made) gets the invited role and team, and the link is spent."""
    await harness.send(ADMIN, "/start")
    calls = await harness.send(ADMIN, "/invite")
    calls = await harness.press(ADMIN, button(calls, "Sales manager"))
    token = last_text(calls).split(f"https://t.me/{BOT_USERNAME}?start=")[1].split()[0]
    await harness.send(ADMIN, f"/start {token}")
    me = await crm.people.identify(ADMIN_TG)
    assert me is not None
    assert me.role is Role.ADMIN, f"the admin became a {me.role.value}"


# --- 2. "No answer" under a reminder fails once the deal it was planned for is closed ----------


async def test_no_answer_works_after_the_deal_was_closed(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    """crm/reminders.py:246-249 passes the planned contact's deal to history.log, which refuses
    a closed deal (crm/history.py:187): the reminder's main button is dead."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    deal = await crm.deals.create(max_, ref.id, "Printers", Decimal(1000), None)
    planned = await crm.planning.plan(max_, ref.id, clock.now() + timedelta(hours=1),
                                      deal_id=deal.id)
    await crm.deals.win(max_, deal.id)
    clock.advance(timedelta(hours=1, minutes=1))
    calls = await harness.press(MAX, RemCD(planned_id=planned.id, action="na2h").pack())
    assert not alerts(calls) or "No answer" in alerts(calls)[0], alerts(calls)


# --- 3. Editing a screen into itself: Telegram's "message is not modified" -------------------


async def test_history_filter_pressed_again_is_quietly_answered(
    tg_harness: Harness, crm: CRM
) -> None:
    """bot/handlers/clients.py:65 compares Message.text (plain) with the HTML it would send,
    so the guard never matches an HTML screen; pressing the selected «• All» filter (or a
    double tap) edits the message into itself -> TelegramBadRequest escapes the handler."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    data = HistCD(client_id=ref.id, page=0).pack()
    calls = await tg_harness.press(MAX, data, message_id=7)
    edit = [c for c in calls if isinstance(c, EditMessageText)][-1]
    again = await press_on(tg_harness, MAX, data, 7, edit.text or "", edit.reply_markup)
    assert answered_quietly(again)


async def test_card_pressed_twice_is_quietly_answered(tg_harness: Harness, crm: CRM) -> None:
    """Same root cause on the card: a double tap on «Card» raises instead of being ignored."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    data = ClientCD(id=ref.id, action="open").pack()
    calls = await tg_harness.press(MAX, data, message_id=8)
    edit = [c for c in calls if isinstance(c, EditMessageText)][-1]
    again = await press_on(tg_harness, MAX, data, 8, edit.text or "", edit.reply_markup)
    assert answered_quietly(again)


async def test_picking_a_classifier_answers_the_query_once(
    tg_harness: Harness, crm: CRM
) -> None:
    """bot/handlers/clients.py:216-218: query.answer("Saved.") and then show() answers again;
    Telegram rejects the second answerCallbackQuery."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    region = (await crm.classifiers.items("region"))[0]
    calls = await tg_harness.press(
        MAX, EditPickCD(client_id=ref.id, field="region", item_id=region.id).pack(), message_id=9
    )
    assert len([c for c in calls if isinstance(c, AnswerCallbackQuery)]) == 1
    assert f"Region: {region.en}" in last_text(calls)


async def test_new_client_double_tap_acts_once(tg_harness: Harness, crm: CRM) -> None:
    """bot/handlers/new_client.py:141: the second tap of a double tap removes a keyboard that
    is already gone (400 not modified) and would also act on the *next* step of the form."""
    await person(crm, MAX.id, "Max Sokolov")
    await tg_harness.send(MAX, "/new")
    calls = await tg_harness.send(MAX, "Acme Ltd")
    skip = button(calls, "Skip")
    first = await tg_harness.press(MAX, skip, message_id=11)
    assert "Region" in last_text(first)
    second = await tg_harness.press(MAX, skip, message_id=11)
    assert answered_quietly(second)
    assert not texts(second)  # the region question was not skipped by the second tap


# --- 4. clip() cuts HTML anywhere, including inside a tag ------------------------------------


def balanced(text: str) -> bool:
    """Telegram's HTML parser refuses unclosed or half-written tags."""
    if re.search(r"<[^>]*$", text):
        return False
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z]+)[^>]*>", text):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


@settings(max_examples=200, deadline=None)
@given(st.lists(
    st.lists(st.sampled_from(["<b>Open deals:</b>", "<i>note</i>", "&amp;", "текст ", "x" * 90,
                              "<b>" + "y" * 300 + "</b>"]), min_size=1, max_size=30),
    min_size=1, max_size=60,
))
def test_clip_keeps_html_balanced_and_within_the_limit(lines: list[list[str]]) -> None:
    """clip() used to cut at 4095 characters of HTML, possibly inside a tag, and Telegram
    answered 400 «can't parse entities»: the screen never appeared."""
    text = "\n".join("".join(parts) for parts in lines)
    clipped = clip(text)
    assert len(clipped) <= 4096
    assert balanced(clipped), repr(clipped[-20:])
    if len(text) <= 4096:
        assert clipped == text


# --- 5. Time zones --------------------------------------------------------------------------


async def test_voice_button_shows_the_local_date(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    """bot/keyboards/client.py:146 formats occurred_at (UTC) without the user's zone: a voice
    note recorded at 01:30 Moscow time on 26 Nov is offered as «of 25.11»."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    note = await crm.classifiers.by_code("activity_type", "note")
    assert note
    clock.set(datetime(2026, 11, 25, 22, 30, tzinfo=UTC))  # 26 Nov 01:30 in Moscow
    await crm.history.log(max_, ref.id, note.id, None, None, attachment_kind="voice",
                          attachment_ref="VOICE")
    calls = await harness.press(MAX, HistCD(client_id=ref.id, page=0).pack())
    assert "26 Nov 2026, 01:30" in last_text(calls)
    assert button(calls, "Play voice").startswith("pl:")
    play = [t for t, _ in buttons(calls) if "Play" in t]
    assert play == ["▶️ Play voice note of 26.11"], play


# --- 6. Unhandled exceptions ------------------------------------------------------------------


async def test_forged_huge_id_is_answered(harness: Harness, crm: CRM) -> None:
    """Any *CD with an id beyond 64 bits reaches SQLite/asyncpg and raises OverflowError /
    DataError. Ids out of range do not even unpack now: the button is out of date."""
    await person(crm, MAX.id, "Max Sokolov")
    for data in (f"c:{2**64}:open", f"c:{2**31}:open", "c:0:open", "c:-5:open", "c:7:drop"):
        calls = await harness.press(MAX, data)
        assert any("out of date" in a for a in alerts(calls)), (data, calls)


async def test_skip_comment_on_an_old_message_works(harness: Harness, crm: CRM) -> None:
    """bot/handlers/log.py:144 asserts query.message is a Message; a tap on a message older
    than 48 h arrives as InaccessibleMessage -> AssertionError, the button spins."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    call = await crm.classifiers.by_code("activity_type", "call")
    assert call
    calls = await harness.press(MAX, LogOutcomeCD(client_id=ref.id, type_id=call.id).pack())
    query = CallbackQuery(
        id="old-1", from_user=MAX.as_user(), chat_instance="ci",
        message=InaccessibleMessage(chat=Chat(id=MAX.id, type="private"), message_id=5),
        data=button(calls, "Save without a comment"),
    )
    calls = await harness._feed(Update(update_id=77_001, callback_query=query))
    assert "What is the next step?" in last_text(calls)
    assert (await crm.history.page(max_, ref.id)).total == 1


# --- 7. The bot answers in group chats ---------------------------------------------------------


async def test_bot_ignores_group_chats(
    harness: Harness, crm: CRM
) -> None:
    """No chat-type filter anywhere: a manager who adds the bot to a group (or a group
    where it already is) and types /find gets the client card — phones, deals, money —
    posted to everyone in the group."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    await client(crm, max_, "Acme", "+7 916 123-45-67")
    group = Chat(id=-100500, type="supergroup", title="Sales + partners")
    msg = Message(
        message_id=1, date=datetime.now(UTC), chat=group, from_user=MAX.as_user(),
        text="/find acme", entities=[MessageEntity(type="bot_command", offset=0, length=5)],
    )
    calls = await harness.send_message(msg)
    to_group = [c for c in calls if isinstance(c, SendMessage) and int(c.chat_id) == group.id]
    assert not any("916" in (c.text or "") for c in to_group), [c.text for c in to_group]


# --- 8. Menu buttons and commands are swallowed by forms registered before their router -------


async def test_reports_button_during_comment_is_not_logged(
    harness: Harness, crm: CRM
) -> None:
    """bot/factory.py:68-78: the log and new-client and deal routers come before the reminders
    router, and their form handlers take any text: the persistent «📊 Reports» button (or
    /digest) pressed while the bot waits for a comment is saved into the client's history."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    calls = await harness.press(MAX, ClientCD(id=ref.id, action="log").pack())
    calls = await harness.press(MAX, button(calls, "Call"))
    calls = await harness.press(MAX, button(calls, "Reached"))
    await harness.send(MAX, "📊 Reports")
    page = await crm.history.page(max_, ref.id)
    assert [i.text for i in page.items] == [], [i.text for i in page.items]


async def test_new_client_button_while_editing_does_not_rename(
    harness: Harness, crm: CRM
) -> None:
    """bot/handlers/clients.py:359: EditForm takes any text, including the «➕ New client»
    menu button (its handler is in a later router): the client is renamed to it."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    calls = await harness.press(MAX, ClientCD(id=ref.id, action="edit").pack())
    await harness.press(MAX, button(calls, "Name"))
    await harness.send(MAX, "➕ New client")
    card = await crm.clients.card(max_, ref.id)
    assert card.name == "Acme", card.name


async def test_reports_button_does_not_become_a_deal_title(harness: Harness, crm: CRM) -> None:
    """bot/handlers/deals.py:78 TYPED excludes /commands but not menu buttons."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    await harness.press(MAX, ClientCD(id=ref.id, action="newdeal").pack())
    calls = await harness.send(MAX, "📊 Reports")
    assert "amount" not in last_text(calls), last_text(calls)


# --- 9. Screens without clip(): the contacts list ---------------------------------------------


async def test_contacts_screen_fits_telegram(harness: Harness, crm: CRM) -> None:
    """bot/handlers/clients.py:258-275 joins every contact person with no limit and no clip."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    for i in range(70):
        await crm.clients.add_contact(max_, ref.id, f"Konstantin Konstantinopolsky {i}",
                                      f"+7 916 555-{i // 100:02d}-{i % 100:02d}",
                                      f"konstantin.k{i}@acme-holding.ru")
    calls = await harness.press(MAX, ClientCD(id=ref.id, action="contacts").pack())
    edits = [c for c in calls if isinstance(c, EditMessageText)]
    assert edits and len(edits[-1].text or "") <= 4096


# --- 10. "No answer" is three transactions ------------------------------------------------------


async def test_no_answer_writes_all_or_nothing(
    harness: Harness, crm: CRM, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """crm/reminders.py:237-254: _own_planned, history.log and planning.plan each commit on
    their own. If planning fails (a DB error, a lock timeout), the call is already logged and
    the planned contact already «done»: no next contact, no reminder, and an error shown."""
    from sqlalchemy import select

    from storage.models import Activity, PlannedContact

    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    planned = await crm.planning.plan(max_, ref.id, clock.now() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=6))

    async def broken_plan(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database is locked")

    monkeypatch.setattr("crm.reminders.plan_contact", broken_plan)
    calls = await harness.press(MAX, RemCD(planned_id=planned.id, action="na2h").pack())
    assert any("Something went wrong" in a for a in alerts(calls))
    async with crm.db.transaction() as s:
        logged = (await s.scalars(select(Activity).where(Activity.client_id == ref.id))).all()
        row = await s.get(PlannedContact, planned.id)
    assert row is not None
    assert (len(logged), row.status) == (0, "planned"), (len(logged), row.status)


# --- 11. A form whose object went stale is not left ----------------------------------------------


async def test_payment_form_is_left_after_invoice_was_paid(
    harness: Harness, crm: CRM
) -> None:
    """bot/handlers/deals.py:566-576: a Conflict (invoice paid meanwhile) goes to the error
    handler but the PaymentForm stays: every later text, e.g. a search, gets «could not read
    the amount» until the user finds a button that leaves the form."""
    from datetime import date

    from bot.keyboards.deals import InvoiceCD

    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    deal = await crm.deals.create(max_, ref.id, "Printers", Decimal(1000), None)
    inv = await crm.billing.add_invoice(max_, deal.id, Decimal(500), date(2026, 12, 10))
    await harness.press(MAX, InvoiceCD(id=inv.id, action="pay").pack())
    await crm.billing.pay_rest(max_, inv.id, date(2026, 11, 25))  # a colleague, meanwhile
    calls = await harness.send(MAX, "500")
    assert "already paid" in last_text(calls)
    calls = await harness.send(MAX, "Acme")
    assert "Acme" in last_text(calls), last_text(calls)


def test_in_two_hours_is_two_real_hours_across_a_clock_change() -> None:
    from zoneinfo import ZoneInfo

    from crm.when import WorkHours, quick_when

    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2026, 10, 25, 1, 30, tzinfo=berlin)  # clocks go back at 03:00
    later = quick_when("2h", before, WorkHours(berlin, 0, 24 * 60, "1234567")).due
    assert later.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=2)


async def test_forged_calendar_value_is_a_polite_error(harness: Harness, crm: CRM) -> None:
    from bot.keyboards.client import CalCD

    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    calls = await harness.press(MAX, CalCD(client_id=ref.id, action="month",
                                           value=999912).pack())
    assert any("did not understand the date" in a for a in alerts(calls))


async def test_no_answer_late_in_the_day_retries_next_working_morning(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    """A retry «in 2 h» at 17:30 used to be planned for 19:30, after hours."""
    from zoneinfo import ZoneInfo

    msk = ZoneInfo("Europe/Moscow")
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    clock.set(datetime(2026, 11, 25, 17, 0, tzinfo=msk))
    planned = await crm.planning.plan(max_, ref.id, clock.now() + timedelta(minutes=30))
    clock.advance(timedelta(minutes=30))
    await harness.press(MAX, RemCD(planned_id=planned.id, action="na2h").pack())
    card = await crm.clients.card(max_, ref.id)
    assert card.next_contact is not None
    assert card.next_contact.due_at.astimezone(msk) == datetime(2026, 11, 26, 9, 0, tzinfo=msk)
