"""Filters shared by the routers."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.keyboards.menu import MENU_BUTTONS


class FormText(Filter):
    """Typed text that answers a form's question.

    Commands and main-menu buttons are not answers: they fall through to their own
    handlers (which leave the form), instead of becoming a client's name or a comment.
    """

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        text = message.text
        if not text or text.startswith("/"):
            return False
        return text not in menu_texts(i18n)


_cache: dict[int, frozenset[str]] = {}


def menu_texts(i18n: I18n) -> frozenset[str]:
    """Every main-menu label in every language (a button may predate a language switch)."""
    key = id(i18n)
    if key not in _cache:
        _cache[key] = frozenset(
            i18n.gettext(button, locale=locale)
            for button in MENU_BUTTONS
            for locale in (*i18n.available_locales, i18n.default_locale)
        )
    return _cache[key]
