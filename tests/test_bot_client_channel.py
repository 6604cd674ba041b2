"""The client's own channel through the real dispatcher: a personal link from the card (QR
photo), a stranger who opens it is linked and greeted in their language, their messages go
into the history and to the manager (or the head), the manager's reply goes back, /stop,
revoked and used links, rights, double taps — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import SendMessage, SendPhoto, TelegramMethod
from aiogram.types import Chat, Message, PhotoSize
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.i18n import create_i18n
from bot.keyboards.channel import ChanCD, LinkCD
from bot.keyboards.client import ClientCD
from crm.channel import CLIENT_MESSAGE
from crm.roles import Role
from crm.service import CRM
from scheduler.limiter import RateLimiter
from scheduler.sender import Sender
from storage.models import Activity, AuditLog, ClientChannel, ClientLink, OutboxMessage
from tests.factories import admin, client, person
from tests.harness import (
    BOT_USERNAME,
    Harness,
    TgUser,
    alerts,
    button,
    buttons,
    last_text,
    make_bot,
    texts,
)

MAX = TgUser(3101, "Max", "Sokolov", language_code="en")
LENA = TgUser(3102, "Lena", "Other", language_code="en")
HELEN = TgUser(3103, "Helen", "Head", language_code="en")
OLGA = TgUser(5101, "Ольга", "Иванова", language_code="ru")  # a client, not a user
JOHN = TgUser(5102, "John", "Smith", language_code="en")  # another client
EVE = TgUser(5103, "Eve", None, language_code="en")  # a stranger
REFUSED = "Your role does not allow this."
NOT_AVAILABLE = "This is not available (it may have been removed or is not yours)."


@pytest.fixture
async def h(any_crm: CRM) -> AsyncIterator[Harness]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="ru")
    yield Harness(dp=dp, bot=bot, session=session)
    await bot.session.close()


async def setup(crm: CRM, *, head: bool = False) -> tuple[int, int]:
    """Max (a manager of team Alpha, Helen its head) owns «Horns & Hooves» with a contact
    person Olga Ivanova; returns (client id, Olga's contact id)."""
    boss = await admin(crm)
    alpha = await crm.people.create_team(boss, "Alpha")
    if head:
        await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=alpha.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER, team_id=alpha.id)
    await person(crm, LENA.id, "Lena Other", Role.MANAGER)
    ref = await client(crm, max_, "Horns & Hooves", contact_name="Olga Ivanova")
    card = await crm.clients.card(max_, ref.id)
    return ref.id, card.contacts[0].id


async def make_link(h: Harness, user: TgUser, cid: int) -> tuple[str, list[TelegramMethod[Any]]]:
    calls = await h.press(user, ClientCD(id=cid, action="link").pack())
    assert "Whose Telegram will it connect?" in last_text(calls)
    calls = await h.press(user, button(calls, "Olga Ivanova"))
    text = last_text(calls)
    prefix = f"https://t.me/{BOT_USERNAME}?start="
    assert prefix in text
    token = text.split(prefix)[1].split()[0]
    assert 0 < len(token) <= 64
    return token, calls


async def count(crm: CRM, model: type[object], *where: Any) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def deliver(crm: CRM, h: Harness) -> list[TelegramMethod[Any]]:
    h.clear()
    sender = Sender(crm, h.bot, create_i18n("ru"), RateLimiter(25, 1))
    # Only the client messages (the registrations' notices to the admin are not the point).
    items = [i for i in await crm.outbox.claim() if i.kind == CLIENT_MESSAGE]
    stats = await sender.deliver(items)
    assert stats.failed == 0
    return list(h.session.calls)


async def test_link_from_the_card_links_a_stranger_greeted_in_russian(
    h: Harness, any_crm: CRM
) -> None:
    cid, olga_id = await setup(any_crm)
    calls = await h.press(MAX, ClientCD(id=cid, action="open").pack())
    assert "Link for the client" in " ".join(t for t, _ in buttons(calls))
    token, link_calls = await make_link(h, MAX, cid)
    photos = [c for c in link_calls if isinstance(c, SendPhoto)]
    assert len(photos) == 1 and int(photos[0].chat_id) == MAX.id
    assert "Olga Ivanova" in (photos[0].caption or "")

    calls = await h.send(OLGA, f"/start {token}")
    text = last_text(calls)
    assert "Здравствуйте, Olga Ivanova!" in text
    assert "Salesbot" in text  # no COMPANY_NAME: the bot's own name
    assert "Ваш менеджер — Max Sokolov" in text
    assert "/stop" in text
    assert not any(getattr(c, "reply_markup", None) for c in calls)  # no CRM menu
    async with any_crm.db.transaction() as s:
        ch = await s.scalar(select(ClientChannel).where(ClientChannel.tg_id == OLGA.id))
        assert ch is not None and ch.client_id == cid and ch.contact_id == olga_id
        assert ch.consent == "subscribed" and ch.locale == "ru"
    calls = await h.press(MAX, ClientCD(id=cid, action="open").pack())
    assert "💬 Olga Ivanova: ✅ Telegram connected · subscribed" in last_text(calls)
    assert await count(any_crm, AuditLog, AuditLog.action == "client_link.linked") == 1

    # The same link again: for Olga it is her greeting again, for anyone else it is used.
    assert "Olga Ivanova" in last_text(await h.send(OLGA, f"/start {token}"))
    assert "already been used" in last_text(await h.send(EVE, f"/start {token}"))
    assert await count(any_crm, ClientChannel) == 1


