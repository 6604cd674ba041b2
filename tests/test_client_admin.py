"""Running the client base from the bot: a head or an admin hands clients over (one from the
card, all of a person's from the people screens, on deactivating someone), merges a
duplicate into a card, archives and restores — through the real dispatcher, on SQLite and
PostgreSQL. What a user notices: who is reminded, who is told, what the history and the
audit log say, what search finds, and that the wrong people are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select, update

from bot.factory import create_dispatcher
from bot.i18n import create_i18n
from bot.keyboards.client import ClientAction, ClientCD
from bot.keyboards.client_admin import MergePickCD, ReassignDoCD, ReassignPickCD
from bot.keyboards.people import UserAction, UserCD
from crm.clients import ListFilter
from crm.clock import FrozenClock
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, NotAvailable
from crm.roles import Role
from crm.service import CRM
from scheduler.limiter import RateLimiter
from scheduler.sender import Sender
from storage.models import (
    Activity,
    AuditLog,
    Client,
    ClientChannel,
    ClientLink,
    ContactPerson,
    Deal,
    Invoice,
    Payment,
    PlannedContact,
)
from tests.conftest import ADMIN_TG
from tests.factories import admin, client, person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, make_bot, texts
from tests.notify_data import (
    add_activity,
    add_deal,
    add_invoice,
    add_payment,
    add_planned,
    outbox,
)

ADMIN = TgUser(ADMIN_TG, "Anna", "Admin", language_code="en")
IVAN = TgUser(5101, "Ivan", "Petrov", language_code="en")
OLGA = TgUser(5102, "Olga", "Smirnova", language_code="en")
HELEN = TgUser(5103, "Helen", "Head", language_code="en")
SAM = TgUser(5104, "Sam", "South", language_code="en")
SID = TgUser(5105, "Sid", "Seller", language_code="en")
NOT_AVAILABLE = "This is not available (it may have been removed or is not yours)."
FORBIDDEN = "Your role does not allow this."


@dataclass
class World:
    h: Harness
    crm: CRM
    boss: Actor
    ivan: Actor
    olga: Actor
    helen: Actor
    sam: Actor
    sid: Actor


@pytest.fixture
async def w(any_crm: CRM) -> AsyncIterator[World]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="en")
    boss = await admin(any_crm)
    await any_crm.people.set_locale(boss, "en")
    north = await any_crm.people.create_team(boss, "North")
    south = await any_crm.people.create_team(boss, "South")
    world = World(
        Harness(dp=dp, bot=bot, session=session), any_crm, boss,
        await person(any_crm, IVAN.id, "Ivan Petrov", Role.MANAGER, north.id),
        await person(any_crm, OLGA.id, "Olga Smirnova", Role.MANAGER, north.id),
        await person(any_crm, HELEN.id, "Helen Head", Role.HEAD, north.id),
        await person(any_crm, SAM.id, "Sam South", Role.HEAD, south.id),
        await person(any_crm, SID.id, "Sid Seller", Role.MANAGER, south.id),
    )
    yield world
    await bot.session.close()


async def count(crm: CRM, model: type[Any], *where: Any) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def owner_of(crm: CRM, client_id: int) -> int | None:
    async with crm.db.transaction() as s:
        found = await s.get(Client, client_id)
        assert found is not None
        return found.owner_id


async def move_via_bot(w: World, who: TgUser, start: str, to_name: str) -> str:
    """Press the entry button, pick the person, confirm; the final screen's text."""
    calls = await w.h.press(who, start)
    calls = await w.h.press(who, button(calls, to_name))
    calls = await w.h.press(who, button(calls, "Move"))
    return last_text(calls)


async def deliver(w: World) -> dict[int, list[str]]:
    """Run the sender once over what is due: chat id → texts it got."""
    w.h.clear()
    sender = Sender(w.crm, w.h.bot, create_i18n("en"), RateLimiter(25, 1))
    # Only what this is about: the digests and invitation notices of the set-up wait.
    items = [i for i in await w.crm.outbox.claim() if i.kind in ("reminder", "reassigned")]
    await sender.deliver(items)
    sent: dict[int, list[str]] = {}
    for c in w.h.session.calls:
        if isinstance(c, SendMessage):
            sent.setdefault(int(c.chat_id), []).append(c.text)
    return sent


