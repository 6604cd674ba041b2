"""The logs: quiet by default, and never the bot token or what users typed."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import configure_logging
from tests.e2e import reply_with, running_bot
from tests.fakebotapi import FakeBotAPI

TOKEN = "4242:TOP-secret_token"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("INFO", [TOKEN])
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        yield out
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name in ("apscheduler", "alembic"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_the_token_is_redacted_wherever_a_library_puts_it(captured: io.StringIO) -> None:
    log = logging.getLogger("aiohttp.client")
    log.warning("GET %s failed", f"http://127.0.0.1:1/bot{TOKEN}/getUpdates")
    log.error("url=http://h/bot4242%3ATOP-secret_token/getMe")  # percent-encoded
    try:
        raise ConnectionError(f"cannot connect: /bot{TOKEN}/sendMessage")
    except ConnectionError:
        logging.getLogger("aiogram.dispatcher").exception("Failed to fetch updates")
    text = captured.getvalue()
    assert "TOP-secret_token" not in text and "TOP-secret" not in text
    assert "/bot***/getUpdates" in text and "Failed to fetch updates" in text
    assert "ConnectionError: cannot connect: /bot***/sendMessage" in text  # traceback kept


def test_library_chatter_is_off_unless_debugging(captured: io.StringIO) -> None:
    logging.getLogger("apscheduler.executors.default").info(
        'Running job "Jobs.tick (trigger: interval[0:00:05])"')
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate")
    logging.getLogger("apscheduler.scheduler").warning("Execution of job skipped")
    logging.getLogger("salesbot").info("salesbot started")
    text = captured.getvalue()
    assert "Running job" not in text and "setup plugin" not in text
    assert "Execution of job skipped" in text and "salesbot started" in text
    configure_logging("DEBUG", [TOKEN])
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.DEBUG


@pytest.mark.slow
async def test_a_running_bot_logs_no_token_no_user_text_and_no_tick_lines(
    tmp_path: Path,
) -> None:
    async with FakeBotAPI(token=TOKEN) as api, running_bot(
        api, tmp_path, {"TICK_SECONDS": "0.2", "LOG_LEVEL": "INFO"}
    ):
        stranger = api.user(3003, first_name="Eve", language_code="en")
        stranger.send_text("my card number 4111 1111 1111 1111")
        await reply_with(stranger, "invitation")
        await asyncio.sleep(1.0)  # a few scheduler ticks go by
        log = (tmp_path / "bot.log").read_text()
    assert "salesbot started as @" in log
    assert "TOP-secret" not in log
    assert "4111" not in log
    assert "Running job" not in log and "executed successfully" not in log
    assert "alembic" not in log
