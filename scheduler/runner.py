"""Wires the scheduler: the limiter, the sender, the jobs, and APScheduler 3 running them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from crm.service import CRM
from scheduler.jobs import Jobs
from scheduler.limiter import RateLimiter
from scheduler.mailing import MailingProgress
from scheduler.sender import Sender, SenderConfig

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 60


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    tick_seconds: float = 5.0
    rate_limit_global: float = 25.0
    rate_limit_per_chat: float = 1.0
    batch: int = 100
    sender: SenderConfig = field(default_factory=SenderConfig)


class SchedulerRunner:
    def __init__(self, crm: CRM, bot: Bot, i18n: I18n, config: RunnerConfig) -> None:
        self.config = config
        self.limiter = RateLimiter(config.rate_limit_global, config.rate_limit_per_chat)
        self.sender = Sender(crm, bot, i18n, self.limiter, config.sender)
        self.jobs = Jobs(crm, self.sender, batch=config.batch, poll=config.tick_seconds)
        self.jobs.mailings = MailingProgress(crm, bot, i18n, self.limiter)
        self.scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        # A tick still running makes the next one return at once (Jobs.tick), so several
        # instances are allowed rather than APScheduler warning at every skipped run.
        self.scheduler.add_job(
            self.jobs.tick, "interval", seconds=self.config.tick_seconds, id="tick",
            next_run_time=datetime.now(UTC), max_instances=3, coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(
            self.jobs.housekeeping, "interval", seconds=HOUSEKEEPING_SECONDS,
            id="housekeeping", max_instances=1, coalesce=True, misfire_grace_time=None,
        )
        self.scheduler.start()
        log.info("scheduler started: tick every %ss, %s msg/s, %s msg/s per chat",
                 self.config.tick_seconds, self.config.rate_limit_global,
                 self.config.rate_limit_per_chat)

    async def stop(self) -> None:
        running = self.scheduler.running
        if running:
            self.scheduler.shutdown(wait=False)
        await self.jobs.stop()
        if running:
            log.info("scheduler stopped")