async def test_one_client_with_its_plans_goes_to_another_manager(
    w: World, clock: FrozenClock
) -> None:
    crm = w.crm
    acme = (await client(crm, w.ivan, "Acme Pumps")).id
    deal = await add_deal(crm.db, acme, w.ivan.id, "Pumps", 1000)
    now = clock.now()
    due_now = await add_planned(crm.db, acme, w.ivan.id, now - timedelta(minutes=1))
    later = await add_planned(crm.db, acme, w.ivan.id, now + timedelta(minutes=30))
    # The first reminder is already queued for Ivan (waiting to be sent) when Helen acts.
    await crm.notifications.enqueue_due()
    [queued] = await outbox(crm.db, "reminder")
    assert queued.chat_id == IVAN.id and queued.status == "pending"

    calls = await w.h.press(HELEN, ClientCD(id=acme, action=ClientAction.REASSIGN).pack())
    assert "Hand «Acme Pumps» (manager: Ivan Petrov) over to:" in last_text(calls)
    names = [t for t, _ in buttons(calls)]
    assert any("Olga Smirnova" in n for n in names) and any("Helen Head" in n for n in names)
    assert not any("Ivan" in n or "Sid" in n or "Sam" in n for n in names)  # own team only
    calls = await w.h.press(HELEN, button(calls, "Olga"))
    assert "Hand «Acme Pumps» over to «Olga Smirnova»?" in last_text(calls)
    calls = await w.h.press(HELEN, button(calls, "Move"))
    text = last_text(calls)
    assert "✅ 1 client handed over to «Olga Smirnova»." in text
    assert "Open deals moved: 1, planned contacts: 2." in text
    assert "Manager: Olga Smirnova" in text

    assert await owner_of(crm, acme) == w.olga.id
    async with crm.db.transaction() as s:
        assert (await s.get(Deal, deal)).owner_id == w.olga.id  # type: ignore[union-attr]
        owners = {p.id: p.owner_id for p in await s.scalars(select(PlannedContact))}
        assert owners == {due_now: w.olga.id, later: w.olga.id}
        [event] = (await s.scalars(select(Activity).where(
            Activity.client_id == acme, Activity.event == "reassigned"))).all()
        assert event.author_id == w.helen.id
        assert event.details == {"from": w.ivan.id, "to": w.olga.id,
                                 "from_name": "Ivan Petrov", "to_name": "Olga Smirnova"}
        [audit] = (await s.scalars(select(AuditLog).where(
            AuditLog.action == "client.reassigned"))).all()
        assert (audit.actor_id, audit.entity_id) == (w.helen.id, acme)
        assert audit.details == {"from": w.ivan.id, "to": w.olga.id}

    # The queued reminder now goes to Olga; both managers are told, Helen (who did it) not.
    sent = await deliver(w)
    assert IVAN.id in sent and OLGA.id in sent and HELEN.id not in sent
    assert not any("Contact planned" in t for t in sent[IVAN.id])
    assert sent[IVAN.id] == ["🔀 Helen Head moved 1 of your clients to Olga Smirnova:\n"
                             "• Acme Pumps"]
    assert "🔀 Helen Head handed you 1 client of Ivan Petrov:\n• Acme Pumps" in sent[OLGA.id]
    assert any("Contact planned" in t and "Acme Pumps" in t for t in sent[OLGA.id])
    # And the later one too: Olga is reminded, Ivan is not.
    clock.advance(timedelta(minutes=30))
    await crm.notifications.enqueue_due()
    sent = await deliver(w)
    assert list(sent) == [OLGA.id]
    assert "Contact planned" in sent[OLGA.id][0]
    # The history says so, in words.
    calls = await w.h.press(OLGA, f"h:{acme}:0:")
    assert "Handed over: Ivan Petrov → Olga Smirnova" in last_text(calls)


