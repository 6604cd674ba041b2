"""End to end: `salesbot run` as a subprocess, over HTTP, against the fake Bot API server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e import press, reply_with, running_bot
from tests.fakebotapi import FakeBotAPI, reply_buttons

ADMIN_ID = 1001
pytestmark = pytest.mark.slow


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
        # What people see before pressing Start, in both languages.
        assert "By invitation" in api.profile[("short_description", "en")]
        assert "по приглашениям" in api.profile[("description", "ru")]


async def prepare_manager_with_client(db_path: Path) -> int:
    """A manager with one client and one open deal, written before the bot starts."""
    from decimal import Decimal

    from crm.config import CRMConfig
    from crm.service import CRM
    from storage.db import Database
    from storage.migrate import upgrade
    from tests.factories import client, person

    db = Database(f"sqlite+aiosqlite:///{db_path}")
    await upgrade(db)
    crm = CRM(db, CRMConfig(admin_ids=frozenset({ADMIN_ID})))
    max_ = await person(crm, 2002, "Max Sokolov", locale="ru")
    ref = await client(crm, max_, 'ООО "Иванов и партнёры"', "+7 916 123-45-67")
    await crm.deals.create(max_, ref.id, "20 принтеров", Decimal("150000"), None)
    await db.dispose()
    return ref.id


async def test_manager_main_path_over_http(api: FakeBotAPI, tmp_path: Path) -> None:
    """find → card → log a call → plan the next contact → close the deal as lost."""
    client_id = await prepare_manager_with_client(tmp_path / "salesbot.db")
    async with running_bot(api, tmp_path, {"ADMIN_IDS": str(ADMIN_ID)}):
        max_ = api.user(2002, first_name="Max", language_code="ru")
        max_.send_text("иванов")
        await reply_with(max_, "Иванов и партнёры")
        press(max_, "Записать контакт")
        await reply_with(max_, "какой был контакт")
        press(max_, "Звонок")
        await reply_with(max_, "результат?")
        press(max_, "Дозвонился")
        await reply_with(max_, "комментарий")
        max_.send_text("Обсудили цену, думают")
        await reply_with(max_, "следующий шаг")
        press(max_, "завтра 10:00")
        await reply_with(max_, "следующий контакт —")
        # Next day, the client refuses: close the deal as lost from the card.
        max_.send_text("иванов")
        await reply_with(max_, "Следующий контакт")
        press(max_, "Записать контакт")
        await reply_with(max_, "какой был контакт")
        press(max_, "Звонок")
        await reply_with(max_, "результат?")
        press(max_, "Не заинтересован")
        await reply_with(max_, "комментарий")
        max_.send_text("Дорого")
        await reply_with(max_, "следующий шаг")
        press(max_, "Сделка проиграна")
        await reply_with(max_, "причина проигрыша")
        press(max_, "Цена")
        await reply_with(max_, "Проиграна на этапе «Новый лид»: Цена")

    from sqlalchemy import select

    from storage.db import Database
    from storage.models import Activity, ClassifierItem, Deal, PlannedContact, Stage

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'salesbot.db'}")
    async with db.transaction() as s:
        deal = (await s.scalars(select(Deal).where(Deal.client_id == client_id))).one()
        reason = await s.get(ClassifierItem, deal.loss_reason_id)
        stage = await s.get(Stage, deal.lost_stage_id)
        texts = (await s.scalars(select(Activity.text).where(Activity.client_id == client_id)
                                 .where(Activity.text.is_not(None)))).all()
        planned = (await s.scalars(select(PlannedContact))).all()
    await db.dispose()
    assert deal.status == "lost" and reason is not None and reason.code == "price"
    assert stage is not None and stage.code == "new"
    assert set(texts) >= {"Обсудили цену, думают", "Дорого"}
    assert len(planned) == 1


async def test_the_dashboard_is_served_in_polling_mode_with_public_url(
    api: FakeBotAPI, tmp_path: Path
) -> None:
    """PUBLIC_URL set: `salesbot run` (polling) also starts the web server for the Mini App,
    and the dashboard's API wants Telegram's signed initData."""
    import socket

    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {"PUBLIC_URL": "https://bot.example.com", "WEB_PORT": str(port),
           "WEB_HOST": "127.0.0.1"}
    async with running_bot(api, tmp_path, env), aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{port}"
        async with http.get(f"{base}/app/") as page:
            assert page.status == 200 and "app.js" in await page.text()
        async with http.get(f"{base}/app/api/me") as me:
            assert me.status == 401
        async with http.get(f"{base}/healthz") as health:
            assert health.status == 200
