"""Migrations: Alembic's own command line works with storage/alembic.ini."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def alembic(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "storage" / "alembic.ini"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_alembic_command_line_migrates_the_database_of_database_url(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    done = alembic("upgrade", "head", url=url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    head = alembic("heads", url=url, cwd=tmp_path).stdout.strip()
    assert head.endswith("(head)")
    assert alembic("current", url=url, cwd=tmp_path).stdout.strip() == head
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        stages = conn.execute("SELECT count(*) FROM stages").fetchone()[0]
    assert stages > 0
    done = alembic("downgrade", "base", url=url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert alembic("current", url=url, cwd=tmp_path).stdout.strip() == ""
    assert not (tmp_path / "salesbot.db").exists()  # DATABASE_URL was used, not the default