async def test_won_deals_still_owed_follow_the_client_and_their_alerts_too(
    w: World, clock: FrozenClock
) -> None:
    """A departing manager's won deal with an unpaid invoice goes to the new manager, so
    the overdue-invoice alerts do; a won deal paid in full stays with whoever won it."""
    crm = w.crm
    acme = (await client(crm, w.ivan, "Acme Pumps")).id
    owed = await add_deal(crm.db, acme, w.ivan.id, "Pumps", 1000, status="won",
                          closed_at=clock.now() - timedelta(days=40))
    settled = await add_deal(crm.db, acme, w.ivan.id, "Valves", 500, status="won",
                             closed_at=clock.now() - timedelta(days=90))
    await add_invoice(crm.db, owed, 1000, clock.now().date() - timedelta(days=10))
    paid = await add_invoice(crm.db, settled, 500, date(2026, 9, 1), status="paid")
    await add_payment(crm.db, paid, 500, date(2026, 8, 30))

    text = await move_via_bot(w, HELEN, ClientCD(id=acme, action=ClientAction.REASSIGN).pack(),
                              "Olga")
    assert "✅ 1 client handed over to «Olga Smirnova»." in text
    async with crm.db.transaction() as s:
        assert (await s.get(Deal, owed)).owner_id == w.olga.id  # type: ignore[union-attr]
        assert (await s.get(Deal, settled)).owner_id == w.ivan.id  # type: ignore[union-attr]
    # The overdue invoice's alert now reaches Olga, not Ivan.
    await crm.notifications.enqueue_due()
    alerts_ = await outbox(crm.db, "overdue")
    managers = [a for a in alerts_ if not a.payload.get("escalated")]
    assert managers and {a.chat_id for a in managers} == {OLGA.id}


async def test_a_reminder_queued_for_the_old_manager_is_never_sent_to_them(
    w: World, clock: FrozenClock
) -> None:
    """Even a row the move did not see (being sent at that moment, say) is checked again
    when it goes out: the contact is not Ivan's any more."""
    crm = w.crm
    acme = (await client(crm, w.ivan, "Acme Pumps")).id
    await add_planned(crm.db, acme, w.ivan.id, clock.now() - timedelta(minutes=1))
    await crm.notifications.enqueue_due()
    async with crm.db.transaction() as s:
        await s.execute(update(PlannedContact).values(owner_id=w.olga.id))
    sent = await deliver(w)
    assert sent == {}
    [row] = await outbox(crm.db, "reminder")
    assert (row.status, row.last_error) == ("cancelled", "reassigned")


async def test_deactivating_a_manager_hands_all_their_clients_over(
    w: World, clock: FrozenClock
) -> None:
    crm = w.crm
    ids = [(await client(crm, w.ivan, f"Client {i:02d}")).id for i in range(12)]
    await add_planned(crm.db, ids[0], w.ivan.id, clock.now() + timedelta(hours=1))
    calls = await w.h.press(ADMIN, UserCD(user_id=w.ivan.id, action=UserAction.DEACTIVATE)
                            .pack())
    assert last_text(calls) == ("«Ivan Petrov» has 12 clients. What to do with them before "
                                "deactivating?")
    calls = await w.h.press(ADMIN, button(calls, "Move them all to"))
    assert "Hand all 12 clients of «Ivan Petrov» over to:" in last_text(calls)
    assert "Then «Ivan Petrov» is deactivated." in last_text(calls)
    calls = await w.h.press(ADMIN, button(calls, "Olga"))
    calls = await w.h.press(ADMIN, button(calls, "Move"))
    text = last_text(calls)
    assert "✅ 12 clients handed over to «Olga Smirnova»." in text
    assert "Status: deactivated" in text
    assert {await owner_of(crm, c) for c in ids} == {w.olga.id}
    assert await count(crm, PlannedContact, PlannedContact.owner_id == w.olga.id) == 1
    assert await count(crm, AuditLog, AuditLog.action == "client.reassigned") == 12
    assert await count(crm, AuditLog, AuditLog.action == "user.deactivate") == 1
    # Ivan is gone: only Olga hears about it.
    sent = await deliver(w)
    assert list(sent) == [OLGA.id]
    [notice] = sent[OLGA.id]
    assert notice.startswith("🔀 Anna Admin handed you 12 clients of Ivan Petrov:")
    assert notice.endswith("…and 2 more")


