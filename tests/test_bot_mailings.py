"""Broadcasts through the real dispatcher, on SQLite and PostgreSQL: the wizard (counts per
channel and of those left out, a preview as a client sees it, a test to oneself), sending
now through the outbox and the sender, the progress message edited in place, «Отписаться»,
the report and its spreadsheet, the marketing report's touches; a head's audience is their
team's; pause, resume, cancel and forged presses; unknown fields; 403 marks blocked; a
mailing at a set time."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import EditMessageText, SendDocument, SendMessage, TelegramMethod
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.i18n import create_i18n
from bot.keyboards.mailings import MailAction, MailCD, UnsubCD
from crm.clock import FrozenClock
from crm.roles import Role
from crm.service import CRM
from scheduler.limiter import RateLimiter
from scheduler.mailing import MailingProgress
from scheduler.sender import Sender
from storage.models import (
    Activity,
    ClassifierItem,
    ClientChannel,
    ContactPerson,
    Mailing,
    MailingRecipient,
    OutboxMessage,
)
from tests.factories import admin, client, person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, make_bot, texts

MIA = TgUser(3201, "Mia", "Marketer", language_code="en")
MAX = TgUser(3202, "Max", "Sokolov", language_code="en")
HELEN = TgUser(3203, "Helen", "Head", language_code="en")
LENA = TgUser(3204, "Lena", "Other", language_code="en")
OLGA = TgUser(5201, "Olga", None, language_code="ru")
JOHN = TgUser(5202, "John", None, language_code="en")
KATE = TgUser(5203, "Kate", None, language_code="en")
DORA = TgUser(5204, "Dora", None, language_code="en")
EVE = TgUser(5205, "Eve", None, language_code="en")
NOT_AVAILABLE = "This is not available (it may have been removed or is not yours)."


@pytest.fixture
async def h(any_crm: CRM) -> AsyncIterator[Harness]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="ru")
    yield Harness(dp=dp, bot=bot, session=session)
    await bot.session.close()


async def link(crm: CRM, client_id: int, who: TgUser, name: str,
               consent: str = "subscribed") -> int:
    now = crm.clock.now()
    async with crm.db.transaction() as s:
        person_row = ContactPerson(client_id=client_id, name=name, created_at=now)
        s.add(person_row)
        await s.flush()
        ch = ClientChannel(tg_id=who.id, client_id=client_id, contact_id=person_row.id,
                           tg_name=who.first_name, locale=who.language_code or "en",
                           consent=consent, consent_at=now, linked_at=now)
        s.add(ch)
        await s.flush()
        return ch.id


async def setup(crm: CRM) -> dict[str, int]:
    """Team Alpha: Helen (head), Max (manager); Lena in no team; Mia, marketing.
    Max's clients: «Horns» (Olga & Co, subscribed), «Hooves» (John subscribed, Kate
    unsubscribed), «Silent» (no Telegram), «Nomail» (marked «no mailings», Dora linked).
    Lena's: «Far» (Eve subscribed)."""
    boss = await admin(crm)
    alpha = await crm.people.create_team(boss, "Alpha")
    await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=alpha.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER, team_id=alpha.id)
    lena = await person(crm, LENA.id, "Lena Other", Role.MANAGER)
    await person(crm, MIA.id, "Mia Marketer", Role.MARKETER)
    ids: dict[str, int] = {}
    ids["horns"] = (await client(crm, max_, "Horns")).id
    ids["hooves"] = (await client(crm, max_, "Hooves")).id
    ids["silent"] = (await client(crm, max_, "Silent")).id
    ids["nomail"] = (await client(crm, max_, "Nomail")).id
    ids["far"] = (await client(crm, lena, "Far")).id
    ids["olga"] = await link(crm, ids["horns"], OLGA, "Olga & Co")
    ids["john"] = await link(crm, ids["hooves"], JOHN, "John Smith")
    ids["kate"] = await link(crm, ids["hooves"], KATE, "Kate", consent="unsubscribed")
    ids["dora"] = await link(crm, ids["nomail"], DORA, "Dora")
    ids["eve"] = await link(crm, ids["far"], EVE, "Eve")
    async with crm.db.transaction() as s:
        from storage.models import Client

        row = await s.get(Client, ids["nomail"])
        assert row is not None
        row.unsubscribed = True
        camp = await s.scalar(select(ClassifierItem).where(ClassifierItem.kind == "campaign"))
        if camp is None:
            camp = ClassifierItem(kind="campaign", code="spring", name_ru="Весна",
                                  name_en="Spring", sort_order=1, is_active=True)
            s.add(camp)
            await s.flush()
        ids["campaign"] = camp.id
        ids["campaign_name"] = 0
    return ids