async def test_greeting_in_english_with_the_company_name(h: Harness, any_crm: CRM) -> None:
    crm = CRM(any_crm.db, type(any_crm.config)(
        admin_ids=any_crm.config.admin_ids, company_name="Acme Ltd"), any_crm.clock)
    bot, session = make_bot()
    h2 = Harness(dp=create_dispatcher(crm, default_locale="ru"), bot=bot, session=session)
    cid, _ = await setup(crm)
    token, _calls = await make_link(h2, MAX, cid)
    text = last_text(await h2.send(JOHN, f"/start {token}"))
    assert "Hello, Olga Ivanova! This is the Telegram chat of Acme Ltd." in text
    assert "Your manager is Max Sokolov." in text
    await bot.session.close()


async def test_messages_reach_the_history_and_the_manager_who_replies(
    h: Harness, any_crm: CRM
) -> None:
    cid, _ = await setup(any_crm)
    token, _calls = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    h.clear()
    calls = await h.send(OLGA, "Пришлите, пожалуйста, счёт")
    assert texts(calls) == []  # written down quietly, no CRM screen
    photo = Message(
        message_id=777, date=datetime.now(UTC), chat=Chat(id=OLGA.id, type="private"),
        from_user=OLGA.as_user(), caption="Вот наш склад",
        photo=[PhotoSize(file_id="PHOTO-FILE-ID", file_unique_id="u1", width=90, height=90)],
    )
    await h.send_message(photo)
    await h.send_message(photo)  # the same update again (a resend): written once
    async with any_crm.db.transaction() as s:
        rows = (await s.scalars(select(Activity).where(Activity.event == CLIENT_MESSAGE)
                                .order_by(Activity.id))).all()
    assert [(r.text, r.attachment_kind, r.attachment_ref) for r in rows] == [
        ("Пришлите, пожалуйста, счёт", None, None),
        ("Вот наш склад", "photo", "PHOTO-FILE-ID"),
    ]
    assert all(r.client_id == cid for r in rows)
    assert await count(any_crm, OutboxMessage, OutboxMessage.kind == CLIENT_MESSAGE) == 2

    sent = await deliver(any_crm, h)
    msgs = [c for c in sent if isinstance(c, SendMessage)]
    pics = [c for c in sent if isinstance(c, SendPhoto)]
    assert len(msgs) == 1 and int(msgs[0].chat_id) == MAX.id
    assert "Olga Ivanova" in msgs[0].text and "Horns &amp; Hooves" in msgs[0].text
    assert "Пришлите, пожалуйста, счёт" in msgs[0].text
    assert len(pics) == 1 and pics[0].photo == "PHOTO-FILE-ID" and int(pics[0].chat_id) == MAX.id
    assert "Вот наш склад" in (pics[0].caption or "")
    assert [t for t, _ in buttons([msgs[0]])] == ["↩️ Reply", "📇 Card"]

    # The manager replies: it goes to Olga's chat and into the history as outgoing.
    reply = button([msgs[0]], "Reply")
    calls = await h.press(MAX, reply)
    assert "Reply to Olga Ivanova" in last_text(calls)
    calls = await h.send(MAX, "Счёт отправлен, <проверьте> почту")
    to_olga = [c for c in calls if isinstance(c, SendMessage) and int(c.chat_id) == OLGA.id]
    assert len(to_olga) == 1 and to_olga[0].text == "Счёт отправлен, <проверьте> почту"
    assert "Sent to Olga Ivanova" in last_text(calls)
    async with any_crm.db.transaction() as s:
        out = (await s.scalars(select(Activity).where(Activity.event == "client_reply"))).all()
    assert [(a.text, a.tg_chat_id) for a in out] == [
        ("Счёт отправлен, <проверьте> почту", OLGA.id)]
    # The history shows both directions.
    calls = await h.press(MAX, f"h:{cid}:0:")
    history = last_text(calls)
    assert "Message from the client in Telegram" in history
    assert "Reply to the client in Telegram" in history