async def test_deactivating_and_keeping_the_clients(w: World) -> None:
    crm = w.crm
    acme = (await client(crm, w.ivan, "Acme Pumps")).id
    calls = await w.h.press(ADMIN, UserCD(user_id=w.ivan.id, action=UserAction.DEACTIVATE)
                            .pack())
    calls = await w.h.press(ADMIN, button(calls, "Keep them"))
    assert "Status: deactivated" in last_text(calls)
    assert await owner_of(crm, acme) == w.ivan.id
    # Later a head hands them over from the people screen.
    calls = await w.h.press(HELEN, UserCD(user_id=w.ivan.id, action=UserAction.OPEN).pack())
    text = await move_via_bot(w, HELEN, button(calls, "Move clients"), "Olga")
    assert "✅ 1 client handed over to «Olga Smirnova»." in text
    assert await owner_of(crm, acme) == w.olga.id
    # Someone without a team's manager deactivated without clients: no question asked.
    calls = await w.h.press(ADMIN, UserCD(user_id=w.sid.id, action=UserAction.DEACTIVATE)
                            .pack())
    assert "Status: deactivated" in last_text(calls)


async def test_three_hundred_clients_move_in_one_go(w: World) -> None:
    crm = w.crm
    async with crm.db.transaction() as s:
        s.add_all([Client(name=f"Bulk {i:03d}", name_norm=f"bulk {i:03d}",
                          search_text=f"bulk {i:03d}", owner_id=w.ivan.id)
                   for i in range(300)])
    ids = [c for c in await _ids_of(crm, w.ivan.id)]
    first = ids[:150]
    for c in first:
        await add_planned(crm.db, c, w.ivan.id, crm.clock.now() + timedelta(days=1))
    done = await crm.client_admin.reassign_clients(w.helen, ids, w.olga.id)
    assert (done.clients, done.planned) == (300, 150)
    assert await _ids_of(crm, w.ivan.id) == []
    assert await count(crm, Activity, Activity.event == "reassigned") == 300
    assert await count(crm, PlannedContact, PlannedContact.owner_id == w.olga.id) == 150
    # Again: already Olga's, nothing to do, nothing written.
    again = await crm.client_admin.reassign_clients(w.helen, ids, w.olga.id)
    assert again.clients == 0
    assert await count(crm, Activity, Activity.event == "reassigned") == 300


async def _ids_of(crm: CRM, owner: int) -> list[int]:
    async with crm.db.transaction() as s:
        return list(await s.scalars(select(Client.id).where(Client.owner_id == owner)
                                    .order_by(Client.id)))


async def test_who_may_move_clients(w: World) -> None:
    crm = w.crm
    acme = (await client(crm, w.ivan, "Acme Pumps")).id
    south = (await client(crm, w.sid, "Southern Star")).id
    card = ClientCD(id=acme, action=ClientAction.REASSIGN).pack()
    # A manager, even of their own client, has no such button and is refused if forged.
    calls = await w.h.press(IVAN, ClientCD(id=acme, action=ClientAction.OPEN).pack())
    assert not any("Reassign" in t for t, _ in buttons(calls))
    assert alerts(await w.h.press(IVAN, card)) == [FORBIDDEN]
    # A head of another team does not see the client at all.
    assert alerts(await w.h.press(SAM, card)) == [NOT_AVAILABLE]
    # Helen's own screen, then a forged pick of a person of another team.
    calls = await w.h.press(HELEN, card)
    step = ReassignPickCD.unpack(button(calls, "Olga")).step
    calls = await w.h.press(HELEN, ReassignPickCD(step=step, user_id=w.sid.id).pack())
    assert alerts(calls) == [
        "Clients can go only to an active manager or head (of your team, for a head)."]
    # A forged confirm with a made-up step moves nothing.
    await w.h.press(HELEN, ReassignDoCD(step=12345).pack())
    assert await owner_of(crm, acme) == w.ivan.id
    # The crm says the same, whatever the bot shows.
    with pytest.raises(Forbidden):
        await crm.client_admin.reassign_clients(w.helen, [acme], w.sid.id)
    with pytest.raises(NotAvailable):
        await crm.client_admin.reassign_clients(w.helen, [south], w.olga.id)
    with pytest.raises(NotAvailable):
        await crm.client_admin.reassign_clients(w.helen, [acme, 2**31 - 1], w.olga.id)
    with pytest.raises(Forbidden):
        await crm.client_admin.reassign_clients(w.ivan, [acme], w.olga.id)
    with pytest.raises(NotAvailable):
        await crm.client_admin.reassign_all(w.helen, w.sid.id, w.olga.id)
    # A head moving a whole person: only of their team.
    calls = await w.h.press(HELEN, UserCD(user_id=w.sid.id, action=UserAction.MOVE_CLIENTS)
                            .pack())
    assert alerts(calls) == [NOT_AVAILABLE]
    # Only an admin deactivates.
    calls = await w.h.press(HELEN, UserCD(user_id=w.ivan.id, action=UserAction.MOVE_AND_OFF)
                            .pack())
    assert alerts(calls) == [FORBIDDEN]
    assert await owner_of(crm, acme) == w.ivan.id and await owner_of(crm, south) == w.sid.id
    # The admin moves across teams.
    await crm.client_admin.reassign_clients(w.boss, [south], w.olga.id)
    assert await owner_of(crm, south) == w.olga.id


