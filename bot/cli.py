"""`salesbot` command line: run, migrate, seed-demo, backup."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import NoReturn

from bot.config import Settings, SettingsError, load_settings
from bot.logs import RedactSecrets, configure_logging

_redactor = RedactSecrets()


def _settings(*, require_token: bool = False) -> Settings:
    global _redactor
    try:
        settings = load_settings(require_token=require_token)
    except SettingsError as err:
        fail(str(err), 2)
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    _redactor = configure_logging(settings.log_level, [token])
    return settings


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, no traceback: what went wrong is a setting or the network."""
    print(f"salesbot: {_redactor.redact(message)}", file=sys.stderr)
    raise SystemExit(code)


async def _migrate(settings: Settings) -> None:
    from storage.db import Database
    from storage.migrate import upgrade

    db = Database(settings.database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(require_token=True)
    from bot.app import StartupError, run

    if args.no_scheduler and args.scheduler_only:
        fail("--no-scheduler and --scheduler-only exclude each other", 2)
    if args.webhook and args.scheduler_only:
        fail("--webhook and --scheduler-only exclude each other", 2)
    if args.workers < 1:
        fail("--workers must be 1 or more", 2)
    if args.workers > 1 and not args.webhook:
        fail("--workers needs --webhook: several pollers of one bot fight over its updates", 2)
    if args.webhook:
        try:
            settings.webhook()
        except SettingsError as err:
            fail(str(err), 2)
    try:
        if args.workers > 1:
            from bot.app import prepare_workers
            from web.workers import supervise

            asyncio.run(prepare_workers(settings))
            return supervise(args.workers, ["--no-scheduler"] if args.no_scheduler else [])
        asyncio.run(run(settings, polling=not args.scheduler_only,
                        scheduler=not args.no_scheduler, webhook=args.webhook,
                        worker=args.worker))
    except StartupError as err:
        fail(str(err))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    asyncio.run(_migrate(settings))
    print("salesbot: database is up to date")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    settings = _settings()
    from crm.errors import Conflict

    try:
        summary = asyncio.run(_seed_demo(settings))
    except Conflict:
        print("salesbot: the demo data is already there", file=sys.stderr)
        return 1
    print(f"salesbot: demo data created: {summary}")
    return 0


async def _seed_demo(settings: Settings) -> object:
    from bot.factory import crm_config
    from crm.clock import SystemClock
    from crm.demo import seed_demo
    from storage.db import Database
    from storage.migrate import upgrade

    db = Database(settings.database_url)
    try:
        await upgrade(db)
        return await seed_demo(db, crm_config(settings), SystemClock())
    finally:
        await db.dispose()


def cmd_backup(args: argparse.Namespace) -> int:
    settings = _settings()
    from storage.backup import BackupError, backup

    try:
        written = backup(settings.database_url, Path(args.path))
    except BackupError as err:
        print(f"salesbot: {err}", file=sys.stderr)
        return 1
    print(f"salesbot: backup written to {written} ({written.stat().st_size} bytes)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salesbot", description="Salesbot — a field-sales CRM in Telegram."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("run", help="run the bot (long polling); migrates the database first")
    p.add_argument("--no-scheduler", action="store_true",
                   help="do not send reminders and digests from this process")
    p.add_argument("--scheduler-only", action="store_true",
                   help="only send reminders and digests (no polling)")
    p.add_argument("--webhook", action="store_true",
                   help="take updates on a webhook (WEBHOOK_URL, WEBHOOK_SECRET, WEB_HOST, "
                        "WEB_PORT) instead of polling")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="with --webhook: N worker processes on one port (SO_REUSEPORT); "
                        "share PostgreSQL and REDIS_URL")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("seed-demo", help="fill the database with a demo team and clients")
    p.set_defaults(func=cmd_seed_demo)
    p = sub.add_parser("backup", help="copy the SQLite database to PATH (online backup)")
    p.add_argument("path")
    p.set_defaults(func=cmd_backup)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
