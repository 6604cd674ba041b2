"""How long a 10,000-row client table takes to check and import, on SQLite.

Run: python -m bench.import_bench [--rows 10000] [--seed 1]

Generates its own files — an XLSX (as openpyxl writes it) and a CSV in UTF-8 with a BOM and
`;` — of `--rows` clients each (names from random syllables, a phone, an e-mail, a tax
number, a region — a few unknown —, a contact person; 1 in 50 rows repeats an earlier one and
1 in 100 has a bad phone), and a temporary SQLite database. It imports the CSV into the
empty base first, then the XLSX into the base the CSV filled (its rows are other clients,
but 1 in 20 repeats a CSV client: duplicates in the base), timing each phase as the bot
runs it:

* **read** — `crm.importer.read_table` (decode, sniff, header, cells to text);
* **dry run** — `ImportService.dry_run` (the base's duplicate keys, every row parsed and
  checked);
* **import** — `ImportService.run` (the dry run again, the unknown classifier values
  created, 500-client batches).

The baseline, measured in the same run, is reading the same file with nothing done to it:
openpyxl's read-only `iter_rows(values_only=True)` for the XLSX, `csv.reader` for the CSV.
The target (issue 10) is under 30 s for a 10,000-row file, read + dry run + import.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import tempfile
import time
from pathlib import Path

from crm.clock import SystemClock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.export import ExportTable, to_csv, to_xlsx
from crm.importer import TITLES, Field, guess_mapping, read_table
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade

SYLLABLES = ["ба", "ро", "фу", "са", "ти", "ха", "ле", "ми", "но", "ка", "за", "ве", "ду",
             "лю", "ша", "кре", "сто", "гра", "тех", "про"]
FORMS = ["ООО", "АО", "ИП", "ЗАО", ""]
REGIONS = ["Москва", "Санкт-Петербург", "Урал", "Сибирь", "Юг", "Тверь", "Калуга"]
COLUMNS = (Field.NAME, Field.PHONE, Field.EMAIL, Field.TAX_NUMBER, Field.REGION,
           Field.CONTACT)


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def make_rows(n: int, rng: random.Random, start: int,
              repeat_from: list[list[str | None]] | None = None) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    for i in range(n):
        if rows and rng.random() < 0.02:
            rows.append(list(rng.choice(rows)))  # a repeat within the file
            continue
        if repeat_from and rng.random() < 0.05:
            rows.append(list(rng.choice(repeat_from)))  # a client the base has
            continue
        k = start + i
        digits = f"{k:09d}"
        phone = f"+7 9{digits[:2]} {digits[2:5]}-{digits[5:7]}-{digits[7:9]}"
        if rng.random() < 0.01:
            phone = "12-34"
        name = f"{rng.choice(FORMS)} «{word(rng)} {word(rng)} {k}»".strip()
        rows.append([name, phone, f"info{k}@example.ru", f"{7700000000 + k:010d}",
                     rng.choice(REGIONS), f"{word(rng)} {word(rng)}"])
    return rows


def files(rows: list[list[str | None]]) -> tuple[bytes, bytes]:
    # The export's writers write the format the import reads (here with six columns).
    table = ExportTable([TITLES[f][0] for f in COLUMNS], [list(r) for r in rows])
    return to_xlsx(table), to_csv(table)


def baseline_xlsx(data: bytes) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    n = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return n


def baseline_csv(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


async def phases(crm: CRM, actor: Actor, data: bytes, import_id: int) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    table = await asyncio.to_thread(read_table, data)
    out["read"] = time.perf_counter() - t
    mapping = guess_mapping(table.headers)
    t = time.perf_counter()
    dry = await crm.imports.dry_run(actor, table, mapping)
    out["dry run"] = time.perf_counter() - t
    t = time.perf_counter()
    result = await crm.imports.run(actor, table, mapping, owner_id=None, create_values=True,
                                   import_id=import_id)
    out["import"] = time.perf_counter() - t
    out["_new"] = len(dry.new)
    out["_created"] = result.created
    out["_base"] = len(dry.in_base)
    out["_file"] = len(dry.in_file)
    out["_bad"] = len(dry.bad)
    return out


async def run(n: int, seed: int) -> None:
    rng = random.Random(seed)
    csv_rows = make_rows(n, rng, 0)
    xlsx_rows = make_rows(n, rng, n, repeat_from=csv_rows)
    _, csv_data = files(csv_rows)
    xlsx_data, _ = files(xlsx_rows)
    print(f"{n} rows per file; XLSX {len(xlsx_data) // 1024} KiB, CSV {len(csv_data) // 1024} KiB")
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade(db)
        crm = CRM(db, CRMConfig(admin_ids=frozenset({1})), SystemClock())
        admin = await crm.people.start(1, "Admin", None, "ru", None)
        assert admin is not None
        results = []
        for label, data, base_fn, iid in (
            ("CSV (UTF-8 BOM, ;) into an empty base", csv_data, baseline_csv, 1),
            (f"XLSX into a base of {n}", xlsx_data, baseline_xlsx, 2),
        ):
            t = time.perf_counter()
            base_fn(data)
            baseline = time.perf_counter() - t
            got = await phases(crm, admin.actor, data, iid)
            results.append((label, baseline, got))
        await db.dispose()
    print(f"{'file':42} {'baseline s':>10} {'read s':>7} {'dry run s':>9} {'import s':>8} "
          f"{'total s':>7} {'x baseline':>10}  new / created / in base / in file / errors")
    for label, baseline, got in results:
        total = got["read"] + got["dry run"] + got["import"]
        print(f"{label:42} {baseline:10.2f} {got['read']:7.2f} {got['dry run']:9.2f} "
              f"{got['import']:8.2f} {total:7.2f} {total / baseline:10.1f}  "
              f"{got['_new']:.0f} / {got['_created']:.0f} / {got['_base']:.0f} / "
              f"{got['_file']:.0f} / {got['_bad']:.0f}")
    print("baseline: reading the file and nothing else (openpyxl read-only iter_rows for the "
          "XLSX, csv.reader for the CSV); target: total < 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.seed))


if __name__ == "__main__":
    main()