@pytest.mark.parametrize("together", [True, False], ids=["together", "one-after-the-other"])
async def test_a_double_tap_on_move_moves_once(w: World, together: bool) -> None:
    crm = w.crm
    acme = (await client(crm, w.ivan, "Acme Pumps")).id
    calls = await w.h.press(HELEN, ClientCD(id=acme, action=ClientAction.REASSIGN).pack())
    calls = await w.h.press(HELEN, button(calls, "Olga"))
    confirm = button(calls, "Move")
    if together:
        await asyncio.gather(w.h.press(HELEN, confirm), w.h.press(HELEN, confirm))
    else:
        await w.h.press(HELEN, confirm)
        await w.h.press(HELEN, confirm)
    assert await count(crm, Activity, Activity.event == "reassigned") == 1
    assert await count(crm, AuditLog, AuditLog.action == "client.reassigned") == 1
    assert len(await outbox(crm.db, "reassigned")) == 2
    assert not [t for t in texts(w.h.session.calls) if "Something went wrong" in t]


async def duplicate_with_everything(w: World, clock: FrozenClock) -> tuple[int, int]:
    crm = w.crm
    keep = (await client(crm, w.ivan, "Alpha Trading", "+79001112233")).id
    dup = (await client(crm, w.olga, "Betamax Ltd", "+79004445566")).id
    await crm.clients.add_contact(w.olga, dup, "Boris Bookkeeper", None, "boris@beta.example")
    await add_activity(crm.db, dup, w.olga.id, "call", clock.now() - timedelta(days=3),
                       text="Talked prices")
    deal = await add_deal(crm.db, dup, w.olga.id, "Betamax pumps", 5000)
    invoice = await add_invoice(crm.db, deal, 5000, date(2026, 12, 20))
    await add_payment(crm.db, invoice, 2000, date(2026, 11, 20))
    await add_planned(crm.db, dup, w.olga.id, clock.now() + timedelta(days=1))
    # The duplicate's Telegram linked through its deep link (issue 9), and a link not used.
    async with crm.db.transaction() as s:
        s.add_all([
            ClientLink(token_hash="a" * 64, client_id=dup, created_by_id=w.olga.id,
                       used_at=clock.now(), used_by_tg_id=777001),
            ClientLink(token_hash="b" * 64, client_id=dup, created_by_id=w.olga.id),
            ClientChannel(tg_id=777001, client_id=dup, tg_name="Boris", locale="en"),
        ])
    return keep, dup


