"""Funnel and stages against a hand-built data set (tests/report_funnel_data.py), the
viewer's time zone at the period's edge, the spreadsheet cell by cell, the chart, and the
drill-down to a stalled deal and back to the report through the real dispatcher."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from crm.reports.funnel import FunnelReport
from crm.reports.period import Period, PeriodKind
from crm.reports.scope import ScopeKind
from crm.service import CRM
from tests.notify_data import actor
from tests.report_funnel_data import build_funnel

NOVEMBER = Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 25))
D = Decimal


def by_code(r: FunnelReport) -> dict[str, object]:
    return {x.stage.code: x for x in r.stages}


async def test_funnel_of_a_team(any_crm: CRM) -> None:
    ids = await build_funnel(any_crm.db)
    r = await any_crm.reports.funnel(await actor(any_crm.db, ids["helen"]), NOVEMBER)
    assert (r.audience.kind, r.audience.team_name, r.as_of) == (ScopeKind.TEAM, "North",
                                                                 date(2026, 11, 25))
    assert r.previous == Period(PeriodKind.MONTH, date(2026, 10, 1), date(2026, 10, 25))
    codes = [x.stage.code for x in r.stages]
    assert codes == ["new", "qualified", "meeting", "proposal", "negotiation", "contract"]
    assert [(x.open_count, x.open_amount) for x in r.stages] == [
        (3, D(56000)), (0, D(0)), (0, D(0)), (1, D(100000)), (1, D(30000)), (0, D(0))]
    assert (r.open_count, r.open_amount) == (5, D(186000))
    assert (r.opened, r.won, r.previous_opened, r.previous_won) == (5, 1, 2, 0)
    assert [x.reached for x in r.stages] == [5, 2, 2, 2, 1, 1]
    assert [x.previous_reached for x in r.stages] == [2, 1, 1, 1, 1, 0]
    assert [x.conversion for x in r.stages] == [None, D("40.0"), D("100.0"), D("100.0"),
                                                D("50.0"), D("100.0")]
    assert r.won_conversion == D("100.0")
    assert [(x.avg_days, x.stays, x.previous_avg_days) for x in r.stages[:3]] == [
        (D("2.3"), 3, D("6.0")), (D("13.5"), 2, None), (D("17.0"), 1, None)]
    assert [x.stalled for x in r.stages] == [2, 0, 0, 1, 1, 0]
    assert r.stalled_count == 4
    assert [(x.title, x.days_in_stage, x.over_by, x.manager) for x in r.stalled] == [
        ("Edge", 24, 21, "Ivan Petrov"), ("October", 23, 13, "Ivan Petrov"),
        ("Pumps", 15, 8, "Ivan Petrov"), ("Valves", 5, 2, "Ivan Petrov")]


async def test_funnel_edges_follow_the_viewers_time_zone(any_crm: CRM) -> None:
    """31 Oct 23:30 in Moscow is 1 Nov in Vladivostok: the "Edge" deal is opened in November
    there; Sam's deal counts for an admin of everyone."""
    ids = await build_funnel(any_crm.db)
    far = await any_crm.reports.funnel(await actor(any_crm.db, ids["far"]), NOVEMBER)
    assert far.audience.kind is ScopeKind.ALL
    assert (far.opened, far.stages[0].reached) == (7, 7)
    moscow = await any_crm.reports.funnel(await actor(any_crm.db, ids["admin"]), NOVEMBER)
    assert (moscow.opened, moscow.stages[0].reached) == (6, 6)


async def test_a_manager_sees_only_their_own(crm: CRM) -> None:
    ids = await build_funnel(crm.db)
    r = await crm.reports.funnel(await actor(crm.db, ids["olga"]), NOVEMBER)
    assert r.audience.kind is ScopeKind.OWN
    assert (r.opened, r.open_count, r.open_amount, r.stalled_count) == (1, 1, D(1000), 0)
    assert r.previous_opened == 1
