"""Field types of callback data: what a button may carry, checked before any handler runs.

Callback data comes from the phone and can be forged. A value out of these bounds (an id
PostgreSQL's integer cannot hold, a negative page, an unknown action) fails to unpack, so the
button falls through to the stale-button handler and never reaches a query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Self, TypeVar

from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH, CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from pydantic import BaseModel, Field

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

    def pack(self) -> str:
        """CallbackData.pack without model_dump: the same string (the fields are plain values:
        ints, strings, enums, None), in a third of the time."""
        sep = self.__separator__
        parts = [self.__prefix__]
        for key in type(self).model_fields:
            encoded = self._encode_value(key, getattr(self, key))
            if sep in encoded:
                raise ValueError(f"Separator symbol {sep!r} can not be used "
                                 f"in value {key}={encoded!r}")
            parts.append(encoded)
        packed = sep.join(parts)
        if len(packed.encode()) > MAX_CALLBACK_LENGTH:
            raise ValueError(f"Resulted callback data is too long! "
                             f"len({packed!r}.encode()) > {MAX_CALLBACK_LENGTH}")
        return packed


_UNPACKED: dict[tuple[type[CallbackData], str], CallbackData | Exception] = {}
_UNPACKED_MAX = 256  # within an update the same string comes back; across updates rarely


# Buttons and keyboards of the hottest screens, built without pydantic's validation: a card has
# 14 buttons, Today up to 30, and validating each (aiogram's models run a validator and a
# post-init hook) cost more than the rest of drawing the screen. The values are ours and of
# the right types (str text, str callback data); the result is the same model, field for
# field, as the validated constructor's (checked below, at import: if a pydantic or aiogram
# upgrade breaks that, the validated constructors are used instead).
M = TypeVar("M", bound=BaseModel)


def _copy_of(proto: M, fields: dict[str, Any]) -> M:
    model = type(proto).__new__(type(proto))
    values = proto.__dict__.copy()
    values.update(fields)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", set(proto.__pydantic_fields_set__))
    object.__setattr__(model, "__pydantic_extra__", None if proto.__pydantic_extra__ is None
                       else dict(proto.__pydantic_extra__))
    private = proto.__pydantic_private__
    object.__setattr__(model, "__pydantic_private__", None if private is None else dict(private))
    return model


_BUTTON = InlineKeyboardButton(text="-", callback_data="-")
_MARKUP = InlineKeyboardMarkup(inline_keyboard=[])


def _fast_button(text: str, callback_data: str) -> InlineKeyboardButton:
    return _copy_of(_BUTTON, {"text": text, "callback_data": callback_data})


def _fast_markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return _copy_of(_MARKUP, {"inline_keyboard": rows})


def _slow_button(text: str, callback_data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=callback_data)


def _slow_markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _same_as_validated() -> bool:
    rows = [[_fast_button("a", "c:1:open"), _fast_button("b", "h:1:0:")]]
    slow = _slow_markup([[_slow_button("a", "c:1:open"), _slow_button("b", "h:1:0:")]])
    fast = _fast_markup(rows)
    return (fast == slow and fast.model_dump() == slow.model_dump()
            and fast.model_dump(exclude_none=True) == slow.model_dump(exclude_none=True)
            and fast.model_dump_json() == slow.model_dump_json()
            and fast.model_fields_set == slow.model_fields_set
            and rows[0][0].model_fields_set == slow.inline_keyboard[0][0].model_fields_set)


button, markup = (_fast_button, _fast_markup) if _same_as_validated() \
    else (_slow_button, _slow_markup)


def page_nav(page: int, pages: int, data: Callable[[int], str]) -> list[InlineKeyboardButton]:
    """‹ n/N › under a paged list (`data(k)`: the callback data of page k); empty for one
    page."""
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(button("‹", data(page - 1)))
    if pages > 1:
        nav.append(button(f"{page + 1}/{pages}", data(page)))
    if page + 1 < pages:
        nav.append(button("›", data(page + 1)))
    return nav
