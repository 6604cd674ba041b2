"""Clients, search, history and planning in `crm/`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.clients import ClientDraft
from crm.clock import FrozenClock
from crm.errors import Forbidden, InvalidInput, NotAvailable
from crm.roles import Role
from crm.service import CRM
from tests.factories import admin, client, person


async def test_search_is_cyrillic_case_insensitive_and_forgives_a_typo(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    await client(any_crm, max_, 'ООО "ИВАНОВ и партнёры"', "89161234567")
    await client(any_crm, max_, "Ёлка-Плюс")
    for query in ("иванов", "ИВАНОВ", "партнеры", "ивонов", "+7 (916) 123-45-67", "123-45-67"):
        found = await any_crm.clients.search(max_, query)
        assert [c.name for c in found.items] == ['ООО "ИВАНОВ и партнёры"'], query
    assert [c.name for c in (await any_crm.clients.search(max_, "елка")).items] == ["Ёлка-Плюс"]
    assert (await any_crm.clients.search(max_, "совсем другое")).total == 0


async def test_search_by_contact_person_and_email(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    ref = await client(any_crm, max_, "Ромашка", email="info@romashka.ru")
    await any_crm.clients.add_contact(max_, ref.id, "Пётр Сидоров", "+7 903 000-11-22", None)
    assert (await any_crm.clients.search(max_, "сидоров")).items[0].id == ref.id
    assert (await any_crm.clients.search(max_, "info@romashka")).items[0].id == ref.id
    assert (await any_crm.clients.search(max_, "89030001122")).items[0].id == ref.id


async def test_manager_sees_own_clients_head_sees_team(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    north = await any_crm.people.create_team(boss, "North")
    max_ = await person(any_crm, 2002, "Max", team_id=north.id)
    eve = await person(any_crm, 3003, "Eve")
    head = await person(any_crm, 4004, "Helen", Role.HEAD, team_id=north.id)
    service = await person(any_crm, 5005, "Sam", Role.SERVICE)
    mine = await client(any_crm, max_, "Ромашка")
    theirs = await client(any_crm, eve, "Василёк")
    with pytest.raises(NotAvailable):
        await any_crm.clients.card(max_, theirs.id)
    assert (await any_crm.clients.search(max_, "василек")).total == 0
    assert (await any_crm.clients.card(head, mine.id)).can_change
    with pytest.raises(NotAvailable):
        await any_crm.clients.card(head, theirs.id)
    card = await any_crm.clients.card(service, theirs.id)
    assert not card.can_change
    with pytest.raises(Forbidden):
        await any_crm.clients.update_field(service, theirs.id, "address", "Москва")
    assert (await any_crm.clients.card(boss, theirs.id)).can_change


async def test_duplicates_by_phone_and_normalised_name(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    eve = await person(any_crm, 3003, "Eve")
    await client(any_crm, eve, 'ООО "Иванов"', "+79161234567")
    dups = await any_crm.clients.duplicates(max_, ClientDraft(name="иванов", phone=None))
    assert [(d.reason, d.visible) for d in dups] == [("name", False)]
    dups = await any_crm.clients.duplicates(max_, ClientDraft(name="Петров", phone="89161234567"))
    assert [d.reason for d in dups] == ["phone"]
    with pytest.raises(InvalidInput):
        await any_crm.clients.create(max_, ClientDraft(name="X", phone="12"))


async def test_log_plan_and_today(any_crm: CRM, clock: FrozenClock) -> None:
    max_ = await person(any_crm, 2002, "Max")
    ref = await client(any_crm, max_, "Ромашка")
    call = await any_crm.classifiers.by_code("activity_type", "call")
    reached = await any_crm.classifiers.by_code("outcome", "reached")
    assert call and reached
    # Planned for 15:00 Moscow today (it is 12:00 there now) and one overdue from yesterday.
    await any_crm.planning.plan(max_, ref.id, clock.now() + timedelta(hours=3))
    other = await client(any_crm, max_, "Василёк")
    await any_crm.planning.plan(max_, other.id, clock.now() + timedelta(minutes=1))
    clock.advance(timedelta(days=1))
    view = await any_crm.planning.today(max_)
    assert [i.client_name for i in view.overdue] == ["Василёк", "Ромашка"]
    logged = await any_crm.history.log(max_, ref.id, call.id, reached.id, "Обсудили цены")
    view = await any_crm.planning.today(max_)
    assert [i.client_name for i in view.overdue] == ["Василёк"]
    page = await any_crm.history.page(max_, ref.id)
    assert page.items[0].id == logged.activity_id
    assert page.items[0].type and page.items[0].type.code == "call"
    assert page.items[0].author_name == "Max" and page.items[0].author_role is Role.MANAGER
    # Planning again moves the existing plan rather than adding a second one.
    first = await any_crm.planning.plan(max_, other.id, clock.now() + timedelta(days=2))
    assert first.moved
    with pytest.raises(InvalidInput):
        await any_crm.planning.plan(max_, other.id, clock.now() - timedelta(hours=1))


async def test_history_pages_and_type_filter(any_crm: CRM, clock: FrozenClock) -> None:
    max_ = await person(any_crm, 2002, "Max")
    ref = await client(any_crm, max_, "Ромашка")
    call = await any_crm.classifiers.by_code("activity_type", "call")
    note = await any_crm.classifiers.by_code("activity_type", "note")
    assert call and note
    for i in range(23):
        clock.advance(timedelta(minutes=5))
        await any_crm.history.log(max_, ref.id, (call if i % 2 else note).id, None, f"#{i}")
    page = await any_crm.history.page(max_, ref.id)
    assert (page.pages, page.total, page.items[0].text) == (3, 23, "#22")
    last = await any_crm.history.page(max_, ref.id, page=2)
    assert [i.text for i in last.items] == ["#2", "#1", "#0"]
    calls = await any_crm.history.page(max_, ref.id, type_id=call.id)
    assert calls.total == 11 and all(i.type and i.type.code == "call" for i in calls.items)
    beyond = await any_crm.history.page(max_, ref.id, page=99)
    assert beyond.page == 2


async def test_service_and_marketing_add_their_records_to_the_same_card(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    sam = await person(any_crm, 5005, "Sam", Role.SERVICE)
    mia = await person(any_crm, 6006, "Mia", Role.MARKETER)
    ref = await client(any_crm, max_, "Ромашка")
    check = await any_crm.classifiers.by_code("activity_type", "satisfaction")
    touch = await any_crm.classifiers.by_code("activity_type", "campaign_touch")
    assert check and touch
    await any_crm.history.log(sam, ref.id, check.id, None, "Всё работает, довольны")
    await any_crm.history.log(mia, ref.id, touch.id, None, "Приглашение на вебинар")
    page = await any_crm.history.page(max_, ref.id)
    assert [(i.author_name, i.author_role) for i in page.items] == [
        ("Mia", Role.MARKETER), ("Sam", Role.SERVICE)]
    with pytest.raises(Forbidden):
        await any_crm.clients.update_field(sam, ref.id, "name", "Другое имя")