async def test_merging_moves_every_linked_record(w: World, clock: FrozenClock) -> None:
    crm = w.crm
    keep, dup = await duplicate_with_everything(w, clock)
    calls = await w.h.press(HELEN, ClientCD(id=keep, action=ClientAction.MERGE).pack())
    assert "Merge a duplicate into «Alpha Trading»" in last_text(calls)
    calls = await w.h.send(HELEN, "Betamax")
    assert "Which one is the duplicate of «Alpha Trading»?" in last_text(calls)
    assert next(t for t, _ in buttons(calls)) == "Betamax Ltd"
    calls = await w.h.press(HELEN, button(calls, "Betamax Ltd"))
    preview = last_text(calls)
    assert "Merge «Betamax Ltd» into «Alpha Trading»?" in preview
    assert "• history records: 1" in preview
    assert "• deals: 1 (invoices: 1, payments: 1)" in preview
    assert "• contact persons: 1" in preview and "• planned contacts: 1" in preview
    assert "• linked Telegram chats: 1" in preview
    calls = await w.h.press(HELEN, button(calls, "Merge"))
    text = last_text(calls)
    assert "✅ «Betamax Ltd» merged into «Alpha Trading»." in text
    assert "Boris Bookkeeper" in text and "Betamax pumps" in text

    async with crm.db.transaction() as s:
        for model in (ContactPerson, Deal, PlannedContact, ClientChannel, ClientLink):
            assert await s.scalar(select(func.count()).select_from(model)
                                  .where(model.client_id == dup)) == 0
        assert await s.scalar(select(func.count()).select_from(ClientLink)
                              .where(ClientLink.client_id == keep)) == 2
        [channel] = (await s.scalars(select(ClientChannel))).all()
        assert channel.client_id == keep
        assert await s.scalar(select(func.count()).select_from(Invoice).join(Deal)
                              .where(Deal.client_id == keep)) == 1
        assert await s.scalar(select(func.count()).select_from(Payment).join(Invoice)
                              .join(Deal).where(Deal.client_id == keep)) == 1
        # One client, one manager: the duplicate's open deal and plan are Ivan's now.
        assert set(await s.scalars(select(Deal.owner_id).where(Deal.client_id == keep))) \
            == {w.ivan.id}
        assert set(await s.scalars(select(PlannedContact.owner_id).where(
            PlannedContact.client_id == keep))) == {w.ivan.id}
        gone = await s.get(Client, dup)
        kept = await s.get(Client, keep)
        assert gone is not None and kept is not None
        assert (gone.is_deleted, gone.merged_into_id) == (True, keep)
        assert kept.phones == "79001112233,79004445566"
        dup_events = list(await s.scalars(select(Activity.event).where(
            Activity.client_id == dup)))
        assert dup_events == ["merged_into"]
        [audit] = (await s.scalars(select(AuditLog).where(
            AuditLog.action == "client.merged"))).all()
        assert audit.entity_id == keep and (audit.details or {})["other_id"] == dup
    # The history of the survivor has the call and the note; the duplicate's says where.
    calls = await w.h.press(HELEN, f"h:{keep}:0:")
    assert "Talked prices" in last_text(calls)
    assert "Merged with the duplicate «Betamax Ltd»: its records are here now" in last_text(calls)
    calls = await w.h.press(HELEN, f"h:{dup}:0:")
    assert "Merged into «Alpha Trading»" in last_text(calls)
    # The archived duplicate leaves search; its contact person now finds the survivor.
    for who in (w.helen, w.olga, w.boss):
        found = await crm.clients.search(who, "Betamax")
        assert [r.name for r in found.items] == [], who.name
    assert [r.id for r in (await crm.clients.search(w.helen, "Boris")).items] == [keep]
    assert [r.id for r in (await crm.clients.search(w.helen, "+79004445566")).items] == [keep]
    # Its card stays reachable by id for the head, pointing at the survivor; not for Olga.
    calls = await w.h.press(HELEN, ClientCD(id=dup, action=ClientAction.OPEN).pack())
    assert "Merged into «Alpha Trading»" in last_text(calls)
    assert [t for t, _ in buttons(calls)] == ["📜 History", "Open «Alpha Trading»"]
    assert alerts(await w.h.press(OLGA, ClientCD(id=dup, action=ClientAction.OPEN).pack())) \
        == [NOT_AVAILABLE]
    # A client merged already is not merged again, nor restored.
    with pytest.raises((Conflict, NotAvailable)):
        await crm.client_admin.merge(w.helen, keep, dup)
    with pytest.raises(Conflict):
        await crm.client_admin.set_archived(w.helen, dup, False)


