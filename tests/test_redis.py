"""Several bot workers share conversation state through Redis (DESIGN.md: scale-out)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from bot.factory import create_dispatcher, create_storage
from crm.service import CRM
from tests.factories import client, person
from tests.harness import Harness, TgUser, button, last_text, make_bot

REDIS_URL = os.environ.get("TEST_REDIS_URL")

pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="TEST_REDIS_URL is not set: the Redis tests need a server"
)


@pytest.fixture
async def workers(crm: CRM) -> AsyncIterator[tuple[Harness, Harness]]:
    assert REDIS_URL
    storages = [create_storage(REDIS_URL), create_storage(REDIS_URL)]
    made = []
    for storage in storages:
        bot, session = make_bot()
        made.append(Harness(create_dispatcher(crm, storage=storage), bot, session))
    # Only this test's keys: the database holds nothing else of ours.
    redis = storages[0].redis  # type: ignore[attr-defined]
    await redis.flushdb()
    yield made[0], made[1]
    await redis.flushdb()
    for storage in storages:
        await storage.close()


async def test_a_form_started_on_one_worker_finishes_on_another(
    workers: tuple[Harness, Harness], crm: CRM
) -> None:
    first, second = workers
    max_ = TgUser(2002, "Max", None, language_code="en")
    actor = await person(crm, max_.id, "Max")
    await client(crm, actor, "Ромашка")
    await first.send(max_, "/new")
    assert "Phone" in last_text(await second.send(max_, "Василёк"))
    assert "Region" in last_text(await first.send(max_, "+7 916 000-00-01"))
    # The search query kept by one worker pages on the other.
    for i in range(10):
        await client(crm, actor, f"Ромашка {i}")
    await first.send(max_, "/cancel")
    calls = await first.send(max_, "ромашка")
    assert "Found 11" in last_text(calls)
    calls = await second.press(max_, button(calls, "›"))
    assert "Found 11" in last_text(calls)
