"""Logging for the `salesbot` commands: quiet by default, and no secret in any line.

aiohttp and aiogram put the request URL — which holds the bot token — into some of their
messages and exceptions, so every record passes through `RedactSecrets` on its way out,
whoever logged it, tracebacks included.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import quote

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that say at INFO what only matters when something is being debugged:
# APScheduler a line per job run, Alembic its context and plugins at every start.
CHATTY = ("apscheduler", "alembic")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets: list[str] = []
        for secret in secrets:
            if secret:
                self.secrets += [secret, quote(secret, safe="")]
        self.secrets = sorted(set(self.secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str = "INFO", secrets: Iterable[str | None] = ()) -> RedactSecrets:
    """One stderr handler on the root logger, filtered; returns the filter for reuse."""
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in CHATTY:
        logging.getLogger(name).setLevel(quiet)
    return redactor