async def wizard(h: Harness, user: TgUser, text: str, *, audience: str = "Every client I see",
                 name: str = "Price list 2026") -> list[TelegramMethod[Any]]:
    """/mailings → New → name → the first campaign → audience → Telegram → the message;
    returns the review's calls."""
    calls = await h.send(user, "/mailings")
    calls = await h.press(user, button(calls, "New mailing"))
    assert "Name it" in last_text(calls)
    calls = await h.send(user, name)
    assert "Which campaign" in last_text(calls)
    calls = await h.press(user, buttons(calls)[0][1])
    assert "Who gets it?" in last_text(calls)
    calls = await h.press(user, button(calls, audience))
    assert "Over which channels?" in last_text(calls)
    labels = [t for t, _ in buttons(calls)]
    assert "☑️ Telegram" in labels and "✉️ E-mail: not configured" in labels
    calls = await h.press(user, button(calls, "Next"))
    assert "Send the message" in last_text(calls)
    return await h.send(user, text)


async def deliver(crm: CRM, h: Harness) -> list[TelegramMethod[Any]]:
    h.clear()
    i18n = create_i18n("ru")
    limiter = RateLimiter(1000, 1000)
    sender = Sender(crm, h.bot, i18n, limiter)
    items = [i for i in await crm.outbox.claim(1000) if i.kind == "mailing"]
    await sender.deliver(items)
    await MailingProgress(crm, h.bot, i18n, limiter).step(force=True)
    return list(h.session.calls)


async def scalar(crm: CRM, stmt: Any) -> Any:
    async with crm.db.transaction() as s:
        return await s.scalar(stmt)


async def test_marketer_sends_a_mailing_end_to_end(h: Harness, any_crm: CRM) -> None:
    ids = await setup(any_crm)
    calls = await wizard(h, MIA, "Hello, {name}! Your manager is {manager}. <b>50%</b> off")
    review = last_text(calls)
    assert "Telegram: 3 recipients" in review  # Olga, John, Eve
    assert "E-mail: not configured" in review
    assert "unsubscribed: 1" in review  # Kate
    assert "the client is marked «no mailings»: 1" in review  # Nomail
    assert "no linked Telegram: 1" in review  # Silent
    assert "clients: 5" in review

    # The preview: exactly the message a client gets, with the button.
    calls = await h.press(MIA, button(calls, "Preview"))
    sent = [c for c in calls if isinstance(c, SendMessage)]
    assert int(sent[-1].chat_id) == MIA.id
    assert sent[-1].text == ("Hello, Olga &amp; Co! Your manager is Max Sokolov. "
                             "&lt;b&gt;50%&lt;/b&gt; off")
    assert [b.text for row in sent[-1].reply_markup.inline_keyboard  # type: ignore[union-attr]
            for b in row] == ["Unsubscribe"]
    calls = await h.press(MIA, button(h.session.calls[:-2], "Test to me"))
    assert "Hello, Mia Marketer!" in texts(calls)[-1]

    review_calls: list[TelegramMethod[Any]] = [
        c for c in h.session.calls
        if isinstance(c, SendMessage) and "recipients" in (c.text or "")]
    send_now = button(review_calls, "Send now")
    calls = await h.press(MIA, send_now, message_id=77)
    assert "sending" in last_text(calls) and "left: 3" in last_text(calls)
    again = await h.press(MIA, send_now, message_id=77)  # a double tap: still one mailing
    assert not [c for c in again if isinstance(c, SendMessage)]
    assert await scalar(any_crm, select(func.count()).select_from(Mailing)) == 1
    assert await scalar(any_crm, select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "mailing")) == 3

    calls = await deliver(any_crm, h)
    to_clients = {int(c.chat_id): c for c in calls if isinstance(c, SendMessage)}
    assert set(to_clients) == {OLGA.id, JOHN.id, EVE.id}
    assert to_clients[JOHN.id].text == ("Hello, John Smith! Your manager is Max Sokolov. "
                                        "&lt;b&gt;50%&lt;/b&gt; off")
    # The button is in the client's language (Olga's Telegram is Russian).
    olga_kb = to_clients[OLGA.id].reply_markup
    assert olga_kb is not None and olga_kb.inline_keyboard[0][0].text == "Отписаться"  # type: ignore[union-attr]
    edits = [c for c in calls if isinstance(c, EditMessageText)]
    assert edits and edits[-1].message_id == 77 and "done" in (edits[-1].text or "")
    assert "sent: 3" in (edits[-1].text or "")

    # Each delivery is a campaign touch in the client's history; the marketing report
    # counts them.
    touches = await scalar(any_crm, select(func.count()).select_from(Activity)
                           .where(Activity.text == "📣 Price list 2026"))
    assert touches == 3
    from crm.reports.period import PeriodKind, period_of

    mia = await any_crm.people.identify(MIA.id)
    assert mia is not None
    report = await any_crm.reports.marketing(
        mia, period_of(PeriodKind.MONTH, any_crm.clock.now().date()))
    assert report.total.current.touches == 3

    # Olga replies, John unsubscribes with the button (twice: idempotent).
    await h.send(OLGA, "Thanks, interested!")
    calls = await h.press(JOHN, UnsubCD(mailing_id=1).pack())
    assert "You have unsubscribed" in alerts(calls)[0]
    first = await scalar(any_crm, select(ClientChannel.consent_at)
                         .where(ClientChannel.id == ids["john"]))
    assert isinstance(any_crm.clock, FrozenClock)
    any_crm.clock.advance(timedelta(minutes=5))
    await h.press(JOHN, UnsubCD(mailing_id=1).pack())
    assert await scalar(any_crm, select(ClientChannel.consent)
                        .where(ClientChannel.id == ids["john"])) == "unsubscribed"
    assert await scalar(any_crm, select(ClientChannel.consent_at)
                        .where(ClientChannel.id == ids["john"])) == first

    mailing_id = await scalar(any_crm, select(Mailing.id))
    calls = await h.press(MIA, MailCD(action=MailAction.REPORT, id=mailing_id).pack())
    text = last_text(calls)
    assert "delivered: 3" in text and "failed: 0" in text
    assert "unsubscribed since: 1" in text
    assert "replied within 7 days: 1" in text
    calls = await h.press(MIA, MailCD(action=MailAction.XLSX, id=mailing_id).pack())
    doc = next(c for c in calls if isinstance(c, SendDocument))
    from openpyxl import load_workbook

    data = doc.document.data  # type: ignore[union-attr]
    ws = load_workbook(io.BytesIO(data)).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert {r[1] for r in rows} == {"Olga & Co", "John Smith", "Eve"}
    assert all(r[4] == "delivered" for r in rows)
    by_name = {r[1]: r for r in rows}
    assert by_name["John Smith"][7] == "yes" and by_name["Olga & Co"][8] == "yes"

    # The next mailing leaves John out.
    calls = await wizard(h, MIA, "Again, {name}", name="Second")
    assert "Telegram: 2 recipients" in last_text(calls)
    assert "unsubscribed: 2" in last_text(calls)


