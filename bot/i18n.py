"""gettext catalogs, read straight from the `.po` files.

aiogram's I18n wants compiled `.mo` files; compiling them in memory with Babel at start-up
keeps build output out of the repository and means a fresh checkout just works.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).with_name("locales")
DOMAIN = "messages"
# Compiled catalogs by (file, mtime, size): each process parses a `.po` once, however many
# dispatchers it builds (Babel's parser takes some 30 ms a catalog).
_COMPILED: dict[tuple[Path, int, int], bytes] = {}


def _compiled(po_path: Path, locale: str) -> bytes:
    st = po_path.stat()
    key = (po_path, st.st_mtime_ns, st.st_size)
    mo = _COMPILED.get(key)
    if mo is None:
        with po_path.open("rb") as fp:
            catalog = read_po(fp, locale=locale)
        buf = BytesIO()
        write_mo(buf, catalog)
        mo = _COMPILED[key] = buf.getvalue()
    return mo


class PoI18n(I18n):
    @contextmanager
    def context(self) -> Iterator[I18n]:
        # ContextInstanceMixin keeps one context variable per class; aiogram's gettext
        # looks at I18n's, so a subclass must register itself there.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for lang_dir in sorted(self.path.iterdir()):
            po_path = lang_dir / "LC_MESSAGES" / f"{self.domain}.po"
            if not po_path.exists():
                continue
            translations[lang_dir.name] = gettext.GNUTranslations(
                BytesIO(_compiled(po_path, lang_dir.name)))
        return translations


def create_i18n(default_locale: str) -> PoI18n:
    return PoI18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


def pick_locale(own: str | None, telegram_code: str | None, default: str) -> str:
    """The user's own setting, else their Telegram language, else the deployment default."""
    if own in ("ru", "en"):
        return own
    if telegram_code:
        lang = telegram_code.split("-")[0].lower()
        if lang in ("ru", "en"):
            return lang
        # Speakers of neighbouring languages read Russian more often than English.
        if lang in ("uk", "be", "kk", "uz", "ky", "tg", "hy", "az"):
            return "ru"
        return "en"
    return default


class ActorI18nMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        actor = data.get("actor")
        tg_user = data.get("event_from_user")
        return pick_locale(
            actor.locale if actor is not None else None,
            tg_user.language_code if tg_user is not None else None,
            self.i18n.default_locale,
        )