async def test_a_manager_on_vacation_the_head_gets_it(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm, head=True)
    token, _calls = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    boss = await admin(any_crm)
    max_ = await any_crm.people.identify(MAX.id)
    assert max_ is not None
    await any_crm.people.set_vacation(boss, max_.id, True)
    await h.send(OLGA, "Есть кто-нибудь?")
    sent = await deliver(any_crm, h)
    msgs = [c for c in sent if isinstance(c, SendMessage)]
    assert [int(m.chat_id) for m in msgs] == [HELEN.id]
    assert "Max Sokolov is away" in msgs[0].text
    # The head may answer (a head changes the team's clients).
    calls = await h.press(HELEN, button([msgs[0]], "Reply"))
    calls = await h.send(HELEN, "Max is back on Monday")
    assert any(isinstance(c, SendMessage) and int(c.chat_id) == OLGA.id for c in calls)


async def test_stop_unsubscribes_and_the_card_shows_it(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)
    token, _calls = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    text = last_text(await h.send(OLGA, "/stop"))
    assert "Вы отписались" in text
    card = last_text(await h.press(MAX, ClientCD(id=cid, action="open").pack()))
    assert "💬 Olga Ivanova: 🚫 unsubscribed" in card
    async with any_crm.db.transaction() as s:
        ch = await s.scalar(select(ClientChannel))
        assert ch is not None and ch.consent == "unsubscribed"
        assert ch.consent_at == any_crm.clock.now()
    # /start again subscribes her again.
    await h.send(OLGA, "/start")
    card = last_text(await h.press(MAX, ClientCD(id=cid, action="open").pack()))
    assert "✅ Telegram connected · subscribed" in card


async def test_a_blocked_bot_marks_the_contact_blocked(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)
    token, _calls = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    async with any_crm.db.transaction() as s:
        ch = await s.scalar(select(ClientChannel))
        assert ch is not None
    await h.press(MAX, ChanCD(channel_id=ch.id, action="reply").pack())
    h.session.fail_next(error=TelegramForbiddenError)
    calls = await h.send(MAX, "Hello?")
    assert "has blocked the bot" in last_text(calls)
    card = last_text(await h.press(MAX, ClientCD(id=cid, action="open").pack()))
    assert "⛔ blocked the bot" in card
    assert await count(any_crm, Activity, Activity.event == "client_reply") == 0