async def test_a_head_mails_their_team_and_others_cannot_touch_it(
    h: Harness, any_crm: CRM
) -> None:
    await setup(any_crm)
    calls = await wizard(h, HELEN, "Hi {name}")
    assert "Telegram: 2 recipients" in last_text(calls)  # Olga, John — not Lena's Eve
    calls = await h.press(HELEN, button(calls, "Send now"), message_id=5)
    mailing_id = await scalar(any_crm, select(Mailing.id))
    # Lena (another team) and Max (a manager) cannot pause, cancel or read it.
    for user in (LENA, MAX):
        for action in (MailAction.PAUSE, MailAction.CANCEL, MailAction.REPORT):
            calls = await h.press(user, MailCD(action=action, id=mailing_id).pack())
            assert NOT_AVAILABLE in " ".join(texts(calls) + alerts(calls)) or \
                "Your role does not allow this." in " ".join(texts(calls) + alerts(calls))
    assert await scalar(any_crm, select(Mailing.status)) == "sending"
    # A forged id.
    calls = await h.press(HELEN, MailCD(action=MailAction.PAUSE, id=999).pack())
    assert NOT_AVAILABLE in " ".join(texts(calls) + alerts(calls))
    # Max cannot start the wizard at all.
    calls = await h.send(MAX, "/mailings")
    assert "Your role does not allow this." in " ".join(texts(calls))


async def test_pause_resume_cancel(h: Harness, any_crm: CRM) -> None:
    await setup(any_crm)
    calls = await wizard(h, MIA, "Hi {name}")
    await h.press(MIA, button(calls, "Send now"), message_id=9)
    mailing_id = await scalar(any_crm, select(Mailing.id))
    calls = await h.press(MIA, MailCD(action=MailAction.PAUSE, id=mailing_id).pack(),
                          message_id=9)
    assert "paused" in last_text(calls) and "Resume" in " ".join(t for t, _ in buttons(calls))
    assert await deliver_count(any_crm, h) == 0  # nothing due while paused
    calls = await h.press(MIA, MailCD(action=MailAction.RESUME, id=mailing_id).pack())
    assert "sending" in last_text(calls)
    # One goes out, then it is cancelled: the rest never go.
    h.clear()
    sender = Sender(any_crm, h.bot, create_i18n("ru"), RateLimiter(1000, 1000))
    items = [i for i in await any_crm.outbox.claim(1000) if i.kind == "mailing"]
    await sender.deliver(items[:1])
    calls = await h.press(MIA, MailCD(action=MailAction.CANCEL, id=mailing_id).pack())
    assert "cancelled" in last_text(calls) and "sent: 1" in last_text(calls)
    h.clear()
    await sender.deliver(items[1:])  # claimed before the cancel: skipped when their turn comes
    assert not [c for c in h.session.calls if isinstance(c, SendMessage)]
    statuses = await recipient_statuses(any_crm)
    assert sorted(statuses) == ["cancelled", "cancelled", "sent"]


