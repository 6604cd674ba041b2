"""Client import and export: real-looking files built here (an Excel-made XLSX with merged
header cells and date cells, CSV in UTF-8 with a BOM, CSV in Windows-1251 with `;`), the dry
run's figures with row numbers, the import on SQLite and PostgreSQL, search finding what was
imported, an export read back giving no changes, and the dialog through the dispatcher."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from io import BytesIO

import pytest
from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.keyboards.imports import GoAction, ImportGoCD, ImportOwnerCD
from crm.clients import ClientDraft
from crm.dto import Actor
from crm.errors import Forbidden, InvalidInput
from crm.export import to_csv, to_xlsx
from crm.importer import (
    DryRun,
    Field,
    Problem,
    Reason,
    guess_mapping,
    read_table,
    recognise,
)
from crm.roles import Role
from crm.service import CRM
from storage.models import AuditLog, ClassifierItem, Client, ContactPerson
from tests.factories import admin, person
from tests.harness import (
    Harness,
    TgUser,
    alerts,
    button,
    buttons,
    last_text,
    make_bot,
    texts,
)
from tests.notify_data import add_deal, add_planned, add_team

HELEN = TgUser(7001, "Helen", "Head", language_code="ru")
IVAN = TgUser(7002, "Ivan", "Petrov", language_code="en")
MARK = TgUser(7003, "Mark", "Marketer", language_code="en")


def excel_file() -> bytes:
    """As Excel saves it: a two-row header with merged cells («Контакты» over «Телефон» and
    «E-mail», «Название» merged down), a date column, numbers where people typed digits."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws["A1"] = "Название"
    ws.merge_cells("A1:A2")
    ws["B1"] = "Контакты"
    ws.merge_cells("B1:C1")
    ws["B2"] = "Телефон"
    ws["C2"] = "E-mail"
    ws["D1"] = "ИНН"
    ws.merge_cells("D1:D2")
    ws["E1"] = "Регион"
    ws.merge_cells("E1:E2")
    ws["F1"] = "Дата первого контакта"
    ws.merge_cells("F1:F2")
    rows = [
        ("ООО «Ромашка»", "+7 916 111-22-33", "info@romashka.ru", 7701234567, "Москва",
         date(2026, 11, 1)),                                                        # 3 new
        ("Ромашка ООО", 79162223344, None, None, None, date(2026, 11, 2)),           # 4 = 3
        ("Вектор", "8 916 123-45-67", None, None, None, datetime(2026, 11, 3, 10, 0)),  # 5 base
        (None, "12345", None, None, None, None),                                     # 6 errors
        ("ИП Сидоров", None, None, 123456789, "Тверь", None),                        # 7 new
        (None, None, None, None, None, None),                                        # 8 empty
        ("Альфа", None, "bad@", None, None, None),                                   # 9 error
        ("Бета", None, "INFO@romashka.ru", None, None, None),                         # 10 = 3
    ]
    for row in rows:
        ws.append(row)
    ws["F3"].number_format = "DD.MM.YYYY"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


CSV_BOM = (
    "\ufeffName,Phone,E-mail,Tax number,Region,Notes\r\n"
    "Acme Ltd,+44 20 7946 0958,sales@acme.example,,Moscow,call in spring\r\n"
    "Globex,+7 495 000-00-01,,7707083893,North Pole,\r\n"
    "Acme,,,,,\r\n"
    "Initech,+7 495 000-00-02,sales@acme.example,,,\r\n"
    "Umbrella,not a phone,,123,,\r\n"
).encode("utf-8")

CSV_1251 = (
    "Наименование;Телефон;Эл. почта;Отрасль;Контактное лицо;Ответственный\r\n"
    "\"ООО \"\"Ёлка; и Палка\"\"\";8 (812) 000-00-03;elka@example.ru;ИТ;Пётр Иванов;Helen Head\r\n"
    "Сосна;8 (812) 000-00-04;;Лесопилки;\"Анна; Ольга\";Кто-то\r\n"
    "\"ЗАО \"\"Елка и палка\"\"\";;;;;\r\n"
).encode("cp1251")


