"""Leads and their distribution, at the crm level: each rule with vacations and the cap, a
marketer's client becoming a lead handed out by the rule, an import into the queue, the
one-tap assignment taken once, the unattended-lead alert sent once, and rights per role."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from crm.clock import FrozenClock
from crm.config import NotifyConfig
from crm.dto import Actor
from crm.errors import Forbidden, NotAvailable
from crm.leads import LEADS_WAITING, Candidate, Rule, pick
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, AuditLog, Client, OutboxMessage
from tests.factories import admin, client, person


def cands() -> list[Candidate]:
    return [Candidate(1, "A", 3, 10), Candidate(2, "B", 1, 5, territories={77}),
            Candidate(3, "C", 1, 4), Candidate(4, "D", 0, 0, on_vacation=True)]


def test_round_robin_cycles_and_skips_vacation_and_the_cap() -> None:
    c = cands()
    got, cursor = [], None
    for _ in range(4):
        chosen = pick(Rule.ROUND_ROBIN, c, 60, cursor, None)
        assert chosen is not None
        got.append(chosen.id)
        cursor = chosen.id
    assert got == [1, 2, 3, 1]  # D is on vacation
    c[1].in_work = 60  # B at CLIENTS_IN_WORK_MAX
    assert pick(Rule.ROUND_ROBIN, c, 60, 1, None).id == 3  # type: ignore[union-attr]


def test_least_busy_and_by_region_with_its_fallback() -> None:
    c = cands()
    # Fewest in work (B and C: 1), then fewest clients: C; D is on vacation though idle.
    assert pick(Rule.LEAST_BUSY, c, 60, None, None).id == 3  # type: ignore[union-attr]
    assert pick(Rule.REGION, c, 60, None, 77).id == 2  # type: ignore[union-attr]
    # A region nobody covers, or no region: the least busy of everyone.
    assert pick(Rule.REGION, c, 60, None, 99).id == 3  # type: ignore[union-attr]
    assert pick(Rule.REGION, c, 60, None, None).id == 3  # type: ignore[union-attr]
    c[1].in_work = 60  # the region's manager is full: the fallback takes it
    assert pick(Rule.REGION, c, 60, None, 77).id == 3  # type: ignore[union-attr]
    assert pick(Rule.MANUAL, c, 60, None, None) is None
    assert pick(Rule.LEAST_BUSY, [Candidate(9, "Z", 0, on_vacation=True)], 60, None,
                None) is None


@dataclass
class World:
    crm: CRM
    boss: Actor
    helen: Actor
    ivan: Actor
    olga: Actor
    petr: Actor
    mary: Actor
    sam: Actor
    team: int


@pytest.fixture
async def w(any_crm: CRM) -> World:
    boss = await admin(any_crm)
    north = await any_crm.people.create_team(boss, "North")
    south = await any_crm.people.create_team(boss, "South")
    return World(
        any_crm, boss,
        await person(any_crm, 6101, "Helen Head", Role.HEAD, north.id),
        await person(any_crm, 6102, "Ivan Petrov", Role.MANAGER, north.id),
        await person(any_crm, 6103, "Olga Smirnova", Role.MANAGER, north.id),
        await person(any_crm, 6104, "Petr Vacation", Role.MANAGER, north.id),
        await person(any_crm, 6105, "Mary Market", Role.MARKETER, north.id),
        await person(any_crm, 6106, "Sam South", Role.HEAD, south.id),
        north.id,
    )


async def owner(crm: CRM, client_id: int) -> int | None:
    async with crm.db.transaction() as s:
        found = await s.get(Client, client_id)
        assert found is not None
        return found.owner_id


async def count(crm: CRM, model: type[Any], *where: Any) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_marketers_client_is_a_lead_handed_out_round_robin(w: World) -> None:
    await w.crm.people.set_vacation(w.helen, w.petr.id, True)
    # Manual (the default): the lead waits in the team's queue.
    first = await client(w.crm, w.mary, "Waiting Ltd")
    assert await owner(w.crm, first.id) is None
    assert await w.crm.leads.waiting_count(w.helen) == 1
    assert await w.crm.leads.waiting_count(w.sam) == 0  # another team's queue
    assert await w.crm.leads.waiting_count(w.boss) == 1
    assert await w.crm.leads.set_rule(w.helen, None, "round_robin") is Rule.ROUND_ROBIN
    got = [await owner(w.crm, (await client(w.crm, w.mary, f"Lead {i}")).id)
           for i in range(3)]
    assert got == [w.ivan.id, w.olga.id, w.ivan.id]  # Petr is on vacation
    # The history and the audit say so; the manager gets a push with the card's buttons.
    assert await count(w.crm, Activity, Activity.event == "reassigned") == 3
    assert await count(w.crm, AuditLog, AuditLog.action == "client.reassigned") == 3
    pushes = await count(w.crm, OutboxMessage, OutboxMessage.kind == "reassigned",
                         OutboxMessage.user_id == w.ivan.id)
    assert pushes == 2
    # The lead waiting from before: «By the rule» hands it to the next in turn.
    assert await w.crm.leads.apply_rule(w.helen) == {first.id: w.olga.id}
    assert await w.crm.leads.waiting_count(w.helen) == 0
    # A manager's own client is not a lead.
    own = await client(w.crm, w.ivan, "Mine")
    assert await owner(w.crm, own.id) == w.ivan.id


async def test_least_busy_and_the_cap_leave_leads_waiting(w: World) -> None:
    crm = w.crm
    crm.leads.config = NotifyConfig(clients_in_work_max=1)
    await crm.leads.set_rule(w.helen, None, "least_busy")
    await crm.people.set_vacation(w.helen, w.petr.id, True)
    busy = await client(crm, w.ivan, "Busy")
    await crm.planning.plan(w.ivan, busy.id, crm.clock.now() + timedelta(days=1))
    lead = await client(crm, w.mary, "For Olga")
    assert await owner(crm, lead.id) == w.olga.id  # Ivan has a client in work
    # Olga now counts one in work only once she plans something; with both at the cap
    # (Ivan 1, Olga 1) and Petr away, a lead waits.
    await crm.planning.plan(w.olga, lead.id, crm.clock.now() + timedelta(days=1))
    waits = await client(crm, w.mary, "Nobody free")
    assert await owner(crm, waits.id) is None


async def test_by_region_with_territories(w: World) -> None:
    moscow = await w.crm.classifiers.by_code("region", "moscow")
    assert moscow is not None
    await w.crm.leads.set_rule(w.helen, None, "region")
    assert await w.crm.leads.set_territory(w.helen, w.olga.id, moscow.id, True) == {moscow.id}
    await client(w.crm, w.ivan, "Ivan's other")
    ivan_busy = await client(w.crm, w.ivan, "Ivan's")
    await w.crm.planning.plan(w.ivan, ivan_busy.id, w.crm.clock.now() + timedelta(days=1))
    lead = await client(w.crm, w.mary, "Moscow Lead", region_id=moscow.id)
    assert await owner(w.crm, lead.id) == w.olga.id
    # No region: the least busy (Olga and Petr have none in work; Petr no clients at all).
    other = await client(w.crm, w.mary, "Anywhere")
    assert await owner(w.crm, other.id) == w.petr.id
    with pytest.raises(NotAvailable):  # another team's manager
        await w.crm.leads.set_territory(w.sam, w.olga.id, moscow.id, True)


async def test_a_double_assign_moves_the_lead_once(w: World) -> None:
    lead = await client(w.crm, w.mary, "Contested")
    a, b = await asyncio.gather(
        w.crm.leads.assign(w.helen, lead.id, w.ivan.id),
        w.crm.leads.assign(w.boss, lead.id, w.olga.id),
    )
    assert [r is not None for r in (a, b)].count(True) == 1
    assert await owner(w.crm, lead.id) in (w.ivan.id, w.olga.id)
    assert await count(w.crm, Activity, Activity.client_id == lead.id,
                       Activity.event == "reassigned") == 1
    # Taken: a third tap changes nothing.
    assert await w.crm.leads.assign(w.helen, lead.id, w.olga.id) is None


async def test_rights(w: World) -> None:
    lead = await client(w.crm, w.mary, "Secret Lead")
    for who in (w.ivan, w.mary):
        with pytest.raises(Forbidden):
            await w.crm.leads.queue(who)
        with pytest.raises(Forbidden):
            await w.crm.leads.assign(who, lead.id, who.id)
        with pytest.raises(Forbidden):
            await w.crm.leads.set_rule(who, w.team, "round_robin")
    assert await w.crm.leads.waiting_count(w.ivan) == 0
    # Another team's head: not theirs to give, nor to give to.
    with pytest.raises(Forbidden):
        await w.crm.leads.assign(w.sam, lead.id, w.ivan.id)
    assert (await w.crm.leads.queue(w.sam)).total == 0
    with pytest.raises(NotAvailable):
        await w.crm.leads.assignees(w.sam, lead.id)
    assert await owner(w.crm, lead.id) is None


async def test_an_unattended_lead_alerts_the_head_once(w: World) -> None:
    lead = await client(w.crm, w.mary, "Forgotten")
    assert await w.crm.leads.alert_unattended() == 0  # not an hour yet
    clock = w.crm.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(minutes=61))
    assert await w.crm.leads.alert_unattended() == 1
    assert await w.crm.leads.alert_unattended() == 0
    rows = await count(w.crm, OutboxMessage, OutboxMessage.kind == LEADS_WAITING,
                       OutboxMessage.user_id == w.helen.id)
    assert rows == 1
    # Taken meanwhile: no alert.
    async with w.crm.db.transaction() as s:
        await s.execute(update(Client).where(Client.id == lead.id).values(owner_id=w.ivan.id))
    assert await w.crm.leads.alert_unattended() == 0


async def test_an_import_into_the_queue_is_distributed_by_region(w: World) -> None:
    from crm.importer import guess_mapping, read_table

    data = ("Название;Телефон;Регион\n"
            "Альфа;+79160000001;Москва\n"
            "Бета;+79160000002;Москва\n"
            "Гамма;+79160000003;\n").encode()
    moscow = await w.crm.classifiers.by_code("region", "moscow")
    assert moscow is not None
    await w.crm.leads.set_rule(w.helen, None, "region")
    await w.crm.leads.set_territory(w.helen, w.olga.id, moscow.id, True)
    await w.crm.people.set_vacation(w.helen, w.petr.id, True)
    table = read_table(data)
    result = await w.crm.imports.run(w.helen, table, guess_mapping(table.headers),
                                     owner_id=None, create_values=False, import_id=77)
    assert result.created == 3
    async with w.crm.db.transaction() as s:
        rows = dict((await s.execute(select(Client.name, Client.owner_id))).all())
        teams = set((await s.scalars(select(Client.lead_team_id))).all())
    # Moscow to Olga (her territory); the one of no region to the least busy (Ivan, as
    # Olga has two now and Petr is away).
    assert rows == {"Альфа": w.olga.id, "Бета": w.olga.id, "Гамма": w.ivan.id}
    assert teams == {w.team}
    assert await w.crm.leads.waiting_count(w.helen) == 0
