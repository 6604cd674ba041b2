"""A hand-built client base for the client-list tests (NOW is Wed 25 Nov 2026, 12:00 in
Moscow): two teams, a head, three managers, an admin and a marketer; clients set up so each
criterion of a filter picks a different few."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from storage.db import Database
from storage.models import Client
from tests.conftest import NOW
from tests.notify_data import (
    add_activity,
    add_deal,
    add_invoice,
    add_planned,
    add_team,
    add_user,
    item_id,
)


async def add_client(db: Database, owner_id: int | None, name: str, *,
                     created: datetime = datetime(2026, 6, 1, tzinfo=UTC),
                     **values: Any) -> int:
    async with db.transaction() as s:
        client = Client(name=name, name_norm=name.lower(), search_text=name.lower(),
                        phones="+79001234567", owner_id=owner_id, created_at=created,
                        updated_at=created, **values)
        s.add(client)
        await s.flush()
        return client.id


async def build(db: Database, *, head_locale: str = "en") -> dict[str, int]:
    north = await add_team(db, "North")
    south = await add_team(db, "South")
    ids = {
        "north": north,
        "helen": await add_user(db, 9001, "Helen Head", role="head", team_id=north,
                                locale=head_locale),
        "ivan": await add_user(db, 9002, "Ivan Petrov", team_id=north),
        "olga": await add_user(db, 9003, "Olga Smirnova", team_id=north),
        "sam": await add_user(db, 9005, "Sam South", team_id=south),
        "admin": await add_user(db, 9007, "Ann Admin", role="admin"),
        "mark": await add_user(db, 9008, "Mark Marketer", role="marketer"),
    }
    moscow = await item_id(db, "region", "moscow")
    spb = await item_id(db, "region", "spb")
    retail = await item_id(db, "industry", "retail")
    small = await item_id(db, "segment", "small")
    website = await item_id(db, "source", "website")
    ids.update(moscow=moscow, spb=spb, retail=retail)
    ivan, olga, sam = ids["ivan"], ids["olga"], ids["sam"]
    # Alpha: Moscow retail, 60 %, an open proposal, contacted 3 days ago, a call planned.
    a = await add_client(db, ivan, "Alpha", region_id=moscow, industry_id=retail,
                         segment_id=small, source_id=website, probability=60,
                         created=datetime(2026, 11, 10, 8, tzinfo=UTC))
    await add_deal(db, a, ivan, "Pumps", 100_000, stage="proposal")
    await add_activity(db, a, ivan, "call", NOW - timedelta(days=3))
    await add_planned(db, a, ivan, NOW + timedelta(days=1))
    # Beta: Moscow, 20 %, never contacted, nothing planned, an invoice overdue.
    b = await add_client(db, ivan, "Beta", region_id=moscow, probability=20)
    d = await add_deal(db, b, ivan, "Valves", 50_000, stage="contract")
    await add_invoice(db, d, 50_000, date(2026, 11, 20))
    # Gamma (Olga): St Petersburg, contacted 40 days ago, only a done plan; a paid invoice
    # past its date is not overdue.
    c = await add_client(db, olga, "Gamma", region_id=spb, probability=90,
                         created=datetime(2026, 10, 31, 21, 30, tzinfo=UTC))  # 1 Nov, Moscow
    await add_activity(db, c, olga, "email", NOW - timedelta(days=40))
    await add_planned(db, c, olga, NOW - timedelta(days=2), status="done")
    d = await add_deal(db, c, olga, "Paid", 10_000, stage="contract")
    await add_invoice(db, d, 10_000, date(2026, 11, 1), status="paid")
    # Delta (Sam, the other team): Moscow, an open proposal.
    dd = await add_client(db, sam, "Delta", region_id=moscow)
    await add_deal(db, dd, sam, "Sam's deal", 5_000, stage="proposal")
    # Echo: Ivan's Moscow client, archived — never in any list.
    e = await add_client(db, ivan, "Echo", region_id=moscow, is_deleted=True)
    await add_deal(db, e, ivan, "Gone", 1_000, stage="proposal")
    ids.update(alpha=a, beta=b, gamma=c, delta=dd, echo=e)
    return ids