async def dry(crm: CRM, actor: Actor, data: bytes) -> DryRun:
    table = read_table(data)
    return await crm.imports.dry_run(actor, table, guess_mapping(table.headers))


def test_headers_are_recognised_in_russian_and_english() -> None:
    assert recognise("Название") is Field.NAME and recognise("Company name") is Field.NAME
    assert recognise(" e-mail ") is Field.EMAIL and recognise("Эл. почта") is Field.EMAIL
    assert recognise("ИНН") is Field.TAX_NUMBER and recognise("Tax number") is Field.TAX_NUMBER
    assert recognise("Телефон (моб.)") is Field.PHONE
    assert recognise("Контактное лицо") is Field.CONTACT
    assert recognise("Ответственный") is Field.MANAGER
    assert recognise("Notes") is None and recognise("") is None


def test_excel_file_with_merged_header_and_dates_is_read() -> None:
    table = read_table(excel_file())
    assert table.headers == ["Название", "Телефон", "E-mail", "ИНН", "Регион",
                             "Дата первого контакта"]
    numbers = [n for n, _ in table.rows]
    assert numbers == [3, 4, 5, 6, 7, 9, 10]  # the empty row 8 is no row
    first = dict(table.rows)[3]
    assert first[3] == "7701234567" and first[5] == "01.11.2026"
    assert dict(table.rows)[4][1] == "79162223344"  # a number, not "79162223344.0"
    assert dict(table.rows)[5][5] == "03.11.2026 10:00"
    assert guess_mapping(table.headers) == ["name", "phone", "email", "tax_number", "region",
                                            None]


def test_csv_encodings_and_delimiters() -> None:
    bom = read_table(CSV_BOM)
    assert bom.headers[0] == "Name" and len(bom.rows) == 5
    assert guess_mapping(bom.headers)[-1] is None  # «Notes»: asked about
    cp = read_table(CSV_1251)
    assert cp.headers[2] == "Эл. почта"
    assert cp.rows[0] == (2, ['ООО "Ёлка; и Палка"', "8 (812) 000-00-03", "elka@example.ru",
                              "ИТ", "Пётр Иванов", "Helen Head"])
    assert cp.rows[2][1][0] == 'ЗАО "Елка и палка"'


