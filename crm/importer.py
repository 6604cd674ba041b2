"""Importing a client table (CSV or XLSX): reading the file, recognising its columns by their
headers, the dry run (what would be created, what is a duplicate, what is wrong and why),
and then the import itself in batches.

The first half of the module is pure functions (no database, no event loop): they are CPU
work and the service runs them with ``asyncio.to_thread``. The file is never kept: every
step reads it again (from Telegram, in the bot), so nothing large sits in the FSM storage.

Duplicates are found as the ``/new`` check finds them (crm.clients.ClientService.duplicates):
the same phone (E.164 digits, contact persons' phones included), the same e-mail, the same
tax number, or the same name once legal forms are dropped (``normalize_name_for_dedup``) —
against the whole base, not only what the importer sees, and among the file's own rows.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm.access import can_import_clients, require
from crm.clients import EMAIL_RE, lead_team, refresh_search
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.parsing import normalize_phone, parse_probability
from crm.roles import Role
from crm.search_norm import dedup_key, normalize_text
from storage.db import Database
from storage.models import Client, ContactPerson
from storage.repo import imports as repo
from storage.repo import people as people_repo
from storage.repo.imports import Existing

BATCH = 500  # clients per transaction
MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024  # what a bot may download from Telegram
HEADER_SCAN = 10  # the header is looked for in the first rows (a title may sit above it)


class Field(StrEnum):
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    TAX_NUMBER = "tax_number"
    ADDRESS = "address"
    REGION = "region"
    INDUSTRY = "industry"
    SEGMENT = "segment"
    SOURCE = "source"
    CAMPAIGN = "campaign"
    CONTACT = "contact"
    MANAGER = "manager"
    TRIGGER = "trigger_event"
    PROBABILITY = "probability"
    # Written by the export, read back and ignored: a client's deals and contacts are not
    # created from a spreadsheet cell.
    DEALS = "deals"
    LAST_CONTACT = "last_contact"
    NEXT_CONTACT = "next_contact"


SKIP = ""  # a column mapped to nothing
CLASSIFIER_FIELDS: tuple[Field, ...] = (
    Field.REGION, Field.INDUSTRY, Field.SEGMENT, Field.SOURCE, Field.CAMPAIGN,
)
INFO_FIELDS: tuple[Field, ...] = (Field.DEALS, Field.LAST_CONTACT, Field.NEXT_CONTACT)
# What a column can be mapped to by hand (the export-only ones are not offered).
IMPORTABLE: tuple[Field, ...] = tuple(f for f in Field if f not in INFO_FIELDS)

#: The header each field gets in an export: (Russian, English). The import knows both.
TITLES: dict[Field, tuple[str, str]] = {
    Field.NAME: ("Название", "Name"),
    Field.PHONE: ("Телефон", "Phone"),
    Field.EMAIL: ("E-mail", "E-mail"),
    Field.TAX_NUMBER: ("ИНН", "Tax number"),
    Field.ADDRESS: ("Адрес", "Address"),
    Field.REGION: ("Регион", "Region"),
    Field.INDUSTRY: ("Отрасль", "Industry"),
    Field.SEGMENT: ("Сегмент", "Segment"),
    Field.SOURCE: ("Источник", "Source"),
    Field.CAMPAIGN: ("Кампания", "Campaign"),
    Field.CONTACT: ("Контактное лицо", "Contact person"),
    Field.MANAGER: ("Менеджер", "Manager"),
    Field.TRIGGER: ("Повод", "Trigger event"),
    Field.PROBABILITY: ("Вероятность", "Probability"),
    Field.DEALS: ("Открытые сделки", "Open deals"),
    Field.LAST_CONTACT: ("Последний контакт", "Last contact"),
    Field.NEXT_CONTACT: ("Следующий контакт", "Next contact"),
}

_ALIASES: dict[Field, tuple[str, ...]] = {
    Field.NAME: ("наименование", "название компании", "наименование организации", "компания",
                 "организация", "клиент", "название клиента", "company", "company name",
                 "client", "client name", "organization", "organisation", "customer"),
    Field.PHONE: ("телефоны", "тел", "телефон компании", "мобильный", "phones", "telephone",
                  "tel", "mobile", "phone number"),
    Field.EMAIL: ("email", "e mail", "почта", "эл почта", "электронная почта", "e mail адрес",
                  "emails", "mail"),
    Field.TAX_NUMBER: ("инн", "inn", "tax id", "vat", "vat number", "tin", "tax number"),
    Field.ADDRESS: ("адрес", "фактический адрес", "юридический адрес", "address"),
    Field.REGION: ("регион", "город", "region", "city", "territory", "территория"),
    Field.INDUSTRY: ("отрасль", "сфера", "industry", "sector"),
    Field.SEGMENT: ("сегмент", "segment"),
    Field.SOURCE: ("источник", "источник лида", "source", "lead source"),
    Field.CAMPAIGN: ("кампания", "рекламная кампания", "campaign"),
    Field.CONTACT: ("контактное лицо", "контакт", "контакты лица", "фио", "contact",
                    "contact name", "contact person"),
    Field.MANAGER: ("менеджер", "ответственный", "ответственный менеджер", "manager",
                    "owner", "account manager", "responsible"),
    Field.TRIGGER: ("повод", "повод для контакта", "trigger", "trigger event"),
    Field.PROBABILITY: ("вероятность", "probability"),
    Field.DEALS: ("открытые сделки", "сделки", "open deals", "deals"),
    Field.LAST_CONTACT: ("последний контакт", "дата последнего контакта", "last contact"),
    Field.NEXT_CONTACT: ("следующий контакт", "дата следующего контакта", "next contact"),
}


def _header_index() -> dict[str, Field]:
    index: dict[str, Field] = {}
    for f in Field:
        for name in (*TITLES[f], *_ALIASES[f]):
            index[normalize_text(name)] = f
    return index


_HEADERS = _header_index()


def recognise(header: str) -> Field | None:
    """The field a column header names (Russian or English, any case and punctuation)."""
    norm = normalize_text(header)
    if not norm:
        return None
    found = _HEADERS.get(norm)
    if found is None:
        # "Телефон (моб.)", "E-mail клиента": the first word(s) decide.
        words = norm.split()
        for n in range(len(words) - 1, 0, -1):
            found = _HEADERS.get(" ".join(words[:n]))
            if found is not None:
                break
    return found


# --------------------------------------------------------------------------- reading files


@dataclass(frozen=True, slots=True)
class Table:
    """A sheet as text: the header row's cells and the data rows with their row numbers as
    the user sees them in Excel (1-based, the header counted)."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]