async def deliver_count(crm: CRM, h: Harness) -> int:
    calls = await deliver(crm, h)
    return len([c for c in calls if isinstance(c, SendMessage)])


async def recipient_statuses(crm: CRM) -> list[str]:
    async with crm.db.transaction() as s:
        return list((await s.scalars(select(MailingRecipient.status))).all())


async def test_unknown_field_refused_and_a_403_marks_the_contact_blocked(
    h: Harness, any_crm: CRM
) -> None:
    ids = await setup(any_crm)
    calls = await wizard(h, MIA, "Hi {nmae}")
    assert "Unknown field {nmae}" in last_text(calls)
    calls = await h.send(MIA, "Hi {name}")
    calls = await h.press(MIA, button(calls, "Send now"))
    h.session.fail_next(1, TelegramForbiddenError)
    await deliver(any_crm, h)
    async with any_crm.db.transaction() as s:
        failed = (await s.scalars(select(MailingRecipient)
                                  .where(MailingRecipient.status == "failed"))).all()
        assert len(failed) == 1 and (failed[0].error or "").startswith("blocked")
        ch = await s.get(ClientChannel, failed[0].client_channel_id)
        assert ch is not None and ch.consent == "blocked"
    mailing_id = await scalar(any_crm, select(Mailing.id))
    calls = await h.press(MIA, MailCD(action=MailAction.REPORT, id=mailing_id).pack())
    assert "delivered: 2" in last_text(calls) and "failed: 1" in last_text(calls)
    assert "blocked: " in last_text(calls)
    assert ids["olga"]


async def test_a_mailing_at_a_set_time_starts_when_due(h: Harness, any_crm: CRM) -> None:
    await setup(any_crm)
    calls = await wizard(h, MIA, "Hi {name}")
    calls = await h.press(MIA, button(calls, "Later"))
    assert "When should it go out?" in last_text(calls)
    calls = await h.send(MIA, "tomorrow 10:00")
    assert "It goes out at 26.11.2026 10:00" in last_text(calls)  # Mia's zone: Moscow
    calls = await h.press(MIA, button(calls, "Send at"), message_id=12)
    assert "scheduled" in last_text(calls)
    assert await any_crm.mailings.start_due() == []
    assert isinstance(any_crm.clock, FrozenClock)
    any_crm.clock.advance(timedelta(days=1))
    assert len(await any_crm.mailings.start_due()) == 1
    assert await deliver_count(any_crm, h) == 3


async def test_a_list_just_built_with_a_document(h: Harness, any_crm: CRM) -> None:
    """«📣 Mailing to this list» under a list's result: the filter is the audience; the
    message is a document with a caption, delivered as such with the button."""
    from datetime import UTC, datetime

    from aiogram.types import Chat, Document, Message

    await setup(any_crm)
    calls = await h.send(MIA, "/reports")
    calls = await h.press(MIA, button(calls, "Client lists"))
    calls = await h.press(MIA, button(calls, "New list"))
    calls = await h.press(MIA, button(calls, "Manager"))
    calls = await h.press(MIA, button(calls, "Max Sokolov"))
    calls = await h.press(MIA, button(calls, "Show"))
    calls = await h.press(MIA, button(calls, "Mailing to this list"))
    assert "Name it" in last_text(calls)
    calls = await h.send(MIA, "Max's clients")
    calls = await h.press(MIA, button(calls, "No campaign"))
    calls = await h.press(MIA, button(calls, "The list just built"))
    calls = await h.press(MIA, button(calls, "Next"))
    doc = Message(message_id=500, date=datetime.now(UTC), chat=Chat(id=MIA.id, type="private"),
                  from_user=MIA.as_user(), caption="Prices for {name}",
                  document=Document(file_id="DOC1", file_unique_id="DOC1",
                                    file_name="prices.pdf"))
    calls = await h.send_message(doc)
    review = last_text(calls)
    assert "Telegram: 2 recipients" in review  # Olga, John: Max's, not Lena's Eve
    assert "clients: 4" in review
    calls = await h.press(MIA, button(calls, "Send now"))
    calls = await deliver(any_crm, h)
    docs = {int(c.chat_id): c for c in calls if isinstance(c, SendDocument)}
    assert set(docs) == {OLGA.id, JOHN.id}
    assert docs[OLGA.id].document == "DOC1" and docs[OLGA.id].caption == "Prices for Olga &amp; Co"
    assert docs[JOHN.id].reply_markup is not None
