"""The reports, one service per report, under one name for the bot: crm.reports.<kind>."""

from __future__ import annotations

from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.coverage import CoverageReport, CoverageService
from crm.reports.dynamics import DynamicsReport, DynamicsService
from crm.reports.forecast import ForecastReport, ForecastService
from crm.reports.funnel import FunnelReport, FunnelService
from crm.reports.losses import LossReport, LossService
from crm.reports.marketing import MarketingReport, MarketingService
from crm.reports.period import Period
from crm.reports.receivables import ReceivablesReport, ReceivablesService
from crm.reports.results import ManagerDeals, ResultsReport, ResultsService
from crm.reports.timeuse import TimeUseReport, TimeUseService
from storage.db import Database


class Reports:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self._results = ResultsService(db, clock, config)
        self._losses = LossService(db, clock, config)
        self._receivables = ReceivablesService(db, clock, config)
        self._coverage = CoverageService(db, clock, config)
        self._dynamics = DynamicsService(db, clock, config)
        self._forecast = ForecastService(db, clock, config)
        self._funnel = FunnelService(db, clock, config)
        self._time_use = TimeUseService(db, clock, config)
        self._marketing = MarketingService(db, clock, config)

    async def results(self, actor: Actor, period: Period,
                      team_id: int | None = None) -> ResultsReport:
        return await self._results.results(actor, period, team_id)

    async def manager_deals(self, actor: Actor, user_id: int,
                            team_id: int | None = None) -> ManagerDeals:
        """A results row's drill-down (the Mini App): the manager's open deals."""
        return await self._results.manager_deals(actor, user_id, team_id)

    async def losses(self, actor: Actor, period: Period,
                     team_id: int | None = None) -> LossReport:
        return await self._losses.losses(actor, period, team_id)

    async def receivables(self, actor: Actor, team_id: int | None = None) -> ReceivablesReport:
        return await self._receivables.receivables(actor, team_id)

    async def coverage(self, actor: Actor, team_id: int | None = None) -> CoverageReport:
        return await self._coverage.coverage(actor, team_id)

    async def dynamics(self, actor: Actor, period: Period,
                       team_id: int | None = None) -> DynamicsReport:
        """`period` as made by crm.reports.dynamics.span(): its kind is the granularity."""
        return await self._dynamics.dynamics(actor, period, team_id)

    async def forecast(self, actor: Actor, team_id: int | None = None) -> ForecastReport:
        return await self._forecast.forecast(actor, team_id)
    async def funnel(self, actor: Actor, period: Period,
                     team_id: int | None = None) -> FunnelReport:
        return await self._funnel.funnel(actor, period, team_id)

    async def time_use(self, actor: Actor, period: Period,
                       team_id: int | None = None) -> TimeUseReport:
        return await self._time_use.time_use(actor, period, team_id)

    async def marketing(self, actor: Actor, period: Period,
                        team_id: int | None = None) -> MarketingReport:
        return await self._marketing.marketing(actor, period, team_id)
