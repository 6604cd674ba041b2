"""`salesbot backup`: SQLite's online backup API; PostgreSQL has pg_dump for that."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    pass


def backup(url: str, target: Path, now: datetime | None = None) -> Path:
    """Copy the SQLite database to `target`; into a directory, as
    salesbot-YYYYmmdd-HHMMSS.db (UTC). Returns the file written."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            "backup works for SQLite only; for PostgreSQL use pg_dump, e.g. "
            "pg_dump -Fc -f salesbot.dump DBNAME"
        )
    source = parsed.database
    if not source or source == ":memory:" or not Path(source).exists():
        raise BackupError(f"database file not found: {source}")
    if target.is_dir():
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        target = target / f"salesbot-{stamp}.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        # The online backup copies a consistent snapshot even while the bot is writing.
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target