async def test_dry_run_of_an_excel_file(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    await any_crm.clients.create(boss, ClientDraft(name="ООО Вектор", phone="+79161234567"))
    result = await dry(any_crm, boss, excel_file())
    assert result.rows == 7
    assert [r.number for r in result.new] == [3, 7]
    assert [(d.row, d.reason) for d in result.in_base] == [(5, Reason.PHONE)]
    assert [(d.row, d.first_row, d.reason) for d in result.in_file] == [
        (4, 3, Reason.NAME), (10, 3, Reason.EMAIL)]
    assert [(b.row, [e.problem for e in b.errors]) for b in result.bad] == [
        (6, [Problem.NO_NAME, Problem.PHONE]), (9, [Problem.EMAIL])]
    assert result.new[1].tax_number == "0123456789"  # Excel dropped the leading zero
    assert result.unknown == {"region": ["Тверь"]}  # «Москва» is a region already


async def test_dry_run_of_csv_files(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    table = read_table(CSV_BOM)
    mapping = guess_mapping(table.headers)
    mapping[-1] = ""  # «Notes»: skipped
    result = await any_crm.imports.dry_run(boss, table, mapping)
    assert [r.number for r in result.new] == [2, 3]
    assert [(d.row, d.first_row, d.reason) for d in result.in_file] == [
        (4, 2, Reason.NAME), (5, 2, Reason.EMAIL)]
    assert [(b.row, [e.problem for e in b.errors]) for b in result.bad] == [
        (6, [Problem.PHONE, Problem.TAX_NUMBER])]
    assert result.unknown == {"region": ["North Pole"]}  # «Moscow» is Москва in English

    cp = await dry(any_crm, boss, CSV_1251)
    assert [r.number for r in cp.new] == [2, 3]
    assert [(d.row, d.reason) for d in cp.in_file] == [(4, Reason.NAME)]
    assert cp.new[1].contacts == ["Анна", "Ольга"]
    assert cp.unknown == {"industry": ["Лесопилки"]}
    assert cp.unknown_manager == [2, 3]  # an admin hands clients to managers and heads only


async def test_import_creates_searchable_clients_once(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    ivan = await person(any_crm, IVAN.id, "Ivan Petrov")
    await any_crm.clients.create(boss, ClientDraft(name="ООО Вектор", phone="+79161234567"))
    table = read_table(excel_file())
    mapping = guess_mapping(table.headers)
    mapping[-1] = ""
    result = await any_crm.imports.run(boss, table, mapping, owner_id=ivan.id,
                                       create_values=True, import_id=555)
    assert (result.created, result.in_base, result.in_file, result.bad,
            result.values_created, result.again) == (2, 1, 2, 2, 1, False)
    found = await any_crm.clients.search(ivan, "ромашка")
    assert [c.name for c in found.items] == ["ООО «Ромашка»"]
    assert (await any_crm.clients.search(ivan, "+7 916 111-22-33")).total == 1
    card = await any_crm.clients.card(ivan, found.items[0].id)
    assert card.owner_name == "Ivan Petrov" and card.classifiers["region"].ru == "Москва"
    assert card.emails == ["info@romashka.ru"] and card.tax_number == "7701234567"
    sid = (await any_crm.clients.search(ivan, "сидоров")).items[0].id
    assert (await any_crm.clients.card(ivan, sid)).classifiers["region"].ru == "Тверь"
    again = await any_crm.imports.run(boss, table, mapping, owner_id=ivan.id,
                                      create_values=True, import_id=555)
    assert again.again and again.created == 2
    fresh = await any_crm.imports.run(boss, table, mapping, owner_id=None,
                                      create_values=True, import_id=556)
    assert (fresh.created, fresh.in_base, fresh.values_created) == (0, 5, 0)
    async with any_crm.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Client)) == 3
        rows = (await s.scalars(select(AuditLog).where(
            AuditLog.action == "clients.imported").order_by(AuditLog.id))).all()
        assert [(r.entity_id, (r.details or {})["created"], (r.details or {})["in_base"])
                for r in rows] == [
            (555, 2, 1), (556, 0, 5)]
        assert await s.scalar(select(func.count()).select_from(ClassifierItem).where(
            ClassifierItem.name_ru == "Тверь")) == 1


async def test_contacts_and_managers_from_the_file(any_crm: CRM) -> None:
    team = await add_team(any_crm.db, "North")
    helen = await person(any_crm, HELEN.id, "Helen Head", Role.HEAD, team)
    result = await any_crm.imports.run(helen, read_table(CSV_1251),
                                       guess_mapping(read_table(CSV_1251).headers),
                                       owner_id=None, create_values=False, import_id=9)
    assert result.created == 2
    async with any_crm.db.transaction() as s:
        owners = dict((await s.execute(select(Client.name, Client.owner_id))).all())
        assert owners == {'ООО "Ёлка; и Палка"': helen.id, "Сосна": None}
        names = sorted((await s.scalars(select(ContactPerson.name))).all())
        assert names == ["Анна", "Ольга", "Пётр Иванов"]
    # The contact person is searchable too, as for a client created by hand.
    assert (await any_crm.clients.search(helen, "пётр")).total == 1


async def test_rights(any_crm: CRM) -> None:
    ivan = await person(any_crm, IVAN.id, "Ivan Petrov")
    table = read_table(CSV_BOM)
    with pytest.raises(Forbidden):
        await any_crm.imports.dry_run(ivan, table, guess_mapping(table.headers))
    with pytest.raises(Forbidden):
        await any_crm.exports.table(ivan, "en")
    team = await add_team(any_crm.db, "North")
    other = await add_team(any_crm.db, "South")
    helen = await person(any_crm, HELEN.id, "Helen Head", Role.HEAD, team)
    stranger = await person(any_crm, 7010, "Sam South", Role.MANAGER, other)
    olga = await person(any_crm, 7011, "Olga North", Role.MANAGER, team)
    assert {a.id for a in await any_crm.imports.assignees(helen)} == {helen.id, olga.id}
    with pytest.raises(InvalidInput):
        await any_crm.imports.run(helen, table, [""] * 6, owner_id=stranger.id,
                                  create_values=False, import_id=1)
    mark = await person(any_crm, MARK.id, "Mark Marketer", Role.MARKETER)
    assert stranger.id in {a.id for a in await any_crm.imports.assignees(mark)}


async def test_export_read_back_gives_no_changes(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    ivan = await person(any_crm, IVAN.id, "Ivan Petrov")
    table = read_table(excel_file())
    await any_crm.imports.run(boss, table, guess_mapping(table.headers), owner_id=ivan.id,
                              create_values=True, import_id=1)
    await any_crm.clients.create(boss, ClientDraft(name="Без телефона"))
    romashka = (await any_crm.clients.search(ivan, "ромашка")).items[0].id
    await any_crm.clients.add_contact(ivan, romashka, "Пётр", "+79990001122", None)
    await add_deal(any_crm.db, romashka, ivan.id, "Поставка", 150000)
    await add_planned(any_crm.db, romashka, ivan.id, datetime(2026, 12, 1, 9, tzinfo=UTC))
    for locale in ("ru", "en"):
        exported = await any_crm.exports.table(boss, locale)
        assert len(exported.rows) == 4  # Ромашка, Вектор, Сидоров imported; one by hand
        row = next(r for r in exported.rows if r[0] == "ООО «Ромашка»")
        assert row[1] == "+7 916 111-22-33" and row[3] == "7701234567"
        assert row[5] == ("Москва" if locale == "ru" else "Moscow")
        assert row[10] == "Пётр" and row[11] == "Ivan Petrov"
        assert "Поставка" in str(row[14]) and row[16] == date(2026, 12, 1)
        for data in (to_xlsx(exported), to_csv(exported)):
            back = await dry(any_crm, boss, data)
            assert (len(back.new), len(back.in_base), len(back.bad)) == (0, 4, 0), back
    # A saved list: only its clients, and only those in the actor's scope.
    only = await any_crm.exports.table(boss, "ru", [romashka, 10**6])
    assert [r[0] for r in only.rows] == ["ООО «Ромашка»"]


# --------------------------------------------------------------------------- the dialog


async def _head(crm: CRM) -> tuple[Actor, Actor]:
    team = await add_team(crm.db, "North")
    helen = await person(crm, HELEN.id, "Helen Head", Role.HEAD, team, locale="ru")
    olga = await person(crm, 7011, "Olga North", Role.MANAGER, team)
    return helen, olga


async def test_import_dialog(crm: CRM, harness: Harness) -> None:
    _, olga = await _head(crm)
    await person(crm, 7012, "Sam South", Role.MANAGER, None)
    calls = await harness.send(HELEN, "📊 Отчёты")
    calls = await harness.press(HELEN, button(calls, "Импорт клиентов"))
    assert "CSV" in last_text(calls)
    calls = await harness.send(HELEN, "что-то")
    assert "файл" in last_text(calls)
    calls = await harness.send_document(HELEN, CSV_BOM, "clients.csv")
    assert "Notes" in last_text(calls) and "call in spring" in last_text(calls)
    calls = await harness.press(HELEN, button(calls, "Пропустить"))
    assert "North Pole" in last_text(calls)
    calls = await harness.press(HELEN, button(calls, "Создать «North Pole»"))
    assert "Кому" in last_text(calls)
    names = [t for t, _ in buttons(calls)]
    assert "Olga North" in names and "Sam South" not in names
    calls = await harness.press(HELEN, button(calls, "Olga North"))
    screen = last_text(calls)
    assert "Строк в файле: 5" in screen
    assert "Новых клиентов будет создано: 2" in screen
    assert "строка 4 (= строка 2, название)" in screen
    assert "строка 5 (= строка 2, e-mail)" in screen
    assert "строка 6: «not a phone» — не телефон" in screen
    assert "Olga North" in screen
    go = button(calls, "Импортировать")
    first = await harness.press(HELEN, go)
    second = await harness.press(HELEN, go)  # a double tap
    assert "Импорт завершён: создано клиентов — 2" in last_text(first)
    assert not texts(second) and not alerts(second)
    async with crm.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Client)) == 2
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "clients.imported")) == 1
    assert (await crm.clients.search(olga, "globex")).total == 1


