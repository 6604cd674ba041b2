"""A hand-built data set for the funnel and time-use reports (conftest's NOW: Wed 25 Nov
2026, 12:00 in Moscow). Deals carry the stage events crm/deals.py writes, so the figures
are worked out from the history as in production.

North (head Helen): Ivan, Olga. South: Sam. Ann: admin. Stages (0002): new 3 days,
qualified 5, meeting 7, proposal 7, negotiation 10, contract 14.

Ivan:  D1 Pumps 100 000   opened 3 Nov: new → qualified 5 Nov → proposal 10 Nov; open
       D2 Valves 50 000   opened 20 Nov at new; open
       D3 Big order 200 000 opened 2 Nov: new → meeting 4 Nov, won 21 Nov
       D4 Lost one 10 000 opened 6 Nov, lost at new 9 Nov
       D5 October 30 000  opened 1 Oct: new → qualified 11 Oct → negotiation 2 Nov; open
       D9 Edge 5 000      opened 31 Oct 23:30 Moscow (1 Nov in Vladivostok), no history
Olga:  D6 Lead 1 000      opened 24 Nov at new, no history (older data)
       D7 Gone 2 000      opened 10 Oct, lost at new 12 Oct
Sam:   D8 South 7 000     opened 5 Nov at new
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import Database
from storage.models import Activity
from tests.notify_data import add_activity, add_client, add_deal, add_team, add_user
from tests.test_digest import msk

Step = tuple[str, dict[str, Any], datetime]


async def add_history(db: Database, client_id: int, deal_id: int, author_id: int,
                      steps: list[Step]) -> None:
    async with db.transaction() as s:
        for event, details, at in steps:
            s.add(Activity(client_id=client_id, deal_id=deal_id, author_id=author_id,
                           event=event, details=details, occurred_at=at, created_at=at))


def created(at: datetime) -> Step:
    return ("deal_created", {"to": "new"}, at)


def moved(a: str, b: str, at: datetime) -> Step:
    return ("stage_changed", {"from": a, "to": b}, at)


async def build_funnel(db: Database) -> dict[str, int]:
    north = await add_team(db, "North")
    south = await add_team(db, "South")
    ids = {
        "helen": await add_user(db, 9001, "Helen Head", role="head", team_id=north),
        "ivan": await add_user(db, 9002, "Ivan Petrov", team_id=north),
        "olga": await add_user(db, 9003, "Olga Smirnova", team_id=north),
        "sam": await add_user(db, 9005, "Sam South", team_id=south),
        "admin": await add_user(db, 9007, "Ann Admin", role="admin"),
        "far": await add_user(db, 9100, "Far Admin", role="admin", tz="Asia/Vladivostok"),
        "mark": await add_user(db, 9008, "Mark Marketer", role="marketer"),
    }
    ivan, olga, sam = ids["ivan"], ids["olga"], ids["sam"]
    a = await add_client(db, ivan, "Alpha")
    b = await add_client(db, ivan, "Beta")
    o = await add_client(db, olga, "Omega")
    z = await add_client(db, sam, "Zeta")

    d1 = await add_deal(db, a, ivan, "Pumps", 100_000, stage="proposal", opened_at=msk(11, 3),
                        stage_changed_at=msk(11, 10))
    await add_history(db, a, d1, ivan, [created(msk(11, 3)), moved("new", "qualified",
                      msk(11, 5)), moved("qualified", "proposal", msk(11, 10))])
    d2 = await add_deal(db, b, ivan, "Valves", 50_000, opened_at=msk(11, 20))
    await add_history(db, b, d2, ivan, [created(msk(11, 20))])
    d3 = await add_deal(db, a, ivan, "Big order", 200_000, stage="meeting", status="won",
                        opened_at=msk(11, 2), closed_at=msk(11, 21))
    await add_history(db, a, d3, ivan, [created(msk(11, 2)), moved("new", "meeting", msk(11, 4)),
                      ("deal_won", {"stage": "meeting", "amount": "200000"}, msk(11, 21))])
    d4 = await add_deal(db, b, ivan, "Lost one", 10_000, status="lost", opened_at=msk(11, 6),
                        closed_at=msk(11, 9), loss_reason="price")
    await add_history(db, b, d4, ivan, [created(msk(11, 6)),
                      ("deal_lost", {"stage": "new", "reason": "price"}, msk(11, 9))])
    d5 = await add_deal(db, b, ivan, "October", 30_000, stage="negotiation",
                        opened_at=msk(10, 1), stage_changed_at=msk(11, 2))
    await add_history(db, b, d5, ivan, [created(msk(10, 1)), moved("new", "qualified",
                      msk(10, 11)), moved("qualified", "negotiation", msk(11, 2))])
    ids["d9"] = await add_deal(db, a, ivan, "Edge", 5_000, opened_at=msk(10, 31, 23, 30))
    await add_deal(db, o, olga, "Lead", 1_000, opened_at=msk(11, 24))
    d7 = await add_deal(db, o, olga, "Gone", 2_000, status="lost", opened_at=msk(10, 10),
                        closed_at=msk(10, 12), loss_reason="price")
    await add_history(db, o, d7, olga, [created(msk(10, 10)),
                      ("deal_lost", {"stage": "new", "reason": "price"}, msk(10, 12))])
    d8 = await add_deal(db, z, sam, "South", 7_000, opened_at=msk(11, 5))
    await add_history(db, z, d8, sam, [created(msk(11, 5))])
    ids.update(d1=d1, d2=d2, d3=d3, d5=d5, alpha=a, beta=b)
    return ids


async def build_time_use(db: Database) -> dict[str, int]:
    """Typed records around the week 16–22 Nov (Mon–Sun), besides the funnel's events (which
    have no type and do not count)."""
    ids = await build_funnel(db)
    ivan, olga, sam = ids["ivan"], ids["olga"], ids["sam"]
    a, b = ids["alpha"], ids["beta"]
    await add_activity(db, a, ivan, "call", msk(11, 16, 10))
    await add_activity(db, a, ivan, "call", msk(11, 16, 15))
    await add_activity(db, b, ivan, "meeting", msk(11, 18))
    await add_activity(db, b, ivan, "visit", msk(11, 19))
    # Late on Sunday in Moscow, already Monday the 23rd in Vladivostok.
    await add_activity(db, a, ivan, "call", msk(11, 22, 23, 30))
    # Late on Sunday the 15th in Moscow, already the 16th in Vladivostok.
    await add_activity(db, a, ivan, "call", msk(11, 15, 23, 30))
    await add_activity(db, a, ivan, "call", msk(11, 10))
    o = await add_client(db, olga, "Olga's")
    await add_activity(db, o, olga, "email", msk(11, 20, 9))
    await add_activity(db, o, olga, "email", msk(11, 20, 16))
    z = await add_client(db, sam, "Sam's")
    await add_activity(db, z, sam, "call", msk(11, 17))
    return ids
