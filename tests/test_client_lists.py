"""Client lists: every criterion of the filter against the hand-built base on SQLite and
PostgreSQL, the viewer's scope, the filter's JSON, the saved lists and who may open them,
and the spreadsheet read back cell by cell."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.i18n import create_i18n
from bot.xlsx import clients_xlsx
from crm.errors import Conflict, Forbidden, InvalidInput, NotAvailable
from crm.lists import ClientFilter, Criterion, parse_days, parse_probability_range
from crm.service import CRM
from scheduler.sender import in_locale
from storage.models import SavedList
from tests.list_data import add_client, build
from tests.notify_data import actor, add_deal, add_user


async def names(crm: CRM, user_id: int, **criteria: object) -> list[str]:
    who = await actor(crm.db, user_id)
    page = await crm.lists.page(who, ClientFilter(**criteria))  # type: ignore[arg-type]
    return [ref.name for ref in page.items]


async def test_each_criterion_on_both_databases(any_crm: CRM) -> None:
    crm = any_crm
    ids = await build(crm.db)
    admin = ids["admin"]
    assert await names(crm, admin) == ["Alpha", "Beta", "Delta", "Gamma"]  # never Echo
    assert await names(crm, admin, owner_id=ids["ivan"]) == ["Alpha", "Beta"]
    assert await names(crm, admin, team_id=ids["north"]) == ["Alpha", "Beta", "Gamma"]
    assert await names(crm, admin, region_id=ids["moscow"]) == ["Alpha", "Beta", "Delta"]
    assert await names(crm, admin, region_id=ids["moscow"], industry_id=ids["retail"]) == [
        "Alpha"]
    proposal = (await crm.classifiers.stages())[3]
    assert proposal.code == "proposal"
    assert await names(crm, admin, stage_id=proposal.id) == ["Alpha", "Delta"]
    assert await names(crm, admin, prob_min=50, prob_max=100) == ["Alpha", "Gamma"]
    assert await names(crm, admin, prob_min=0, prob_max=20) == ["Beta"]
    # No contact for 30 days: never contacted count too; contacted within 7 days.
    assert await names(crm, admin, silent_days=30) == ["Beta", "Delta", "Gamma"]
    assert await names(crm, admin, silent_days=2) == ["Alpha", "Beta", "Delta", "Gamma"]
    assert await names(crm, admin, silent_days=4) == ["Beta", "Delta", "Gamma"]
    assert await names(crm, admin, contacted_days=7) == ["Alpha"]
    assert await names(crm, admin, contacted_days=41) == ["Alpha", "Gamma"]
    assert await names(crm, admin, no_next_contact=True) == ["Beta", "Delta", "Gamma"]
    assert await names(crm, admin, overdue_invoice=True) == ["Beta"]
    # Created in November, Moscow time: Gamma's 31 Oct 21:30 UTC is 1 Nov 00:30 there.
    assert await names(crm, admin, created_from=date(2026, 11, 1),
                       created_to=date(2026, 11, 30)) == ["Alpha", "Gamma"]
    assert await names(crm, admin, created_from=date(2026, 10, 1),
                       created_to=date(2026, 10, 31)) == []
    who = await actor(crm.db, admin)
    flt = ClientFilter(region_id=ids["moscow"], no_next_contact=True)
    assert await crm.lists.count(who, flt) == 2
    assert await crm.lists.client_ids(who, flt) == [ids["beta"], ids["delta"]]


async def test_any_open_deal_whatever_its_stage(any_crm: CRM) -> None:
    crm = any_crm
    ids = await build(crm.db)
    # Foxtrot's only deal is lost, Golf has none: neither has an open deal.
    f = await add_client(crm.db, ids["ivan"], "Foxtrot", region_id=ids["moscow"])
    await add_deal(crm.db, f, ids["ivan"], "Lost one", 1_000, status="lost")
    await add_client(crm.db, ids["ivan"], "Golf", region_id=ids["moscow"])
    admin = ids["admin"]
    assert await names(crm, admin, open_deal=True) == ["Alpha", "Beta", "Delta", "Gamma"]
    assert await names(crm, admin, open_deal=True, owner_id=ids["ivan"]) == ["Alpha", "Beta"]
    assert "Foxtrot" in await names(crm, admin, region_id=ids["moscow"])
    flt = ClientFilter().toggled(Criterion.OPEN_DEAL)
    assert flt.open_deal and ClientFilter.from_json(flt.to_json()) == flt
    with pytest.raises(InvalidInput):
        ClientFilter.from_json({"open_deal": 1})


async def test_nobody_sees_a_client_outside_their_scope(any_crm: CRM) -> None:
    crm = any_crm
    ids = await build(crm.db)
    moscow = {"region_id": ids["moscow"]}
    assert await names(crm, ids["ivan"], **moscow) == ["Alpha", "Beta"]
    assert await names(crm, ids["helen"], **moscow) == ["Alpha", "Beta"]
    assert await names(crm, ids["helen"]) == ["Alpha", "Beta", "Gamma"]
    assert await names(crm, ids["mark"], **moscow) == ["Alpha", "Beta", "Delta"]
    # Asking for another manager's or team's clients gives nothing outside the scope.
    assert await names(crm, ids["ivan"], owner_id=ids["olga"]) == []
    assert await names(crm, ids["helen"], owner_id=ids["sam"]) == []
    # A head's list shows each client's manager; a manager's, the phone.
    helen = await crm.lists.page(await actor(crm.db, ids["helen"]), ClientFilter())
    assert helen.shows_owner and helen.items[0].hint == "Ivan Petrov"
    ivan = await crm.lists.page(await actor(crm.db, ids["ivan"]), ClientFilter())
    assert not ivan.shows_owner and ivan.items[0].hint.startswith("+7")


async def test_pages_and_a_page_past_the_end(crm: CRM) -> None:
    ids = await build(crm.db)
    from tests.list_data import add_client

    for i in range(12):
        await add_client(crm.db, ids["ivan"], f"Zeta {i:02d}")
    ivan = await actor(crm.db, ids["ivan"])
    first = await crm.lists.page(ivan, ClientFilter())
    assert (first.total, first.pages, len(first.items)) == (14, 2, 10)
    last = await crm.lists.page(ivan, ClientFilter(), 7)
    assert last.page == 1 and [r.name for r in last.items] == ["Zeta 08", "Zeta 09",
                                                                "Zeta 10", "Zeta 11"]


def test_filter_json_round_trip_and_forged_values() -> None:
    flt = ClientFilter(owner_id=3, region_id=7, prob_min=30, prob_max=70, silent_days=30,
                       no_next_contact=True, created_from=date(2026, 11, 1),
                       created_to=date(2026, 11, 30))
    data = flt.to_json()
    assert data == {"owner_id": 3, "region_id": 7, "prob_min": 30, "prob_max": 70,
                    "silent_days": 30, "no_next_contact": True,
                    "created_from": "2026-11-01", "created_to": "2026-11-30"}
    assert ClientFilter.from_json(data) == flt
    assert ClientFilter().to_json() == {} and ClientFilter().is_empty
    bads: list[object] = [
        {"owner_id": "3"}, {"owner_id": 0}, {"owner_id": 2**31}, {"prob_min": 101},
        {"prob_min": 80, "prob_max": 20}, {"silent_days": 0}, {"who": 1},
        {"no_next_contact": 1}, {"created_from": "2026-11-01"},
        {"created_from": "2026-12-01", "created_to": "2026-11-01"},
        {"region_id": True}, [], None,
    ]
    for bad in bads:
        with pytest.raises(InvalidInput):
            ClientFilter.from_json(bad)
    assert flt.without(Criterion.PROBABILITY).prob_min is None
    assert flt.toggled(Criterion.NO_NEXT).no_next_contact is False


def test_typed_values() -> None:
    assert parse_probability_range("30-70") == (30, 70)
    assert parse_probability_range(" 30 – 70 % ") == (30, 70)
    assert parse_probability_range("50") == (50, 100)
    for text, code in (("70-30", "prob_order"), ("20-120", "prob_range"),
                       ("many", "prob_format"), ("", "prob_format")):
        with pytest.raises(InvalidInput) as err:
            parse_probability_range(text)
        assert err.value.code == code
    assert parse_days(" 30 ") == 30
    for text, code in (("0", "list_days"), ("4000", "list_days"), ("30d", "list_days_format"),
                       ("-3", "list_days_format")):
        with pytest.raises(InvalidInput) as err:
            parse_days(text)
        assert err.value.code == code


async def test_saved_lists_private_shared_and_their_owner(any_crm: CRM) -> None:
    crm = any_crm
    ids = await build(crm.db)
    helen, ivan, olga, sam, ann, mark = [await actor(crm.db, ids[k]) for k in (
        "helen", "ivan", "olga", "sam", "admin", "mark")]
    moscow = ClientFilter(region_id=ids["moscow"])
    shared = await crm.lists.save(helen, "  Moscow   team ", moscow, shared=True)
    assert shared.name == "Moscow team" and shared.mine
    private = await crm.lists.save(helen, "Mine", moscow, shared=False)
    company = await crm.lists.save(mark, "Marketing", ClientFilter(), shared=True)
    # The same name twice for one owner: refused (a second tap cannot save twice).
    with pytest.raises(Conflict):
        await crm.lists.save(helen, "Moscow team", moscow, shared=True)
    assert [i.name for i in await crm.lists.saved(helen)] == ["Mine", "Moscow team",
                                                             "Marketing"]
    assert [i.name for i in await crm.lists.saved(ivan)] == ["Marketing", "Moscow team"]
    assert [i.name for i in await crm.lists.saved(sam)] == ["Marketing"]
    assert {i.name for i in await crm.lists.saved(ann)} == {"Moscow team", "Marketing"}
    # Opened by Ivan, the head's list shows Ivan's clients only, fresh.
    saved, page = await crm.lists.open_page(ivan, shared.id)
    assert not saved.info.mine and saved.info.owner_name == "Helen Head"
    assert [r.name for r in page.items] == ["Alpha", "Beta"]
    _, page = await crm.lists.open_page(olga, shared.id)
    assert page.total == 0
    for who, list_id in ((ivan, private.id), (sam, shared.id), (ivan, 999_999),
                         (ivan, 2**31 + 5)):
        with pytest.raises(NotAvailable):
            await crm.lists.open(who, list_id)
    # Only the owner renames or deletes.
    with pytest.raises(NotAvailable):
        await crm.lists.rename(ivan, shared.id, "Taken over")
    with pytest.raises(NotAvailable):
        await crm.lists.delete(ann, shared.id)
    with pytest.raises(Conflict):
        await crm.lists.rename(helen, shared.id, "Mine")
    assert (await crm.lists.rename(helen, shared.id, "Moscow")).name == "Moscow"
    await crm.lists.delete(helen, private.id)
    with pytest.raises(NotAvailable):
        await crm.lists.open(helen, private.id)
    assert company.id and [i.name for i in await crm.lists.saved(helen)] == ["Moscow",
                                                                            "Marketing"]
    async with crm.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(SavedList)) == 2


async def test_roles_and_the_values_they_may_pick(crm: CRM) -> None:
    ids = await build(crm.db)
    ivan, helen, mark = [await actor(crm.db, ids[k]) for k in ("ivan", "helen", "mark")]
    service = await actor(crm.db, await add_user(crm.db, 9009, "Sue Service", role="service"))
    with pytest.raises(Forbidden):
        await crm.lists.saved(service)
    assert Criterion.MANAGER not in crm.lists.criteria(ivan)
    assert Criterion.TEAM not in crm.lists.criteria(helen)
    assert Criterion.TEAM in crm.lists.criteria(mark)
    people = [x.en for x in await crm.lists.choices(helen, Criterion.MANAGER)]
    assert people == ["Helen Head", "Ivan Petrov", "Olga Smirnova"]
    flt = await crm.lists.pick(helen, ClientFilter(), Criterion.MANAGER, ids["ivan"])
    assert flt.owner_id == ids["ivan"]
    with pytest.raises(NotAvailable):
        await crm.lists.pick(helen, ClientFilter(), Criterion.MANAGER, ids["sam"])
    with pytest.raises(NotAvailable):
        await crm.lists.pick(ivan, ClientFilter(), Criterion.MANAGER, ids["ivan"])
    with pytest.raises(NotAvailable):  # a stage id given as a region
        stage = (await crm.classifiers.stages())[0].id
        await crm.lists.pick(mark, ClientFilter(), Criterion.REGION, stage + 10_000)


async def test_list_spreadsheet_cell_by_cell(crm: CRM) -> None:
    ids = await build(crm.db)
    helen = await actor(crm.db, ids["helen"])
    rows = await crm.lists.rows(helen, ClientFilter(region_id=ids["moscow"]))
    with in_locale(create_i18n("ru"), "ru"):
        data = clients_xlsx(rows, ZoneInfo("Europe/Moscow"), "Клиенты")
    ws = load_workbook(BytesIO(data))["Клиенты"]
    assert [c.value for c in ws[1]] == [
        "ID клиента", "Название", "Телефон", "E-mail", "Адрес", "ИНН", "Регион", "Отрасль",
        "Сегмент", "Источник", "Кампания", "Вероятность, %", "Менеджер", "Открытые сделки",
        "Сумма открытых сделок", "Сделки", "Последний контакт", "Следующий контакт",
        "Создан"]
    assert ws.freeze_panes == "B2" and ws["A1"].font.b and ws.max_row == 3
    alpha = [c.value for c in ws[2]]
    assert alpha[:13] == [ids["alpha"], "Alpha", "+7 900 123-45-67", None, None, None,
                          "Москва", "Розница", "Малый бизнес", "Сайт", None, 60,
                          "Ivan Petrov"]
    assert alpha[13:16] == [1, 100000, "Pumps · КП отправлено"]
    # 22 Nov 12:00 Moscow (three days before NOW), the plan 26 Nov 12:00; created 10 Nov.
    assert alpha[16] == datetime(2026, 11, 22, 12, 0)
    assert alpha[17] == datetime(2026, 11, 26, 12, 0)
    assert alpha[18] == datetime(2026, 11, 10, 0, 0)
    assert ws["Q2"].number_format == "DD.MM.YYYY HH:MM" and ws["S2"].number_format == (
        "DD.MM.YYYY")
    assert ws["O2"].number_format == "#,##0.00" and ws["A2"].number_format == "0"
    beta = [c.value for c in ws[3]]
    assert beta[1] == "Beta" and beta[13:18] == [1, 50000, "Valves · Договор и счёт", None,
                                                 None]
    assert rows[0].open_amount == Decimal("100000.00")
    assert rows[0].last_contact == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