async def test_a_linked_client_never_sees_crm_screens(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    cid, _ = await setup(crm)
    token, _calls = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    for cmd in ("/today", "/find Horns", "/help", "/cancel"):
        calls = await h.send(OLGA, cmd)
        assert last_text(calls) == "Просто напишите сюда — менеджер прочитает. /stop — отписаться."
        assert not any(getattr(c, "reply_markup", None) for c in calls)
    # A menu button's text is just a message to the manager; no search, no card.
    calls = await h.send(OLGA, "📅 Сегодня")
    assert texts(calls) == []
    assert await count(crm, Activity, Activity.text == "📅 Сегодня") == 1
    calls = await h.press(OLGA, ClientCD(id=cid, action="open").pack())
    assert alerts(calls) == ["Просто напишите сюда — менеджер прочитает. /stop — отписаться."]
    assert texts(calls) == []
    # Everyone else who is not a user is still a stranger.
    calls = await h.send(EVE, "hello")
    assert "private CRM bot" in last_text(calls)  # Eve speaks English


async def test_revoked_unknown_and_staff_links(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)
    token, calls = await make_link(h, MAX, cid)
    calls = await h.press(MAX, button(calls, "Revoke"))
    assert alerts(calls) == ["The link is revoked: it no longer works."]
    assert "больше не действует" in last_text(await h.send(OLGA, f"/start {token}"))
    assert await count(any_crm, ClientChannel) == 0
    assert "Ссылка-приглашение недействительна" in last_text(
        await h.send(OLGA, "/start nosuchtoken123"))
    # A new link works; a user (staff) opening it is told what it is, nothing changes.
    token2, _ = await make_link(h, MAX, cid)
    text = last_text(await h.send(LENA, f"/start {token2}"))
    assert "client's personal link" in text
    assert await count(any_crm, ClientChannel) == 0
    assert "Olga Ivanova" in last_text(await h.send(OLGA, f"/start {token2}"))
    # Making another link for Olga revokes the unused one before it.
    token3, _ = await make_link(h, MAX, cid)
    await make_link(h, MAX, cid)
    assert "no longer valid" in last_text(await h.send(JOHN, f"/start {token3}"))
    assert await count(any_crm, AuditLog, AuditLog.action == "client_link.revoke") == 1


async def test_another_contact_relinks(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)
    max_ = await any_crm.people.identify(MAX.id)
    assert max_ is not None
    other = await client(any_crm, max_, "Roga LLC")
    token, _ = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    calls = await h.press(MAX, ClientCD(id=other.id, action="link").pack())
    calls = await h.press(MAX, button(calls, "Roga LLC"))  # no contacts: the client itself
    token2 = last_text(calls).split("?start=")[1].split()[0]
    assert "Roga LLC" in last_text(await h.send(OLGA, f"/start {token2}"))
    async with any_crm.db.transaction() as s:
        ch = await s.scalar(select(ClientChannel))
        assert ch is not None and ch.client_id == other.id and ch.contact_id is None


async def test_rights_and_forged_buttons(h: Harness, any_crm: CRM) -> None:
    cid, olga_id = await setup(any_crm)
    # Another manager: no link button, and the forged buttons are refused.
    calls = await h.press(LENA, ClientCD(id=cid, action="link").pack())
    assert alerts(calls) in ([REFUSED], [NOT_AVAILABLE])
    calls = await h.press(LENA, LinkCD(client_id=cid, contact_id=olga_id, step=5).pack())
    assert await count(any_crm, ClientLink) == 0
    token, _ = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    async with any_crm.db.transaction() as s:
        ch = await s.scalar(select(ClientChannel))
        assert ch is not None
    calls = await h.press(LENA, ChanCD(channel_id=ch.id, action="reply").pack())
    assert alerts(calls) in ([REFUSED], [NOT_AVAILABLE])
    calls = await h.press(LENA, "lnr:1")
    assert alerts(calls) in ([REFUSED], [NOT_AVAILABLE])
    # A marketer sees the card but changes nothing: no link button.
    mark = TgUser(3109, "Mark", None, language_code="en")
    await person(any_crm, mark.id, "Mark", Role.MARKETER)
    calls = await h.press(mark, ClientCD(id=cid, action="open").pack())
    assert "Link for the client" not in " ".join(t for t, _ in buttons(calls))
    calls = await h.press(mark, ClientCD(id=cid, action="link").pack())
    assert alerts(calls) == [REFUSED]
    # A link for a contact of another client is refused.
    max_ = await any_crm.people.identify(MAX.id)
    assert max_ is not None
    other = await client(any_crm, max_, "Roga LLC")
    calls = await h.press(MAX, ClientCD(id=other.id, action="link").pack())
    step = int(button(calls, "Roga LLC").split(":")[-1])
    calls = await h.press(MAX, LinkCD(client_id=other.id, contact_id=olga_id, step=step).pack())
    assert alerts(calls) == [NOT_AVAILABLE]


async def test_double_tap_on_create_link_makes_one(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)
    calls = await h.press(MAX, ClientCD(id=cid, action="link").pack())
    pick = button(calls, "Olga Ivanova")
    await h.press(MAX, pick)
    calls = await h.press(MAX, pick)
    assert not any(isinstance(c, SendPhoto) for c in calls)
    assert await count(any_crm, ClientLink) == 1


async def test_the_same_reply_update_twice_goes_out_once(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)
    token, _calls = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    async with any_crm.db.transaction() as s:
        ch = await s.scalar(select(ClientChannel))
        assert ch is not None
    await h.press(MAX, ChanCD(channel_id=ch.id, action="reply").pack())
    reply = Message(
        message_id=900, date=datetime.now(UTC), chat=Chat(id=MAX.id, type="private"),
        from_user=MAX.as_user(), text="Договор у вас на почте",
    )
    first = await h.send_message(reply)
    second = await h.send_message(reply)
    sent = [c for c in [*first, *second]
            if isinstance(c, SendMessage) and int(c.chat_id) == OLGA.id]
    assert len(sent) == 1
    assert await count(any_crm, Activity, Activity.event == "client_reply") == 1


async def test_no_head_to_stand_in_the_admins_get_it(h: Harness, any_crm: CRM) -> None:
    cid, _ = await setup(any_crm)  # team Alpha has no head
    token, _calls = await make_link(h, MAX, cid)
    await h.send(OLGA, f"/start {token}")
    boss = await admin(any_crm)
    max_ = await any_crm.people.identify(MAX.id)
    assert max_ is not None
    await any_crm.people.set_vacation(boss, max_.id, True)
    await h.send(OLGA, "Алло")
    sent = await deliver(any_crm, h)
    msgs = [c for c in sent if isinstance(c, SendMessage)]
    assert [int(m.chat_id) for m in msgs] == [boss.tg_id]
    assert "Менеджер клиента (Max Sokolov) в отпуске" in msgs[0].text  # the admin reads Russian
