"""Field types of callback data: what a button may carry, checked before any handler runs.

Callback data comes from the phone and can be forged. A value out of these bounds (an id
PostgreSQL's integer cannot hold, a negative page, an unknown action) fails to unpack, so the
button falls through to the stale-button handler and never reaches a query.
"""

from __future__ import annotations

from typing import Annotated, Self

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

INT32_MAX = 2_147_483_647

# A row id: positive and within PostgreSQL's integer.
DbId = Annotated[int, Field(ge=1, le=INT32_MAX)]
# The token of a form's prompt (bot/forms.py).
Step = Annotated[int, Field(ge=1, le=INT32_MAX)]
# A page of a list.
Page = Annotated[int, Field(ge=0, le=1_000_000)]
Percent = Annotated[int, Field(ge=0, le=100)]


class CD(CallbackData, prefix="_cd"):
    """The base of the bot's callback data: `unpack` answers a string it has unpacked
    recently from memory. A callback button goes through the filters of every handler of its
    class (a card button, of a dozen) before one matches, and each filter would otherwise
    parse and validate the same string again. Unpacked values are never changed."""

    @classmethod
    def unpack(cls, value: str) -> Self:
        key = (cls, value)
        hit = _UNPACKED.get(key)
        if hit is None:
            try:
                hit = super().unpack(value)
            except (TypeError, ValueError) as error:
                hit = error
            if len(_UNPACKED) >= _UNPACKED_MAX:
                _UNPACKED.clear()
            _UNPACKED[key] = hit
        if isinstance(hit, Exception):
            raise hit
        return hit  # type: ignore[return-value]


_UNPACKED: dict[tuple[type[CallbackData], str], CallbackData | Exception] = {}
_UNPACKED_MAX = 256  # within an update the same string comes back; across updates rarely