@pytest.mark.parametrize("together", [True, False], ids=["together", "one-after-the-other"])
async def test_a_double_tap_on_merge_merges_once(
    w: World, clock: FrozenClock, together: bool
) -> None:
    crm = w.crm
    keep, _dup = await duplicate_with_everything(w, clock)
    await w.h.press(HELEN, ClientCD(id=keep, action=ClientAction.MERGE).pack())
    calls = await w.h.send(HELEN, "Betamax")
    calls = await w.h.press(HELEN, button(calls, "Betamax Ltd"))
    confirm = button(calls, "Merge")
    if together:
        await asyncio.gather(w.h.press(HELEN, confirm), w.h.press(HELEN, confirm))
    else:
        await w.h.press(HELEN, confirm)
        await w.h.press(HELEN, confirm)
    assert await count(crm, Activity, Activity.event == "merged") == 1
    assert await count(crm, AuditLog, AuditLog.action == "client.merged") == 1
    assert not [t for t in texts(w.h.session.calls) if "Something went wrong" in t]


async def test_who_may_merge(w: World, clock: FrozenClock) -> None:
    crm = w.crm
    keep, _dup = await duplicate_with_everything(w, clock)
    south = (await client(crm, w.sid, "Betamax South")).id
    # Managers have no button and are refused; another team's head does not see the card.
    assert alerts(await w.h.press(IVAN, ClientCD(id=keep, action=ClientAction.MERGE).pack())) \
        == [FORBIDDEN]
    assert alerts(await w.h.press(SAM, ClientCD(id=keep, action=ClientAction.MERGE).pack())) \
        == [NOT_AVAILABLE]
    # Helen's search offers only what she may merge: not the southern client.
    await w.h.press(HELEN, ClientCD(id=keep, action=ClientAction.MERGE).pack())
    calls = await w.h.send(HELEN, "Betamax")
    assert [t for t, _ in buttons(calls)][:-1] == ["Betamax Ltd"]
    step = MergePickCD.unpack(button(calls, "Betamax Ltd")).step
    calls = await w.h.press(HELEN, MergePickCD(step=step, client_id=south).pack())
    assert alerts(calls) == [NOT_AVAILABLE]
    with pytest.raises(NotAvailable):
        await crm.client_admin.merge(w.helen, keep, south)
    own = (await client(crm, w.ivan, "Alpha Trading 2")).id
    with pytest.raises(Forbidden):
        await crm.client_admin.merge(w.ivan, keep, own)
    assert await count(crm, Client, Client.is_deleted.is_(True)) == 0


async def test_archive_and_restore(w: World, clock: FrozenClock) -> None:
    crm = w.crm
    acme = (await client(crm, w.ivan, "Acme Pumps")).id
    await add_planned(crm.db, acme, w.ivan.id, clock.now() + timedelta(minutes=10))
    assert alerts(await w.h.press(IVAN, ClientCD(id=acme, action=ClientAction.ARCHIVE)
                                  .pack())) == [FORBIDDEN]
    calls = await w.h.press(HELEN, ClientCD(id=acme, action=ClientAction.ARCHIVE).pack())
    assert "Archive «Acme Pumps»?" in last_text(calls)
    confirm = button(calls, "Archive")
    await asyncio.gather(w.h.press(HELEN, confirm), w.h.press(HELEN, confirm))
    assert await count(crm, AuditLog, AuditLog.action == "client.archived") == 1
    # Out of search, lists, Today and reminders, for everyone.
    for who in (w.ivan, w.helen, w.boss):
        assert (await crm.clients.search(who, "Acme")).total == 0
    assert (await crm.clients.my_clients(w.ivan, ListFilter.ALL)).total == 0
    assert (await crm.planning.today(w.ivan)).today == []
    clock.advance(timedelta(minutes=10))
    await crm.notifications.enqueue_due()
    assert await outbox(crm.db, "reminder") == []
    # The card by id: the head sees it archived, with its history and «Restore»; Ivan not.
    calls = await w.h.press(IVAN, ClientCD(id=acme, action=ClientAction.OPEN).pack())
    assert alerts(calls) == [NOT_AVAILABLE]
    calls = await w.h.press(HELEN, ClientCD(id=acme, action=ClientAction.OPEN).pack())
    assert "🗄 <b>Archived</b>: not in searches, lists or reminders." in last_text(calls)
    assert [t for t, _ in buttons(calls)] == ["📜 History", "♻️ Restore"]
    calls = await w.h.press(HELEN, f"h:{acme}:0:")
    assert "Archived" in last_text(calls)
    # Nobody logs onto an archived client.
    assert alerts(await w.h.press(HELEN, ClientCD(id=acme, action=ClientAction.LOG).pack())) \
        == [NOT_AVAILABLE]
    assert alerts(await w.h.press(SAM, ClientCD(id=acme, action=ClientAction.RESTORE)
                                  .pack())) == [NOT_AVAILABLE]
    calls = await w.h.press(HELEN, ClientCD(id=acme, action=ClientAction.RESTORE).pack())
    assert "♻️ Restored." in last_text(calls) and "Archived" not in last_text(calls)
    assert [r.id for r in (await crm.clients.search(w.ivan, "Acme")).items] == [acme]
    # A second «Restore» changes nothing more.
    await w.h.press(HELEN, ClientCD(id=acme, action=ClientAction.RESTORE).pack())
    assert await count(crm, AuditLog, AuditLog.action == "client.restored") == 1
    calls = await w.h.press(HELEN, f"h:{acme}:0:")
    assert "Restored from the archive" in last_text(calls)


