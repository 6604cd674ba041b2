"""'My clients' through the real dispatcher: the list, its pages and filters, who sees what."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bot.keyboards.my_clients import MyAction, MyClientsCD
from crm.clients import ListFilter
from crm.clock import FrozenClock
from crm.roles import Role
from crm.service import CRM
from tests.factories import admin, client, person
from tests.harness import Harness, TgUser, alerts, buttons, last_text

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")
EVE = TgUser(3003, "Eve", None, language_code="en")
HELEN = TgUser(4004, "Helen", None, language_code="en")
MENU = "👥 My clients"
STALE = "This button is out of date. Open the screen again."


def client_buttons(calls: list) -> list[str]:  # type: ignore[type-arg]
    return [text for text, data in buttons(calls) if data.startswith("c:")]


async def test_pages_filters_and_cards(harness: Harness, crm: CRM, clock: FrozenClock) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    eve = await person(crm, EVE.id, "Eve Stone")
    refs = [await client(crm, max_, f"Client {i:02}") for i in range(12)]
    await client(crm, eve, "Eve's own client")
    # One client has the next contact planned, one owes money past due, one is at a stage.
    await crm.planning.plan(max_, refs[0].id, clock.now() + timedelta(days=1))
    deal = await crm.deals.create(max_, refs[1].id, "Licences", Decimal(900), None)
    await crm.billing.add_invoice(max_, deal.id, Decimal(900), date(2026, 11, 1))
    calls = await harness.send(MAX, MENU)
    assert "Page 1 of 2 · clients: 12" in last_text(calls)
    names = client_buttons(calls)
    assert len(names) == 10 and names[0].startswith("Client 00")
    calls = await harness.press(MAX, MyClientsCD(action=MyAction.LIST, page=1).pack())
    assert "Page 2 of 2 · clients: 12" in last_text(calls)
    assert [n.split(" ·")[0] for n in client_buttons(calls)] == ["Client 10", "Client 11"]
    # Filters: no next contact leaves out the planned one; overdue invoice finds the debtor.
    calls = await harness.press(MAX, MyClientsCD(action=MyAction.LIST,
                                                 show=ListFilter.NO_NEXT).pack())
    assert "clients: 11" in last_text(calls)
    assert not any(n.startswith("Client 00") for n in client_buttons(calls))
    calls = await harness.press(MAX, MyClientsCD(action=MyAction.LIST,
                                                 show=ListFilter.OVERDUE).pack())
    assert client_buttons(calls) == ["Client 01"]
    # By stage: pick a stage, see the client whose open deal is there.
    calls = await harness.press(MAX, MyClientsCD(action=MyAction.STAGES).pack())
    first = next(d for t, d in buttons(calls) if d.startswith("mc:list:stage:"))
    calls = await harness.press(MAX, first)
    assert client_buttons(calls) == ["Client 01"] and "stage «" in last_text(calls)
    # Each client opens its card.
    card_data = next(d for t, d in buttons(calls) if t == "Client 01")
    assert "Client 01" in last_text(await harness.press(MAX, card_data))


async def test_manager_sees_only_own_and_forged_values_are_stale(
    harness: Harness, crm: CRM
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    eve = await person(crm, EVE.id, "Eve Stone")
    await client(crm, max_, "Mine")
    await client(crm, eve, "Theirs")
    calls = await harness.send(MAX, MENU)
    assert client_buttons(calls) == ["Mine"] and "clients: 1" in last_text(calls)
    # A page past the end shows the last page, never someone else's clients.
    calls = await harness.press(MAX, MyClientsCD(action=MyAction.LIST, page=999).pack())
    assert client_buttons(calls) == ["Mine"]
    for forged in ("mc:list:mine::0", "mc:list:all::-1", "mc:list:all::99999999",
                   "mc:list:all:0:0", "mc:list:stage::0", "mc:list:all:3:0",
                   "mc:list:nonext:x:0", "mc:drop:all::0"):
        calls = await harness.press(MAX, forged)
        assert alerts(calls) == [STALE], forged
    # A stage id that is not a stage: not available, and nothing listed.
    calls = await harness.press(MAX, MyClientsCD(action=MyAction.LIST, show=ListFilter.STAGE,
                                                 stage=999_999).pack())
    assert alerts(calls) and "not available" in alerts(calls)[0]


async def test_head_sees_the_team_with_managers_admin_everyone(
    harness: Harness, crm: CRM
) -> None:
    boss = await admin(crm)
    north = await crm.people.create_team(boss, "North")
    south = await crm.people.create_team(boss, "South")
    await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=north.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", team_id=north.id)
    eve = await person(crm, EVE.id, "Eve Stone", team_id=south.id)
    await client(crm, max_, "North client")
    await client(crm, eve, "South client")
    calls = await harness.send(HELEN, MENU)
    assert client_buttons(calls) == ["North client · Max Sokolov"]
    calls = await harness.send(TgUser(1001, "Anna", None, language_code="en"), "👥 Мои клиенты")
    assert client_buttons(calls) == ["North client · Max Sokolov", "South client · Eve Stone"]


async def test_filters_on_both_databases(any_crm: CRM, clock: FrozenClock) -> None:
    crm = any_crm
    max_ = await person(crm, MAX.id, "Max Sokolov")
    refs = [await client(crm, max_, f"Client {i:02}") for i in range(3)]
    await crm.planning.plan(max_, refs[0].id, clock.now() + timedelta(days=1))
    deal = await crm.deals.create(max_, refs[1].id, "Licences", Decimal(900), None)
    await crm.billing.add_invoice(max_, deal.id, Decimal(900), date(2026, 11, 1))
    paid = await crm.deals.create(max_, refs[2].id, "Support", Decimal(100), None)
    inv = await crm.billing.add_invoice(max_, paid.id, Decimal(100), date(2026, 11, 1))
    await crm.billing.pay_rest(max_, inv.id, date(2026, 11, 20))

    async def names(flt: ListFilter, stage: int | None = None) -> list[str]:
        return [r.name for r in (await crm.clients.my_clients(max_, flt, stage)).items]

    assert await names(ListFilter.ALL) == ["Client 00", "Client 01", "Client 02"]
    assert await names(ListFilter.NO_NEXT) == ["Client 01", "Client 02"]
    assert await names(ListFilter.OVERDUE) == ["Client 01"]
    assert await names(ListFilter.STAGE, deal.stage.id) == ["Client 01", "Client 02"]
