"""Translation upkeep: `python tools/i18n.py extract` refreshes the catalogs from the code,
`python tools/i18n.py check` lists Russian strings still untranslated (exit 1 if any)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "bot" / "locales"
POT = LOCALES / "messages.pot"


def extract() -> None:
    subprocess.run(
        ["pybabel", "extract", "-k", "__", "-k", "ngettext:1,2", "-k", "lazy_ngettext:1,2",
         "--no-location", "--omit-header", "-o", str(POT),
         "bot", "scheduler", "crm", "web"],
        cwd=ROOT, check=True,
    )
    subprocess.run(
        ["pybabel", "update", "--no-fuzzy-matching", "-i", str(POT), "-d", str(LOCALES),
         "-D", "messages", "--omit-header"],
        cwd=ROOT, check=True,
    )


def untranslated(locale: str = "ru") -> list[str]:
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    missing = []
    for msg in catalog:
        if not msg.id:
            continue
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        if not all(strings) or msg.fuzzy:
            missing.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return missing


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "check"
    if cmd == "extract":
        extract()
    missing = untranslated()
    for m in missing:
        print(f"untranslated: {m!r}")
    sys.exit(1 if missing and cmd == "check" else 0)
