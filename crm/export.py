"""Exporting clients as the table the import reads back (crm/importer.py): the same headers
(Russian or English), one row per client with its classifiers, manager, open deals and
last/next contact. Imported again, an export adds nothing: every row is a duplicate."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from crm.access import can_export_clients, require
from crm.clients import split_list, visibility
from crm.clock import Clock
from crm.dto import Actor
from crm.importer import CLASSIFIER_FIELDS, TITLES, Field
from crm.parsing import format_phone
from storage.db import Database
from storage.repo import imports as repo
from storage.repo.classifiers import items_by_ids

Cell = str | int | date | None
COLUMNS: tuple[Field, ...] = (
    Field.NAME, Field.PHONE, Field.EMAIL, Field.TAX_NUMBER, Field.ADDRESS, *CLASSIFIER_FIELDS,
    Field.CONTACT, Field.MANAGER, Field.TRIGGER, Field.PROBABILITY, Field.DEALS,
    Field.LAST_CONTACT, Field.NEXT_CONTACT,
)
_CHUNK = 1000  # client ids per query, when a list is exported


@dataclass(frozen=True, slots=True)
class ExportTable:
    headers: list[str]
    rows: list[list[Cell]]


class ExportService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def table(self, actor: Actor, locale: str,
                    client_ids: Sequence[int] | None = None) -> ExportTable:
        """The clients of the actor's scope — all of them, or only `client_ids` (a saved
        list; ids out of the scope are left out) — as rows, headers in `locale`."""
        require(can_export_clients(actor))
        vis = visibility(actor)
        chunks: list[Sequence[int] | None] = [None]
        if client_ids is not None:
            unique = list(dict.fromkeys(client_ids))
            chunks = [unique[i:i + _CHUNK] for i in range(0, len(unique), _CHUNK)]
        ru = locale == "ru"
        tz = actor.tz
        rows: list[list[Cell]] = []
        async with self.db.transaction() as s:
            for chunk in chunks:
                data = await repo.export_data(s, vis, chunk)
                wanted = {i for c in data.clients for i in c.classifier_ids.values() if i}
                items = await items_by_ids(s, wanted)
                for c in data.clients:
                    labels = {
                        kind: (items[i].name_ru if ru else items[i].name_en)
                        for kind, i in c.classifier_ids.items() if i and i in items
                    }
                    deals = "; ".join(
                        f"{d.title} ({d.stage_ru if ru else d.stage_en}, {d.amount} {d.currency})"
                        for d in data.deals.get(c.id, [])
                    )
                    last = data.last_contact.get(c.id)
                    nxt = data.next_contact.get(c.id)
                    rows.append([
                        c.name,
                        ", ".join(format_phone(p) for p in split_list(c.phones)) or None,
                        ", ".join(split_list(c.emails)) or None,
                        c.tax_number, c.address,
                        *(labels.get(kind.value) for kind in CLASSIFIER_FIELDS),
                        "; ".join(data.contacts.get(c.id, [])) or None,
                        c.owner_name, c.trigger_event, c.probability, deals or None,
                        last.astimezone(tz).date() if last else None,
                        nxt.astimezone(tz).date() if nxt else None,
                    ])
        if client_ids is not None:
            rows.sort(key=lambda r: str(r[0]).casefold())
        headers = [TITLES[f][0 if ru else 1] for f in COLUMNS]
        return ExportTable(headers, rows)


def to_csv(table: ExportTable) -> bytes:
    """UTF-8 with a BOM and `;`: what Excel opens right in a Russian locale."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["" if v is None else v.strftime("%d.%m.%Y") if isinstance(v, date)
                         else v for v in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def to_xlsx(table: ExportTable, title: str = "Clients") -> bytes:
    """One sheet, a bold frozen header, dates as dates, a tax number as text (its leading
    zero kept). CPU work: call it in a thread."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in table.headers:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], min(len(str(value or "")), 60))
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w + 2
    ws.append(header)
    dates = {i for i, f in enumerate(COLUMNS) if f in (Field.LAST_CONTACT, Field.NEXT_CONTACT)}
    for row in table.rows:
        cells = []
        for i, value in enumerate(row):
            cell = WriteOnlyCell(ws, value=value)
            if i in dates and value is not None:
                cell.number_format = "DD.MM.YYYY"
            elif isinstance(value, str):
                cell.number_format = "@"
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