async def test_import_refused_to_a_manager_and_forged_buttons(crm: CRM,
                                                              harness: Harness) -> None:
    await _head(crm)
    await person(crm, IVAN.id, "Ivan Petrov")
    calls = await harness.send(IVAN, "/import")
    assert "does not allow" in last_text(calls)
    calls = await harness.press(IVAN, ImportGoCD(step=5, action=GoAction.IMPORT).pack())
    assert any("does not allow" in a for a in alerts(calls))
    # A head's forged manager of another team is refused, and the question stays open.
    stranger = await person(crm, 7020, "Sam South", Role.MANAGER, None)
    calls = await harness.send(HELEN, "/import")
    calls = await harness.send_document(HELEN, CSV_1251, "клиенты.csv")
    calls = await harness.press(HELEN, button(calls, "Оставить"))
    step = int(button(calls, "Очередь").split(":")[1])
    calls = await harness.press(HELEN, ImportOwnerCD(step=step, user=stranger.id).pack())
    assert alerts(calls)
    calls = await harness.press(HELEN, ImportOwnerCD(step=step, queue=True).pack())
    assert "Новых клиентов будет создано: 2" in last_text(calls)


async def test_not_a_table_and_a_file_outside_the_import(crm: CRM, harness: Harness) -> None:
    await _head(crm)
    await harness.send(HELEN, "/import")
    calls = await harness.send_document(HELEN, b"\x00\x01garbage" * 10, "x.xlsx")
    assert "не удалось прочитать" in last_text(calls).lower()
    calls = await harness.send_document(HELEN, b"Foo,Bar\r\n1,2\r\n", "x.csv")
    assert "Foo" in last_text(calls)
    calls = await harness.press(HELEN, button(calls, "Пропустить"))
    calls = await harness.press(HELEN, button(calls, "Пропустить"))
    assert "названий" in last_text(calls)  # no column of names: nothing to import
    await harness.send(HELEN, "/cancel")
    # Outside the import a document goes to a client's history, as before.
    calls = await harness.send_document(HELEN, CSV_BOM, "prices.csv")
    assert not any("Импорт" in t for t in texts(calls))


