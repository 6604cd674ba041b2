"""Running `salesbot run` as a subprocess against the fake Bot API server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.fakebotapi import FakeBotAPI, inline_buttons
from tests.fakebotapi.server import FakeUser
from tests.notify_data import die_with_parent


def salesbot_command() -> list[str]:
    script = shutil.which("salesbot", path=str(Path(sys.executable).parent))
    return [script, "run"] if script else [sys.executable, "-m", "bot.cli", "run"]


@asynccontextmanager
async def running_bot(
    api: FakeBotAPI, workdir: Path, env: Mapping[str, str] | None = None,
    args: list[str] | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start `salesbot run` in `workdir` and wait until it long-polls; kill it on exit."""
    full_env = {
        **os.environ,
        "BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'salesbot.db'}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log = (workdir / "bot.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        *salesbot_command(), *(args or []), cwd=workdir, env=full_env, stdout=log,
        stderr=asyncio.subprocess.STDOUT, preexec_fn=die_with_parent,
    )
    exited = asyncio.ensure_future(proc.wait())
    try:
        polling = asyncio.ensure_future(
            api.wait_for(lambda: api.polling > 0, timeout=60, what="the bot to start polling")
        )
        await asyncio.wait({polling, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done() or not polling.done() or polling.exception() is not None:
            polling.cancel()
            raise AssertionError("salesbot did not start:\n" + read_log(workdir))
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await exited
        log.close()


async def stop(proc: asyncio.subprocess.Process, timeout: float = 20) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        return await proc.wait()


def read_log(workdir: Path) -> str:
    return (workdir / "bot.log").read_text(errors="replace")[-3000:]


def press(user: FakeUser, part: str) -> Any:
    """Press the button whose label contains `part`, in the newest message that has one."""
    for msg in reversed(user.chat.messages):
        for label, data in inline_buttons(msg):
            if part in label and data is not None:
                return user.press(msg, data)
    seen = [label for m in user.chat.messages for label, _ in inline_buttons(m)]
    raise AssertionError(f"no button with {part!r}; buttons: {seen}")


async def reply_with(user: FakeUser, part: str, timeout: float = 10) -> dict[str, Any]:
    """Wait for a bot message (new or edited) whose text contains `part`."""
    while True:
        message = await user.wait_reply(timeout)
        if part in (message.get("text") or message.get("caption") or ""):
            return message
