"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, String, Text
from sqlalchemy.types import TypeDecorator

# What PostgreSQL refuses in text (NUL; lone surrogates cannot be encoded as UTF-8) and the
# other C0 controls, which only garble a chat message; tab and newline are kept.
_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff]")


def clean_text(value: str) -> str:
    """`value` without NUL, lone surrogates and C0 controls other than tab and newline."""
    if _REFUSED.search(value) is None:
        return value
    return _REFUSED.sub("", value)


class CleanString(TypeDecorator[str]):
    """A VARCHAR that cleans what it stores with `clean_text`.

    Every text a user typed reaches the database through a column (or a comparison with one,
    which binds with the column's type), so cleaning here covers every path at once: a
    search for a word with a NUL in it binds the cleaned word too. The database type stays
    plain VARCHAR/TEXT, so using it needs no migration.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean_text(value)

    @property
    def python_type(self) -> type[str]:
        return str


class CleanText(CleanString):
    """TEXT, cleaned like `CleanString`."""

    impl = Text
    cache_ok = True


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out.

    SQLite keeps no zone and PostgreSQL's `timestamp` neither, so the column holds naive
    UTC and the zone is re-attached on the way out. Naive input is refused: it is a bug.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive, SQLite returns datetime
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


_CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """A Decimal amount stored as integer minor units (kopecks, cents).

    SQLite has no exact decimal type; integers are exact on every backend.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(_CENT)


def utcnow() -> datetime:
    return datetime.now(UTC)
