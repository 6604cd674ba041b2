"""Every text the bot can say has a Russian translation, and locales are picked right."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from aiogram.utils.i18n import ngettext
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, create_i18n, pick_locale
from bot.render import plural_n
from scheduler.sender import in_locale

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "__": None, "gettext": None, "lazy_gettext": None,
            "ngettext": (1, 2), "lazy_ngettext": (1, 2)}


def code_msgids() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "scheduler"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_text_in_the_code_is_translated_to_russian() -> None:
    with (LOCALES_DIR / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        catalog = read_po(fp, locale="ru")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and not m.fuzzy
        and all(m.string if isinstance(m.string, tuple) else (m.string,))
    }
    missing = sorted(code_msgids() - translated)
    assert not missing, "untranslated (run python tools/i18n.py extract):\n" + "\n".join(missing)


def test_catalogs_load_and_translate() -> None:
    i18n = create_i18n("ru")
    assert set(i18n.available_locales) >= {"ru", "en"}
    assert i18n.gettext("Help", locale="ru") == "Помощь"
    assert i18n.gettext("Help", locale="en") == "Help"


def test_locale_choice() -> None:
    assert pick_locale("en", "ru", "ru") == "en"  # the user's own setting wins
    assert pick_locale(None, "en-US", "ru") == "en"
    assert pick_locale(None, "uk", "en") == "ru"
    assert pick_locale(None, "de", "ru") == "en"
    assert pick_locale(None, None, "ru") == "ru"


def test_a_fraction_of_days_reads_right_in_both_languages() -> None:
    def days(value: Decimal, shown: str) -> str:
        return ngettext("{n} day", "{n} days", plural_n(value)).format(n=shown)

    with in_locale(create_i18n("ru"), "ru"):
        assert days(Decimal("22.5"), "22,5") == "22,5 дня"
        assert days(Decimal(21), "21") == "21 день"
        assert days(Decimal(25), "25") == "25 дней"
    with in_locale(create_i18n("ru"), "en"):
        assert days(Decimal("1.5"), "1.5") == "1.5 days"
        assert days(Decimal(1), "1") == "1 day"