async def test_export_through_the_bot(crm: CRM, harness: Harness) -> None:
    helen, olga = await _head(crm)
    await crm.clients.create(olga, ClientDraft(name="ООО Ромашка", phone="+79161112233"))
    await crm.clients.create(await admin(crm), ClientDraft(name="Чужой"))
    calls = await harness.send(HELEN, "/export")
    calls = await harness.press(HELEN, button(calls, "XLSX"))
    sent = [c for c in calls if isinstance(c, SendDocument)]
    assert len(sent) == 1 and sent[0].caption == "1 клиент"
    doc = sent[0].document
    assert isinstance(doc, BufferedInputFile) and (doc.filename or "").endswith(".xlsx")
    table = read_table(doc.data)
    assert table.headers[:3] == ["Название", "Телефон", "E-mail"]
    assert [cells[0] for _, cells in table.rows] == ["ООО Ромашка"]
    back = await crm.imports.dry_run(helen, table, guess_mapping(table.headers))
    assert not back.new and len(back.in_base) == 1


@pytest.mark.parametrize("together", [True, False])
async def test_import_tapped_twice_imports_once(any_crm: CRM, together: bool) -> None:
    """The same «Import» twice, at the same moment or one after the other (as
    tests/test_concurrency.py sends pairs), on SQLite and PostgreSQL."""
    bot, session = make_bot()
    h = Harness(dp=create_dispatcher(any_crm, default_locale="en"), bot=bot, session=session)
    team = await add_team(any_crm.db, "North")
    await person(any_crm, 7030, "Hanna Head", Role.HEAD, team)
    hanna = TgUser(7030, "Hanna", "Head", language_code="en")
    await h.send(hanna, "/import")
    calls = await h.send_document(hanna, CSV_1251, "clients.csv")
    calls = await h.press(hanna, button(calls, "Leave empty"))
    calls = await h.press(hanna, button(calls, "Leads queue"))
    assert "New clients to create: 2" in last_text(calls)
    go = button(calls, "Import (2)")
    if together:
        await asyncio.gather(h.press(hanna, go), h.press(hanna, go))
    else:
        await h.press(hanna, go)
        await h.press(hanna, go)
    async with any_crm.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Client)) == 2
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "clients.imported")) == 1
    assert not [t for t in texts(session.calls) + alerts(session.calls) if "wrong" in t]
    await bot.session.close()


