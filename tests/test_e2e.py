"""End to end: `salesbot run` as a subprocess, over HTTP, against the fake Bot API server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e import press, reply_with, running_bot
from tests.fakebotapi import FakeBotAPI, reply_buttons

ADMIN_ID = 1001


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


async def test_admin_invites_a_manager_and_a_stranger_is_refused(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(api, tmp_path, {"ADMIN_IDS": str(ADMIN_ID)}):
        assert (tmp_path / "salesbot.db").exists()
        admin = api.user(ADMIN_ID, first_name="Anna", language_code="ru")
        admin.send_command("start")
        welcome = await reply_with(admin, "Администратор")
        assert "👥 Сотрудники" in reply_buttons(welcome)
        admin.send_command("invite")
        await reply_with(admin, "Кого приглашаете")
        press(admin, "Менеджер")
        invite = await reply_with(admin, "https://t.me/")
        token = re.search(r"start=([\w-]+)", invite["text"])
        assert token, invite["text"]

        manager = api.user(2002, first_name="Max", language_code="en")
        manager.send_command("start", token.group(1))
        await reply_with(manager, "registered as: Sales manager")

        stranger = api.user(3003, first_name="Eve", language_code="en")
        stranger.send_text("hello")
        await reply_with(stranger, "you need an invitation")
        stranger.send_command("start", token.group(1))
        await reply_with(stranger, "already been used")
        # The command menus were set per language, and per role for registered users.
        scopes = {key[0] for key in api.commands}
        assert any('"chat_id":1001' in s.replace(" ", "") for s in scopes)
        assert any(lang == "en" for _, lang in api.commands)