class FileError(Exception):
    """The file is not a table we can read; `code` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def cell_text(value: Any) -> str:
    """A cell as text: whole numbers without ".0" (a phone or a tax number typed into Excel
    comes back as a number), dates as dd.mm.yyyy."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.strftime("%d.%m.%Y")
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return " ".join(str(value).split())


def is_xlsx(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def read_table(data: bytes) -> Table:
    """Read a CSV (UTF-8 with or without BOM, or Windows-1251; `,` `;` or tab) or an XLSX
    (the first sheet) into a Table. CPU work: call it in a thread."""
    if len(data) > MAX_BYTES:
        raise FileError("too_big")
    raw_rows = _xlsx_rows(data) if is_xlsx(data) else _csv_rows(data)
    return _to_table(raw_rows)


def _xlsx_rows(data: bytes) -> Iterable[list[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # a broken or password-protected file: openpyxl raises anything
        raise FileError("unreadable") from err
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield list(row)
    finally:
        wb.close()


def decode(data: bytes) -> str:
    """UTF-8 (a BOM dropped), else Windows-1251 — what Russian Excel saves a CSV in."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def _csv_rows(data: bytes) -> Iterable[list[Any]]:
    text = decode(data)
    if "\x00" in text[:4096]:
        raise FileError("unreadable")  # a binary file that is not an XLSX (XLS, a picture)
    sample = text[:16384]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=";,\t|")
    except csv.Error:
        first = sample.split("\n", 1)[0]
        dialect = csv.excel()
        dialect.delimiter = max(";,\t", key=first.count)
    return csv.reader(io.StringIO(text, newline=""), dialect)


def _to_table(raw_rows: Iterable[list[Any]]) -> Table:
    it = iter(raw_rows)
    head: list[list[str]] = []
    for row in it:
        head.append([cell_text(v) for v in row])
        if len(head) >= HEADER_SCAN:
            break
    if not any(any(c for c in r) for r in head):
        raise FileError("empty")
    at, headers = _find_header(head)
    rows: list[tuple[int, list[str]]] = []
    width = len(headers)

    def add(number: int, cells: list[str]) -> None:
        if not any(cells):
            return  # an empty line
        if len(rows) >= MAX_ROWS:
            raise FileError("too_many_rows")
        cells = cells[:width] + [""] * (width - len(cells))
        rows.append((number, cells))

    for i, cells in enumerate(head[at + 1:], start=at + 2):
        add(i, cells)
    for i, row in enumerate(it, start=len(head) + 1):
        add(i, [cell_text(v) for v in row])
    return Table(headers, rows)


def _find_header(head: list[list[str]]) -> tuple[int, list[str]]:
    """Which of the first rows is the header, and its cells.

    Excel headers are often two rows with merged cells: «Контакты» over «Телефон» and
    «E-mail», «Название» merged down over both rows. Openpyxl gives the value in the first
    cell of a merged range only, so an empty header cell takes the one above it, and the
    row naming the most known fields wins (the earliest on a tie).
    """
    width = max(len(r) for r in head)
    best = (-1, 0, [""] * width)
    for at, row in enumerate(head):
        cells = row + [""] * (width - len(row))
        composed = []
        for col in range(width):
            value = cells[col]
            up = at - 1
            while not value and up >= 0:
                above = head[up]
                value = above[col] if col < len(above) else ""
                up -= 1
            composed.append(value)
        score = sum(1 for c in composed if recognise(c) is not None)
        if score > best[0]:
            best = (score, at, composed)
    _, at, headers = best
    # Columns with neither a header nor any data at the right edge are dropped.
    while headers and not headers[-1]:
        headers.pop()
    return at, headers


def guess_mapping(headers: Sequence[str]) -> list[str | None]:
    """Per column: the field it holds, SKIP for a column without a header, None for a header
    not recognised (to ask). A field recognised twice is taken by its first column."""
    taken: set[Field] = set()
    mapping: list[str | None] = []
    for header in headers:
        if not header.strip():
            mapping.append(SKIP)
            continue
        found = recognise(header)
        if found is None:
            mapping.append(None)
        elif found in taken:
            mapping.append(SKIP)
        else:
            taken.add(found)
            mapping.append(found.value)
    return mapping


# --------------------------------------------------------------------------- the dry run


class Problem(StrEnum):
    NO_NAME = "no_name"
    NAME = "name"  # too short or too long
    PHONE = "phone"
    EMAIL = "email"
    TAX_NUMBER = "tax_number"
    PROBABILITY = "probability"
    TOO_LONG = "too_long"  # a text that does not fit its column


@dataclass(frozen=True, slots=True)
class RowError:
    problem: Problem
    value: str = ""  # the offending cell (or the field, for TOO_LONG)


@dataclass(slots=True)
class Row:
    """A valid row, cleaned as /new cleans a client."""

    number: int
    name: str
    dedup: str = ""  # the name's duplicate key (normalize_name_for_dedup)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tax_number: str | None = None
    address: str | None = None
    classifiers: dict[str, str] = field(default_factory=dict)  # kind → the cell
    contacts: list[str] = field(default_factory=list)
    manager: str | None = None
    trigger_event: str | None = None
    probability: int | None = None


_SPLIT = re.compile(r"[,;\n]+")
_CONTACT_SPLIT = re.compile(r"[;\n]+")


def parse_row(number: int, cells: Sequence[str], mapping: Sequence[str | None]
              ) -> Row | list[RowError]:
    """One data row: a Row, or what is wrong with it (every problem, not the first only)."""
    values: dict[str, str] = {}
    for col, target in enumerate(mapping):
        if target and col < len(cells) and cells[col]:
            values[target] = cells[col].strip()
    errors: list[RowError] = []
    name = " ".join(values.get(Field.NAME, "").split())
    if not name:
        errors.append(RowError(Problem.NO_NAME))
    elif not 2 <= len(name) <= 300:
        errors.append(RowError(Problem.NAME, name[:40]))
    row = Row(number, name, dedup_key(normalize_text(name)))
    for raw in _SPLIT.split(values.get(Field.PHONE, "")):
        if raw.strip():
            phone = normalize_phone(raw)
            if phone is None:
                errors.append(RowError(Problem.PHONE, raw.strip()[:40]))
            elif phone not in row.phones:
                row.phones.append(phone)
    for raw in _SPLIT.split(values.get(Field.EMAIL, "")):
        email = raw.strip().lower()
        if email:
            if len(email) > 200 or not EMAIL_RE.match(email):
                errors.append(RowError(Problem.EMAIL, raw.strip()[:40]))
            elif email not in row.emails:
                row.emails.append(email)
    if len(",".join(row.phones)) > 300:
        errors.append(RowError(Problem.TOO_LONG, Field.PHONE.value))
    if len(",".join(row.emails)) > 300:
        errors.append(RowError(Problem.TOO_LONG, Field.EMAIL.value))
    if tax := values.get(Field.TAX_NUMBER):
        digits = re.sub(r"\D", "", tax)
        if len(digits) in (9, 11) and re.fullmatch(r"[\d\s.\-]+", tax):
            digits = "0" + digits  # Excel keeps a tax number as a number: the leading 0 is gone
        if len(digits) not in (10, 12):
            errors.append(RowError(Problem.TAX_NUMBER, tax[:40]))
        else:
            row.tax_number = digits
    for key, limit in ((Field.ADDRESS, 500), (Field.TRIGGER, 500)):
        text = values.get(key)
        if text and len(text) > limit:
            errors.append(RowError(Problem.TOO_LONG, key.value))
    row.address = values.get(Field.ADDRESS) or None
    row.trigger_event = values.get(Field.TRIGGER) or None
    if prob := values.get(Field.PROBABILITY):
        parsed = parse_probability(prob)
        if parsed is None:
            errors.append(RowError(Problem.PROBABILITY, prob[:40]))
        row.probability = parsed
    for kind in CLASSIFIER_FIELDS:
        if value := " ".join(values.get(kind, "").split()):
            if len(value) > 100:
                errors.append(RowError(Problem.TOO_LONG, kind.value))
            row.classifiers[kind.value] = value
    for raw in _CONTACT_SPLIT.split(values.get(Field.CONTACT, "")):
        contact = " ".join(raw.split())
        if contact:
            if len(contact) > 200:
                errors.append(RowError(Problem.TOO_LONG, Field.CONTACT.value))
            row.contacts.append(contact)
    row.manager = values.get(Field.MANAGER) or None
    return errors or row


class Reason(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    TAX_NUMBER = "tax_number"
    NAME = "name"


@dataclass(slots=True)
class DedupIndex:
    """Keys of known clients (or rows) → their id (or row number)."""

    phones: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)
    taxes: dict[str, int] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)

    def add(self, key: int, dedup: str, phones: Iterable[str], emails: Iterable[str],
            tax: str | None) -> None:
        for p in phones:
            self.phones.setdefault(p, key)
        for e in emails:
            self.emails.setdefault(e, key)
        if tax:
            self.taxes.setdefault(tax, key)
        if dedup:
            self.names.setdefault(dedup, key)

    def find(self, row: Row) -> tuple[Reason, int] | None:
        for p in row.phones:
            if p in self.phones:
                return Reason.PHONE, self.phones[p]
        for e in row.emails:
            if e in self.emails:
                return Reason.EMAIL, self.emails[e]
        if row.tax_number and row.tax_number in self.taxes:
            return Reason.TAX_NUMBER, self.taxes[row.tax_number]
        if row.dedup and row.dedup in self.names:
            return Reason.NAME, self.names[row.dedup]
        return None


def index_existing(clients: Iterable[Existing]) -> DedupIndex:
    index = DedupIndex()
    for c in clients:
        emails = [e for e in (c.emails or "").split(",") if e]
        # name_norm is the normalised name: its key is the /new check's key of the name.
        index.add(c.id, dedup_key(c.name_norm), c.phone_digits.split(), emails, c.tax_number)
    return index


@dataclass(frozen=True, slots=True)
class InBase:
    row: int
    reason: Reason
    client_id: int


@dataclass(frozen=True, slots=True)
class InFile:
    row: int
    reason: Reason
    first_row: int  # the earlier row of the file it repeats


@dataclass(frozen=True, slots=True)
class Bad:
    row: int
    errors: list[RowError]


def value_key(value: str) -> str:
    return normalize_text(value)


@dataclass(slots=True)
class DryRun:
    rows: int  # data rows read (empty lines left out)
    new: list[Row]
    in_base: list[InBase]
    in_file: list[InFile]
    bad: list[Bad]
    # Classifier values of the new rows no item is called by: kind → the values (as first
    # spelled in the file), in file order.
    unknown: dict[str, list[str]]
    # New rows whose «Manager» names nobody the importer may hand clients to.
    unknown_manager: list[int]


Parsed = list[Row | Bad]


def parse_all(table: Table, mapping: Sequence[str | None]) -> Parsed:
    """Every row parsed and checked (the costly part of the dry run: phones, normalising)."""
    if Field.NAME.value not in mapping:
        raise InvalidInput("import_no_name")
    out: Parsed = []
    for number, cells in table.rows:
        parsed = parse_row(number, cells, mapping)
        out.append(Bad(number, parsed) if isinstance(parsed, list) else parsed)
    return out


def analyse(table: Table, mapping: Sequence[str | None], base: DedupIndex,
            known: dict[str, dict[str, int]], managers: dict[str, int],
            parsed_rows: Parsed | None = None) -> DryRun:
    """The dry run: every row is new, a duplicate (of the base, else of an earlier row), or
    has errors. `known`: kind → normalised value → classifier item; `managers`: normalised
    name → user; `parsed_rows`: `parse_all` of the same table and mapping, if made already.
    Pure; CPU work for a thread."""
    if parsed_rows is None:
        parsed_rows = parse_all(table, mapping)
    new: list[Row] = []
    in_base: list[InBase] = []
    in_file: list[InFile] = []
    bad: list[Bad] = []
    unknown: dict[str, dict[str, str]] = {}
    unknown_manager: list[int] = []
    seen = DedupIndex()
    for parsed in parsed_rows:
        if isinstance(parsed, Bad):
            bad.append(parsed)
            continue
        number = parsed.number
        found = base.find(parsed)
        if found is not None:
            in_base.append(InBase(number, found[0], found[1]))
            continue
        earlier = seen.find(parsed)
        if earlier is not None:
            in_file.append(InFile(number, earlier[0], earlier[1]))
            continue
        seen.add(number, parsed.dedup, parsed.phones, parsed.emails, parsed.tax_number)
        new.append(parsed)
        for kind, value in parsed.classifiers.items():
            key = value_key(value)
            if key not in known.get(kind, {}):
                unknown.setdefault(kind, {}).setdefault(key, value)
        if parsed.manager and normalize_text(parsed.manager) not in managers:
            unknown_manager.append(number)
    return DryRun(
        rows=len(table.rows), new=new, in_base=in_base, in_file=in_file, bad=bad,
        unknown={k: list(v.values()) for k, v in unknown.items()},
        unknown_manager=unknown_manager,
    )


def item_code(value: str) -> str:
    """The code of a classifier item an import creates: the same value, the same code (so
    that creating it twice finds the first), within the column's 32 characters."""
    return "imp_" + hashlib.sha1(value_key(value).encode()).hexdigest()[:16]


def client_values(row: Row, owner_id: int | None, classifier_ids: dict[str, int | None],
                  now: datetime) -> tuple[dict[str, Any], list[str]]:
    """The INSERT values of a new client and its contact persons' names, the searchable
    columns filled exactly as crm.clients fills them for a client created by hand."""
    client = Client(
        name=row.name, address=row.address,
        phones=",".join(row.phones) or None, emails=",".join(row.emails) or None,
        tax_number=row.tax_number, trigger_event=row.trigger_event,
        probability=row.probability,
    )
    refresh_search(client, [ContactPerson(name=c) for c in row.contacts])
    values: dict[str, Any] = {
        "name": client.name, "name_norm": client.name_norm,
        "search_text": client.search_text, "phone_digits": client.phone_digits,
        "address": client.address, "phones": client.phones, "emails": client.emails,
        "tax_number": client.tax_number, "trigger_event": client.trigger_event,
        "probability": client.probability, "owner_id": owner_id,
        "unsubscribed": False, "is_deleted": False, "created_at": now, "updated_at": now,
    }
    for kind in CLASSIFIER_FIELDS:
        values[f"{kind.value}_id"] = classifier_ids.get(kind.value)
    return values, row.contacts


def plan(rows: Sequence[Row], owner_id: int | None, known: dict[str, dict[str, int]],
         managers: dict[str, int], now: datetime) -> list[tuple[dict[str, Any], list[str]]]:
    """The INSERT values of the new rows: each to the manager its «Manager» names (one the
    importer may give clients to), else to `owner_id`. CPU work for a thread."""
    planned = []
    for row in rows:
        owner = owner_id
        if row.manager:
            owner = managers.get(normalize_text(row.manager), owner)
        ids: dict[str, int | None] = {kind: known.get(kind, {}).get(value_key(value))
                                      for kind, value in row.classifiers.items()}
        planned.append(client_values(row, owner, ids, now))
    return planned


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True, slots=True)
class Assignee:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    in_base: int
    in_file: int
    bad: int
    values_created: int
    again: bool  # this import id was imported before: nothing was written now
    values_mapped: int = 0


CREATE = "create"
EMPTY = "empty"
#: What becomes of one unknown classifier value: [kind, value, CREATE | EMPTY | item id].
Decision = Sequence[Any]


def decided(decisions: Iterable[Decision] | None) -> dict[tuple[str, str], str | int]:
    """(kind, normalised value) → CREATE, EMPTY or the id of the item it is mapped to."""
    out: dict[tuple[str, str], str | int] = {}
    for kind, value, what in decisions or ():
        if what in (CREATE, EMPTY) or (isinstance(what, int) and not isinstance(what, bool)):
            out[(str(kind), value_key(str(value)))] = what
        else:
            raise InvalidInput("import_value")
    return out


def _assignee_roles() -> tuple[str, ...]:
    return (Role.MANAGER.value, Role.HEAD.value)


class ImportService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        # Set by the CRM facade: hands the leads of a team's queue out by its rule.
        self.distribute_team: Callable[[Actor, int | None], Awaitable[object]] | None = None
        # The rows of the last tables parsed: the dry run and the import that follows it
        # parse the same table (the bot keeps the Table object of a file it read).
        self._parsed: OrderedDict[tuple[int, tuple[str | None, ...]], tuple[Table, Parsed]] = (
            OrderedDict())

    async def _parse(self, table: Table, mapping: Sequence[str | None]) -> Parsed:
        key = (id(table), tuple(mapping))
        found = self._parsed.get(key)
        if found is not None and found[0] is table:
            return found[1]
        parsed = await asyncio.to_thread(parse_all, table, mapping)
        self._parsed[key] = (table, parsed)
        while len(self._parsed) > 2:
            self._parsed.popitem(last=False)
        return parsed

    async def assignees(self, actor: Actor) -> list[Assignee]:
        """Whom the actor may give imported clients: a head their team's managers and
        themself, an admin or a marketer any active manager or head."""
        require(can_import_clients(actor))
        team = actor.team_id if actor.role is Role.HEAD else None
        if actor.role is Role.HEAD and team is None:
            return [Assignee(actor.id, actor.name)]
        async with self.db.transaction() as s:
            users = await repo.active_users(s, _assignee_roles(), team)
        found = [Assignee(u.id, u.name) for u in users]
        if actor.role is Role.HEAD and all(a.id != actor.id for a in found):
            found.insert(0, Assignee(actor.id, actor.name))
        return found

    async def check_owner(self, actor: Actor, owner_id: int | None) -> None:
        """None is the leads queue; anyone else must be one of `assignees`."""
        require(can_import_clients(actor))
        if owner_id is not None and owner_id not in {a.id for a in await self.assignees(actor)}:
            raise InvalidInput("owner")

    async def _context(self, actor: Actor) -> tuple[DedupIndex, dict[str, dict[str, int]],
                                                   dict[str, int]]:
        async with self.db.transaction() as s:
            existing = await repo.dedup_rows(s)
            items = await repo.classifier_items(s, [k.value for k in CLASSIFIER_FIELDS])
        known: dict[str, dict[str, int]] = {}
        for item_id, kind, code, ru, en in items:
            by_value = known.setdefault(kind, {})
            for name in (code, en, ru):  # the Russian label wins a clash
                if key := value_key(name):
                    by_value[key] = item_id
        managers = {normalize_text(a.name): a.id for a in await self.assignees(actor)}
        base = await asyncio.to_thread(index_existing, existing)
        return base, known, managers

    async def dry_run(self, actor: Actor, table: Table, mapping: Sequence[str | None]
                      ) -> DryRun:
        require(can_import_clients(actor))
        parsed = await self._parse(table, mapping)
        base, known, managers = await self._context(actor)
        return await asyncio.to_thread(analyse, table, mapping, base, known, managers, parsed)

    async def run(
        self, actor: Actor, table: Table, mapping: Sequence[str | None], *,
        owner_id: int | None, create_values: bool, import_id: int, file_name: str = "",
        decisions: Iterable[Decision] | None = None,
    ) -> ImportResult:
        """Import the new rows, BATCH clients (with their contact persons) per transaction.

        The dry run is made again first, against the base as it is now: a row imported
        meanwhile (or by an earlier, interrupted run of this import) is a duplicate now, so
        running it again never doubles a client. An import id recorded in the audit log
        means it is done: nothing is written again.

        Unknown classifier values: `decisions` say, one by one, to create a value, leave it
        empty or map it to an existing item of its kind (checked here: another kind's item
        or a forged id is refused); a value without a decision is created when
        `create_values`, else left empty.
        """
        require(can_import_clients(actor))
        await self.check_owner(actor, owner_id)
        choices = decided(decisions)
        async with self.db.transaction() as s:
            done = await repo.import_done(s, import_id)
        if done is not None:
            return ImportResult(int(done.get("created", 0)), int(done.get("in_base", 0)),
                                int(done.get("in_file", 0)), int(done.get("bad", 0)),
                                int(done.get("values_created", 0)), again=True,
                                values_mapped=int(done.get("values_mapped", 0)))
        parsed = await self._parse(table, mapping)
        base, known, managers = await self._context(actor)
        dry = await asyncio.to_thread(analyse, table, mapping, base, known, managers, parsed)
        now = self.clock.now()
        created_values = 0
        mapped: list[list[Any]] = []
        if choices:
            async with self.db.transaction() as s:
                kinds = {(kind, item_id) for item_id, kind, *_labels in
                         await repo.classifier_items(s, [k.value for k in CLASSIFIER_FIELDS])}
            unknown = {(kind, value_key(v)) for kind, values in dry.unknown.items()
                       for v in values}
            for (kind, key), what in choices.items():
                if isinstance(what, int):
                    if (kind, what) not in kinds:
                        raise InvalidInput("import_value")
                    if (kind, key) in unknown:  # still unknown, and in the file
                        known.setdefault(kind, {})[key] = what
                        mapped.append([kind, key, what])
        default = CREATE if create_values else EMPTY
        to_create = {kind: [v for v in values
                            if choices.get((kind, value_key(v)), default) == CREATE]
                     for kind, values in dry.unknown.items()}
        if any(to_create.values()):
            wanted = [(kind, item_code(v), v) for kind, values in to_create.items()
                      for v in values]
            async with self.db.transaction() as s:
                made = await repo.ensure_items(s, wanted)
                created_values = len(made)
                for kind, code, value in wanted:
                    found = made.get((kind, code)) or await repo.item_id(s, kind, code)
                    if found is not None:
                        known.setdefault(kind, {})[value_key(value)] = found
                if made:
                    people_repo.audit(s, actor.id, "classifiers.created", "import", import_id,
                                      {"values": [[k, v] for k, _c, v in wanted]}, now)
        planned = await asyncio.to_thread(plan, dry.new, owner_id, known, managers, now)
        async with self.db.transaction() as s:
            team = lead_team(actor.team_id, [t.id for t in await people_repo.list_teams(s)])
        leads = 0
        for values, _names in planned:  # every row the same keys: one multi-row INSERT
            values["lead_team_id"] = team if values["owner_id"] is None else None
            leads += values["owner_id"] is None
        created = 0
        for start in range(0, len(planned), BATCH):
            async with self.db.transaction() as s:
                created += await repo.insert_clients(s, planned[start:start + BATCH], now)
        details = {
            "import_id": import_id, "file": file_name[:100], "rows": dry.rows,
            "created": created, "in_base": len(dry.in_base), "in_file": len(dry.in_file),
            "bad": len(dry.bad), "values_created": created_values, "owner_id": owner_id,
            "values_mapped": len(mapped),
        }
        if mapped:
            details["mapped"] = mapped[:100]
        async with self.db.transaction() as s:
            people_repo.audit(s, actor.id, "clients.imported", "import", import_id, details,
                              now)
        if leads and created and self.distribute_team is not None:
            await self.distribute_team(actor, team)
        return ImportResult(created, len(dry.in_base), len(dry.in_file), len(dry.bad),
                            created_values, again=False, values_mapped=len(mapped))