async def test_a_saved_list_exported_in_the_import_format(any_crm: CRM) -> None:
    from bot.keyboards.imports import ExportCD, ExportFormat
    from bot.keyboards.lists import ListAction, ListCD
    from crm.lists import ClientFilter
    from tests.notify_data import item_id

    bot, session = make_bot()
    h = Harness(dp=create_dispatcher(any_crm, default_locale="en"), bot=bot, session=session)
    team = await add_team(any_crm.db, "North")
    hanna = await person(any_crm, 7040, "Hanna Head", Role.HEAD, team)
    olga = await person(any_crm, 7041, "Olga North", Role.MANAGER, team)
    hanna_tg = TgUser(7040, "Hanna", "Head", language_code="en")
    moscow = await item_id(any_crm.db, "region", "moscow")
    await any_crm.clients.create(olga, ClientDraft(name="Moscow One", region_id=moscow))
    await any_crm.clients.create(olga, ClientDraft(name="Moscow Two", region_id=moscow,
                                                   phone="+79160000077"))
    await any_crm.clients.create(olga, ClientDraft(name="Elsewhere"))
    saved = await any_crm.lists.save(hanna, "Moscow", ClientFilter(region_id=moscow), False)
    private = await any_crm.lists.save(olga, "Olga's", ClientFilter(), False)
    calls = await h.press(hanna_tg, ListCD(action=ListAction.OPEN, id=saved.id).pack())
    calls = await h.press(hanna_tg, button(calls, "📤 Export CSV"))
    [sent] = [c for c in calls if isinstance(c, SendDocument)]
    assert sent.caption == "2 clients"
    doc = sent.document
    assert isinstance(doc, BufferedInputFile)
    table = read_table(doc.data)
    assert sorted(cells[0] for _, cells in table.rows) == ["Moscow One", "Moscow Two"]
    back = await any_crm.imports.dry_run(hanna, table, guess_mapping(table.headers))
    assert (len(back.new), len(back.in_base), len(back.bad)) == (0, 2, 0)
    # A list the head may not open: nothing is sent.
    h.clear()
    calls = await h.press(hanna_tg, ExportCD(fmt=ExportFormat.XLSX, list_id=private.id).pack())
    assert alerts(calls) and not [c for c in calls if isinstance(c, SendDocument)]
    await bot.session.close()
