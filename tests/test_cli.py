"""The `salesbot` command line: help, settings errors, migrate, backup."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings
from tests.e2e import salesbot_command
from tests.fakebotapi import FakeBotAPI

# Every test here starts `salesbot` as a process of its own.
pytestmark = pytest.mark.slow


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("BOT_TOKEN", "DATABASE_URL", "ADMIN_IDS", "DEFAULT_TIMEZONE")}
    cmd = salesbot_command()[:-1] + args
    return subprocess.run(cmd, cwd=cwd, env={**base, **env}, capture_output=True, text=True,
                          timeout=120, check=False)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    out = run_cli(["--help"], tmp_path)
    assert out.returncode == 0
    for cmd in ("run", "migrate", "seed-demo", "backup"):
        assert cmd in out.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": ""}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "1:a", "DIGEST_TIME": "25:00"}, "DIGEST_TIME is invalid"),
        ({"BOT_TOKEN": "1:a", "LOG_LEVEL": "loud"}, "LOG_LEVEL is invalid"),
        ({"BOT_TOKEN": "1:a", "TELEGRAM_API_URL": "127.0.0.1:8081"},
         "TELEGRAM_API_URL is invalid"),
        ({"BOT_TOKEN": "nonsense"}, "BOT_TOKEN is invalid"),
        ({"BOT_TOKEN": "1:a", "ADMIN_IDS": "12,abc"}, "ADMIN_IDS is invalid: 'abc'"),
        ({"BOT_TOKEN": "1:a", "DEFAULT_TIMEZONE": "Mars/Olympus"}, "DEFAULT_TIMEZONE is invalid"),
        ({"BOT_TOKEN": "1:a", "DATABASE_URL": "mysql://x"}, "DATABASE_URL is invalid"),
    ],
)
def test_bad_settings_stop_with_one_clear_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    out = run_cli(["run"], tmp_path, **env)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert expected in out.stderr and "Traceback" not in out.stderr


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("BOT_TOKEN", "ADMIN_IDS", "CURRENCY"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / ".env").write_text("BOT_TOKEN=42:XYZ\nADMIN_IDS=1, 2\nCURRENCY=eur\n")
    settings = load_settings()
    assert settings.admin_ids == (1, 2) and settings.currency == "EUR"
    (tmp_path / ".env").write_text("BOT_TOKEN=42:XYZ\nINVITE_TTL_DAYS=0\n")
    with pytest.raises(SettingsError, match="INVITE_TTL_DAYS"):
        load_settings()


def test_settings_keep_the_token_out_of_sight_and_parse_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "BOT_TOKEN=42:TOP-SECRET\nDIGEST_TIME=08:30\nDEFAULT_TIMEZONE=Asia/Yekaterinburg\n"
        "LOG_LEVEL=debug\n")
    for key in ("BOT_TOKEN", "DIGEST_TIME", "DEFAULT_TIMEZONE", "LOG_LEVEL"):
        monkeypatch.delenv(key, raising=False)
    settings = load_settings(require_token=True)
    assert "TOP-SECRET" not in repr(settings) and "TOP-SECRET" not in str(settings)
    assert settings.token() == "42:TOP-SECRET"
    assert (settings.digest_time.hour, settings.digest_time.minute) == (8, 30)
    assert settings.default_timezone.key == "Asia/Yekaterinburg"
    assert settings.log_level == "DEBUG"
    (tmp_path / ".env").write_text("")
    assert load_settings().bot_token is None  # enough for migrate, seed-demo, backup
    with pytest.raises(SettingsError, match="BOT_TOKEN is not set"):
        load_settings(require_token=True)


def test_migrate_then_backup_copies_a_consistent_database(tmp_path: Path) -> None:
    db = tmp_path / "salesbot.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{db}"}  # no BOT_TOKEN: not needed here
    out = run_cli(["migrate"], tmp_path, **env)
    assert out.returncode == 0, out.stderr
    out = run_cli(["backup", str(tmp_path / "copy.db")], tmp_path, **env)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        stages = conn.execute("SELECT count(*) FROM stages").fetchone()[0]
    assert stages == 6
    pg = run_cli(["backup", "x.db"], tmp_path, BOT_TOKEN="1:a",
                 DATABASE_URL="postgresql+asyncpg://u@127.0.0.1/db")
    assert pg.returncode == 1 and "pg_dump" in pg.stderr


def test_backup_into_a_directory_names_the_file_it_wrote(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'salesbot.db'}"}
    assert run_cli(["migrate"], tmp_path, **env).returncode == 0
    (tmp_path / "backups").mkdir()
    out = run_cli(["backup", "backups"], tmp_path, **env)
    assert out.returncode == 0, out.stderr
    [written] = (tmp_path / "backups").iterdir()
    assert re.fullmatch(r"salesbot-\d{8}-\d{6}\.db", written.name)
    assert f"backup written to {Path('backups') / written.name} (" in out.stdout
    with sqlite3.connect(written) as conn:
        assert conn.execute("SELECT count(*) FROM stages").fetchone()[0] == 6


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bot.cli", "--help"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and "seed-demo" in out.stdout


def test_seed_demo_fills_a_fresh_database_once(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{db}"}  # no BOT_TOKEN: not needed here
    out = run_cli(["seed-demo"], tmp_path, **env)
    assert out.returncode == 0, out.stderr
    assert "30 clients" in out.stdout
    again = run_cli(["seed-demo"], tmp_path, **env)
    assert again.returncode == 1 and "already there" in again.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 30


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_one_line(out: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith("salesbot: ") and out.stderr.strip().count("\n") == 0, \
        out.stderr
    assert "Traceback" not in out.stderr
    for part in expected:
        assert part in out.stderr, out.stderr


def test_telegram_out_of_reach_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    out = run_cli(["run"], tmp_path, BOT_TOKEN="123456:SECRET-token",
                  TELEGRAM_API_URL=url, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert_one_line(out, "cannot reach Telegram", url, "TELEGRAM_API_URL")
    assert "SECRET-token" not in out.stderr


async def test_a_token_telegram_rejects_is_one_line(tmp_path: Path) -> None:
    async with FakeBotAPI(token="123:RIGHT") as api:
        env = {**{k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL")},
               "BOT_TOKEN": "123:WRONG-secret", "TELEGRAM_API_URL": api.base_url,
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
        proc = await asyncio.create_subprocess_exec(
            *salesbot_command(), cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
        assert [r.method for r in api.requests] == ["getMe"]
    out = subprocess.CompletedProcess([], proc.returncode or 0, stdout.decode(), stderr.decode())
    assert_one_line(out, "rejected BOT_TOKEN (401 Unauthorized)")
    assert "WRONG-secret" not in out.stderr