async def test_a_head_without_rights_sees_no_buttons_and_admin_sees_them(w: World) -> None:
    acme = (await client(w.crm, w.ivan, "Acme Pumps")).id
    for who, shown in ((IVAN, False), (OLGA, False), (HELEN, True), (ADMIN, True)):
        calls = await w.h.press(who, ClientCD(id=acme, action=ClientAction.OPEN).pack())
        names = [t for t, _ in buttons(calls)]
        assert ("🔀 Reassign" in names) is shown, who
        assert ("🧬 Merge with…" in names) is shown and ("🗄 Archive" in names) is shown


async def test_new_client_duplicates_point_heads_to_the_merge(w: World) -> None:
    for name in ("Acme Pumps", "Acme Pumps Ltd"):
        await client(w.crm, w.ivan, name, "+79161234567")
    hint = "If these are duplicates of each other, open one and press «🧬 Merge with…»."
    for who, shown in ((HELEN, True), (IVAN, False)):
        await w.h.send(who, "/new")
        await w.h.send(who, "Acme")
        calls = await w.h.send(who, "+7 916 123 45 67")
        assert "Similar clients already exist" in last_text(calls)
        assert (hint in last_text(calls)) is shown
        assert len([t for t, _ in buttons(calls) if t.startswith("Open «Acme")]) == 2
        await w.h.send(who, "/cancel")


def test_the_notice_in_russian() -> None:
    from bot.notices import reassigned_text
    from crm.reminders import ReassignedView, Recipient
    from scheduler.sender import in_locale

    who = Recipient(1, 1, "Olga", "ru", "Europe/Moscow", Role.MANAGER)
    clients = [(1, "ООО Насосы"), (2, "Клиент 2"), (3, "Клиент 3")]
    view = ReassignedView(who, "Елена", "Иван Петров", "Ольга", True, 3, clients)
    with in_locale(create_i18n("ru"), "ru"):
        assert reassigned_text(view) == (
            "🔀 Вам переданы 3 клиента менеджера «Иван Петров» (передал(а) Елена):\n"
            "• ООО Насосы\n• Клиент 2\n• Клиент 3")
        away = ReassignedView(who, "Елена", None, "Ольга", False, 12, clients)
        assert reassigned_text(away).startswith(
            "🔀 12 ваших клиентов передано менеджеру «Ольга» (передал(а) Елена):")
        assert reassigned_text(away).endswith("…и ещё 9")


async def test_two_people_moving_the_same_client_at_once_move_it_once(w: World) -> None:
    crm = w.crm
    for i in range(10):
        acme = (await client(crm, w.ivan, f"Acme {i}")).id
        await asyncio.gather(crm.client_admin.reassign_clients(w.helen, [acme], w.olga.id),
                             crm.client_admin.reassign_clients(w.boss, [acme], w.olga.id))
        assert await count(crm, Activity, Activity.client_id == acme,
                           Activity.event == "reassigned") == 1
