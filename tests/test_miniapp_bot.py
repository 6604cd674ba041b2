"""The dashboard on the bot's side: «📊 Dashboard» (a web_app button) in the reports menu and
as the chat's menu button for heads, admins and marketers only when PUBLIC_URL is set; the
dashboard's deal links (/start deal_<id>) open the card for whoever may see the deal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.methods import SetChatMenuButton, TelegramMethod
from aiogram.types import InlineKeyboardMarkup, MenuButtonWebApp

from bot.factory import create_dispatcher
from crm.service import CRM
from tests.harness import Harness, TgUser, last_text, make_bot
from tests.test_digest import build

URL = "https://crm.example.com/app/"
HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")
SID = TgUser(9006, "Sid", "Head", language_code="en")
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")
STRANGER = TgUser(5555, "Nobody", "Known", language_code="en")


def web_apps(calls: list[TelegramMethod[Any]]) -> list[tuple[str, str]]:
    for call in reversed(calls):
        markup = getattr(call, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            return [(b.text, b.web_app.url) for row in markup.inline_keyboard for b in row
                    if b.web_app is not None]
    return []


def harness_with(crm: CRM, url: str | None) -> Harness:
    bot, session = make_bot()
    return Harness(dp=create_dispatcher(crm, default_locale="ru", dashboard_url=url), bot=bot,
                   session=session)


@pytest.fixture
async def ids(crm: CRM) -> AsyncIterator[dict[str, int]]:
    yield await build(crm.db)


async def test_the_dashboard_button_only_with_public_url(crm: CRM,
                                                        ids: dict[str, int]) -> None:
    h = harness_with(crm, URL)
    assert web_apps(await h.send(HELEN, "/reports")) == [("📊 Dashboard", URL)]
    assert web_apps(await h.send(MARK, "/reports")) == [("📊 Dashboard", URL)]
    assert web_apps(await h.send(IVAN, "/reports")) == []  # a manager: their own chat reports
    plain = harness_with(crm, None)
    assert web_apps(await plain.send(HELEN, "/reports")) == []


async def test_the_dashboard_button_in_russian(crm: CRM, ids: dict[str, int]) -> None:
    from storage.models import User

    async with crm.db.transaction() as s:
        user = await s.get(User, ids["helen"])
        assert user is not None
        user.locale = "ru"
    h = harness_with(crm, URL)
    assert web_apps(await h.send(HELEN, "/reports")) == [("📊 Дашборд", URL)]


async def test_the_menu_button_for_heads_only_with_public_url(crm: CRM,
                                                             ids: dict[str, int]) -> None:
    h = harness_with(crm, URL)
    calls = await h.send(HELEN, "/start")
    menu = [c for c in calls if isinstance(c, SetChatMenuButton)]
    assert len(menu) == 1 and menu[0].chat_id == 9001
    assert isinstance(menu[0].menu_button, MenuButtonWebApp)
    assert menu[0].menu_button.web_app.url == URL
    assert not [c for c in await h.send(IVAN, "/start") if isinstance(c, SetChatMenuButton)]
    plain = harness_with(crm, None)
    assert not [c for c in await plain.send(HELEN, "/start")
                if isinstance(c, SetChatMenuButton)]


async def test_a_deal_link_opens_the_card_for_who_may_see_it(crm: CRM,
                                                            ids: dict[str, int]) -> None:
    h = harness_with(crm, URL)
    deal = ids["d1"]
    card = last_text(await h.send(HELEN, f"/start deal_{deal}"))
    assert "Pumps" in card
    assert "Pumps" in last_text(await h.send(IVAN, f"/start deal_{deal}"))
    # Another team's head, a stranger, a deal that does not exist: no card.
    for user, text in ((SID, f"/start deal_{deal}"), (STRANGER, f"/start deal_{deal}"),
                       (HELEN, "/start deal_999999999999")):
        answer = last_text(await h.send(user, text))
        assert "Pumps" not in answer and answer
