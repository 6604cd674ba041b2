"""Formatting of dates, numbers, percentages and money for people, through Babel, in the
current locale."""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit

TELEGRAM_TEXT_LIMIT = 4096
TAG = re.compile(r"<[^>]*>?")


def current_locale() -> str:
    i18n = I18n.get_current(no_error=True)
    return i18n.current_locale if i18n is not None else "ru"


# The abbreviated month names of the bot's languages, as babel's "MMM" writes them: a
# history page and Today format a dozen times each, and babel parses its pattern every time.
_MONTHS = {loc: Locale.parse(loc).months["format"]["abbreviated"] for loc in ("ru", "en")}


def fmt_datetime(value: datetime, tz: ZoneInfo) -> str:
    """«3 дек. 2026, 15:00» / "3 Dec 2026, 15:00" (babel's "d MMM y, HH:mm")."""
    local = value.astimezone(tz)
    loc = current_locale()
    months = _MONTHS.get(loc)
    if months is None:
        return format_datetime(local, "d MMM y, HH:mm", locale=loc)
    return f"{local.day} {months[local.month]} {local.year}, {local.hour:02d}:{local.minute:02d}"


def fmt_when(value: datetime, tz: ZoneInfo, now: datetime) -> str:
    """A planned time as a manager reads it: «чт, 3 дек., 15:00» / "Thu, 3 Dec, 15:00" (the
    year only when it is not this one)."""
    local = value.astimezone(tz)
    pattern = "EEE, d MMM, HH:mm" if local.year == now.astimezone(tz).year else \
        "EEE, d MMM y, HH:mm"
    return format_datetime(local, pattern, locale=current_locale())


def fmt_date(value: date) -> str:
    return format_date(value, "d MMM y", locale=current_locale())


def fmt_day(value: date) -> str:
    return format_date(value, "EEEE, d MMMM", locale=current_locale())


def fmt_time(value: datetime, tz: ZoneInfo) -> str:
    return format_datetime(value.astimezone(tz), "HH:mm", locale=current_locale())


def fmt_money(amount: Decimal, currency: str) -> str:
    return format_currency(amount, currency, locale=current_locale())


def fmt_percent(value: int | float | Decimal) -> str:
    """A percentage given in percent (70 → «70 %» / "70%"). Russian typography wants a narrow
    no-break space before the sign; CLDR gives a plain no-break one."""
    text = format_percent(Decimal(str(value)) / 100, locale=current_locale())
    return text.replace("\u00a0%", "\u202f%")


def fmt_decimal(value: int | float | Decimal) -> str:
    """A number with the locale's decimal separator: 25.5 → «25,5» / "25.5"."""
    return format_decimal(value, locale=current_locale())


def fmt_distance(km: float) -> str:
    """«350 м» / "350 m" under a kilometre (to 10 m), «2,4 км» / "2.4 km" under a hundred,
    whole kilometres beyond."""
    loc = current_locale()
    metres = int(km * 100 + 0.5) * 10  # half up, as people round
    if metres < 1000:
        return format_unit(metres, "length-meter", "short", locale=loc)
    value: float | int = round(km, 1) if km < 100 else round(km)
    return format_unit(value, "length-kilometer", "short", locale=loc)


def plural_n(value: int | float | Decimal) -> int:
    """The count to pick a plural form by. A fraction takes the form of 2: Russian puts the
    noun after a decimal in the genitive singular («22,5 дня»), English in the plural
    ("22.5 days")."""
    return int(value) if value == int(value) else 2


def clip(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> str:
    """Never send a message Telegram would refuse: at most `limit` characters, and cut at a
    line break so no HTML tag or entity is left half-open (each line is balanced)."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 2)
    if cut <= 0:
        # One enormous line: drop the markup rather than risk cutting a tag in half.
        plain = html.unescape(TAG.sub("", text))
        return html.escape(plain[: limit // 2 - 1]) + "…"
    return text[:cut] + "\n…"
