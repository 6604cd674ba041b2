"""bot/routing.py: the index only ever rules out a handler whose filters would refuse the
update, so the handler chosen is the one aiogram would choose walking every filter. And the
cheap keyboard pieces (CD.pack, button, markup) give what aiogram's own would."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import routing
from bot.factory import create_dispatcher
from bot.keyboards.client import ClientAction, ClientCD, open_card_data
from bot.keyboards.menu import MENU_BUTTONS
from bot.keyboards.types import INT32_MAX, button, markup
from tests.harness import make_bot
from tests.test_callback_fuzz import CLASSES, forged

DP = create_dispatcher(MagicMock(), default_locale="ru")
_INDEX = routing.index_of(DP)
assert _INDEX is not None
INDEX: routing.RoutingIndex = _INDEX
BOT, _SESSION = make_bot()
I18N = DP["i18n_core"]
USER = User(id=7, is_bot=False, first_name="Ann")
STATES = sorted(s for s in INDEX.known[routing.STATE] if s is not None)


def message(text: str | None = None, caption: str | None = None) -> Message:
    return Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=7, type="private"),
                   from_user=USER, text=text, caption=caption)


def query(data: str | None) -> CallbackQuery:
    return CallbackQuery(id="1", from_user=USER, chat_instance="ci", data=data,
                         message=message("…"))


async def refused_by_filters(router: Any, update_type: str, handler: Any, event: Any,
                             data: dict[str, Any]) -> bool:
    """The handler's own filters, or those of its router or a router above, say no."""
    with I18N.context(), I18N.use_locale("ru"):
        for r in router.chain_head:
            passed, _data = await r.observers[update_type].check_root_filters(event, **data)
            if not passed:
                return True
        passed, _data = await handler.check(event, **data)
    return not passed


async def check_sound(event: Any, update_type: str, raw_state: str | None) -> None:
    for actor in (object(), None):
        data = {"bot": BOT, "raw_state": raw_state, "i18n": I18N, "actor": actor,
                "linked_client": object(), "event_from_user": USER}
        key = INDEX.key(event, data)
        for router in DP.chain_tail:
            observer = router.observers[update_type]
            admitted = INDEX.handlers_for(observer, key)
            for handler in observer.handlers:
                if handler not in admitted:
                    assert await refused_by_filters(router, update_type, handler, event, data), (
                        router.name, handler.callback.__name__, key)
            if not INDEX.enters_router(router, update_type, key):
                assert not any(INDEX.handlers_for(r.observers[update_type], key)
                               for r in router.chain_tail)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
async def test_a_button_is_only_kept_from_handlers_that_refuse_it(
    cls: type[CallbackData], data: Any
) -> None:
    raw = data.draw(forged(cls))
    state = data.draw(st.sampled_from([None, *STATES]))
    await check_sound(query(raw), "callback_query", state)


async def test_odd_buttons_are_only_kept_from_handlers_that_refuse_them() -> None:
    for raw, state in itertools.product([None, "", ":", "zz", "c", "c:", "c:1:open:x"],
                                        [None, *STATES[:5]]):
        await check_sound(query(raw), "callback_query", state)


def message_texts() -> list[tuple[str | None, str | None]]:
    menu = [I18N.gettext(b, locale=loc) for b in MENU_BUTTONS for loc in ("ru", "en")]
    commands = sorted(INDEX.known[routing.COMMAND])
    typed = [f"/{c}" for c in commands] + [f" /{c} x" for c in commands[:5]] + [
        "/today@salesbot_test_bot", "/today@someone_else", "/start abc", "/Today", "/",
        "Acme", "Иванов Пётр", "", "  ", "/unknown", "📅 Today x", *menu]
    return [(t, None) for t in typed] + [(None, "/today"), (None, "caption"), (None, None)]


@pytest.mark.parametrize("state", [None, *STATES])
async def test_a_message_is_only_kept_from_handlers_that_refuse_it(state: str | None) -> None:
    for text, caption in message_texts():
        await check_sound(message(text, caption), "message", state)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_cd_pack_is_aiogram_pack(data: Any) -> None:
    cls = data.draw(st.sampled_from(CLASSES))
    raw = data.draw(forged(cls))
    try:
        cd = cls.unpack(raw)
    except (TypeError, ValueError):
        return
    assert cd.pack() == CallbackData.pack(cd)


def test_cheap_buttons_are_the_validated_ones() -> None:
    fast = markup([[button("📝 Log", "c:1:log"), button("x", "h:1:0:")], [button("y", "s:0")]])
    slow = InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text="📝 Log", callback_data="c:1:log"),
         InlineKeyboardButton(text="x", callback_data="h:1:0:")],
        [InlineKeyboardButton(text="y", callback_data="s:0")],
    ])
    assert fast == slow
    assert fast.model_dump_json(exclude_none=True) == slow.model_dump_json(exclude_none=True)
    assert fast.inline_keyboard[0][0].model_fields_set == {"text", "callback_data"}
    # Independent objects: changing one changes no other.
    other = button("z", "s:1")
    assert other.text == "z" and fast.inline_keyboard[0][0].text == "📝 Log"


def test_open_card_data_is_the_packed_callback() -> None:
    for cid in (1, 7, 123456, INT32_MAX):
        assert open_card_data(cid) == ClientCD(id=cid, action=ClientAction.OPEN).pack()
    for bad in (0, -1, INT32_MAX + 1):
        with pytest.raises(ValueError):
            open_card_data(bad)
