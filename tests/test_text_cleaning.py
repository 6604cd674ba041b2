"""Text PostgreSQL refuses (NUL, lone surrogates) and other control characters never reach the
database: the text columns clean what they store (storage.types.CleanString)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.factory import create_dispatcher
from crm.service import CRM
from storage.models import Activity, Client
from storage.types import clean_text
from tests.factories import person
from tests.harness import Harness, TgUser, button, last_text, make_bot, texts

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")


@pytest.fixture
async def any_harness(any_crm: CRM) -> AsyncIterator[Harness]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="ru")
    yield Harness(dp=dp, bot=bot, session=session)
    await bot.session.close()


def _kept(ch: str) -> bool:
    return ch in "\t\n" or (ord(ch) >= 32 and not 0xD800 <= ord(ch) <= 0xDFFF)


@given(st.text(st.characters(exclude_categories=())))
def test_clean_text_drops_controls_and_surrogates_and_keeps_the_rest(value: str) -> None:
    cleaned = clean_text(value)
    assert cleaned == "".join(ch for ch in value if _kept(ch))
    cleaned.encode("utf-8")  # what asyncpg does: no lone surrogate left to fail on
    assert clean_text(cleaned) == cleaned


async def test_nul_in_a_client_name_and_a_comment_is_saved_without_it(
    any_harness: Harness, any_crm: CRM
) -> None:
    await person(any_crm, MAX.id, "Max Sokolov")
    harness = any_harness
    await harness.send(MAX, "/new")
    calls = await harness.send(MAX, "Acme\x00 Ltd\x1b")
    assert "Phone" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Skip"))
    for _ in range(3):  # region, industry, source
        calls = await harness.press(MAX, button(calls, "Skip"))
    await harness.send(MAX, "Saw us\x00 at the expo")
    calls = await harness.send(MAX, "50")
    assert "Acme Ltd" in last_text(calls)

    calls = await harness.send(MAX, "acme\x00")
    assert "Acme Ltd" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Log contact"))
    calls = await harness.press(MAX, button(calls, "Call"))
    calls = await harness.press(MAX, button(calls, "Reached"))
    calls = await harness.send(MAX, "Price\x00 list\tsent\nwants a demo")
    assert "What is the next step?" in last_text(calls)
    assert not [t for t in texts(harness.session.calls) if "went wrong" in t]

    async with any_crm.db.transaction() as s:
        stored = (await s.execute(select(Client.name, Client.trigger_event))).one()
        comment = (await s.execute(select(Activity.text).where(Activity.text.is_not(None))
                                   )).scalar_one()
    assert tuple(stored) == ("Acme Ltd", "Saw us at the expo")
    assert comment == "Price list\tsent\nwants a demo"


async def test_a_search_with_nul_answers_normally(any_harness: Harness, any_crm: CRM) -> None:
    await person(any_crm, MAX.id, "Max Sokolov")
    for query in ("\x00", "zzz\x00", "\x00\x00 acme"):
        calls = await any_harness.send(MAX, query)
        assert texts(calls)
        assert not [t for t in texts(calls) if "went wrong" in t]
    assert "Nothing found" in last_text(await any_harness.send(MAX, "zzz\x00"))
