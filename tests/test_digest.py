"""The digest's figures against a hand-built data set (conftest's NOW: Wed 25 Nov 2026,
12:00 in Moscow; the period is the seven days 18–24 Nov, Moscow time)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.charts import digest_chart
from bot.i18n import create_i18n
from bot.keyboards.reminders import DigestCD, digest_kb
from bot.notices import digest_parts, overdue_list_text, stalled_text
from crm.digest import Digest, Figures
from crm.errors import Forbidden, NotAvailable
from crm.service import CRM
from scheduler.sender import in_locale
from storage.db import Database
from tests.notify_data import (
    actor,
    add_activity,
    add_client,
    add_deal,
    add_invoice,
    add_payment,
    add_planned,
    add_team,
    add_user,
)

MSK = ZoneInfo("Europe/Moscow")


def msk(mo: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=MSK).astimezone(UTC)


async def build(db: Database) -> dict[str, int]:
    north = await add_team(db, "North")
    south = await add_team(db, "South")
    ids = {
        "helen": await add_user(db, 9001, "Helen Head", role="head", team_id=north),
        "ivan": await add_user(db, 9002, "Ivan Petrov", team_id=north),
        "olga": await add_user(db, 9003, "Olga Smirnova", team_id=north),
        "vera": await add_user(db, 9004, "Vera Away", team_id=north, vacation=True),
        "sam": await add_user(db, 9005, "Sam South", team_id=south),
        "sid": await add_user(db, 9006, "Sid Head", role="head", team_id=south),
        "admin": await add_user(db, 9007, "Ann Admin", role="admin"),
        "mark": await add_user(db, 9008, "Mark Marketer", role="marketer"),
    }
    ivan, olga, sam = ids["ivan"], ids["olga"], ids["sam"]
    a = await add_client(db, ivan, "Alpha")
    b = await add_client(db, ivan, "Beta")
    c = await add_client(db, ivan, "Gamma")
    # Ivan's contacts: in the period 3 calls and a meeting; one before, one today; an event.
    for when in (msk(11, 19), msk(11, 20), msk(11, 24, 23, 30)):
        await add_activity(db, a, ivan, "call", when)
    await add_activity(db, b, ivan, "meeting", msk(11, 22))
    await add_activity(db, a, ivan, "call", msk(11, 17, 23, 0))
    await add_activity(db, a, ivan, "call", msk(11, 25, 10))
    # Deals.
    d1 = await add_deal(db, a, ivan, "Pumps", 100_000, stage="proposal", opened_at=msk(11, 1),
                        expected_close=date(2026, 12, 15), stage_changed_at=msk(11, 10),
                        last_activity_at=msk(11, 12))
    ids["d1"] = d1
    await add_deal(db, a, ivan, "Valves", 50_000, stage="new", opened_at=msk(11, 20),
                   probability=50, last_activity_at=msk(11, 24, 10))
    d3 = await add_deal(db, c, ivan, "Big order", 200_000, status="won", opened_at=msk(11, 1),
                        closed_at=msk(11, 21))
    await add_deal(db, c, ivan, "Old win", 70_000, status="won", opened_at=msk(9, 1),
                   closed_at=msk(10, 1))
    await add_deal(db, c, ivan, "Lost 1", 10_000, status="lost", opened_at=msk(11, 18, 10),
                   closed_at=msk(11, 19), loss_reason="price")
    await add_deal(db, c, ivan, "Lost 2", 10_000, status="lost", opened_at=msk(11, 1),
                   closed_at=msk(11, 23), loss_reason="price")
    await add_deal(db, c, ivan, "Lost 3", 10_000, status="lost", opened_at=msk(11, 1),
                   closed_at=msk(11, 24), loss_reason="competitor")
    await add_deal(db, c, ivan, "Lost long ago", 10_000, status="lost", opened_at=msk(10, 1),
                   closed_at=msk(11, 10), loss_reason="no_budget")
    # Planned contacts: one overdue, one ahead, one overdue but done.
    await add_planned(db, b, ivan, msk(11, 24, 10))
    await add_planned(db, a, ivan, msk(11, 26, 10))
    await add_planned(db, c, ivan, msk(11, 20, 10), status="done")
    # Invoices: 50 000 overdue (partly paid), 30 000 not yet due, a cancelled and a paid one.
    inv1 = await add_invoice(db, d3, 200_000, date(2026, 11, 20), number="A-1")
    await add_payment(db, inv1, 150_000, date(2026, 11, 19))
    await add_invoice(db, d1, 30_000, date(2026, 11, 30))
    await add_invoice(db, d3, 10_000, date(2026, 11, 1), status="cancelled")
    inv4 = await add_invoice(db, d3, 20_000, date(2026, 11, 24))
    await add_payment(db, inv4, 20_000, date(2026, 11, 24))
    # Olga: six clients with a fresh-lead deal each, untouched since 1 Nov; two e-mails.
    for i in range(6):
        cid = await add_client(db, olga, f"Olga client {i}")
        await add_deal(db, cid, olga, f"Lead {i}", 1000, stage="new", opened_at=msk(11, 1))
    await add_activity(db, cid, olga, "email", msk(11, 23, 9))
    await add_activity(db, cid, olga, "email", msk(11, 23, 15))
    # Sam is in another team.
    s1 = await add_client(db, sam, "South client")
    await add_activity(db, s1, sam, "call", msk(11, 21))
    return ids


def by_name(d: Digest) -> dict[str, Figures]:
    return {f.name.split()[0]: f for f in d.managers}


def counts(items: list) -> dict[str, int]:  # type: ignore[type-arg]
    return {x.label.code: x.count for x in items}


async def test_team_digest_figures(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    d = await any_crm.digest.for_actor(await actor(any_crm.db, ids["helen"]))
    assert (d.scope, d.team_name, d.start, d.end) == (
        "team", "North", date(2026, 11, 18), date(2026, 11, 24))
    assert list(by_name(d)) == ["Ivan", "Olga", "Vera"]
    ivan, olga, vera = by_name(d).values()
    assert counts(ivan.contacts) == {"call": 3, "meeting": 1} and ivan.contacts_total == 4
    assert ivan.clients_in_work == 2 and ivan.alarm == "few"
    assert (ivan.won_count, ivan.won_amount) == (1, Decimal("200000.00"))
    assert ivan.lost_count == 3 and counts(ivan.loss_reasons) == {"price": 2, "competitor": 1}
    assert [r.label.code for r in ivan.loss_reasons] == ["price", "competitor"]
    assert ivan.new_deals == 2
    assert [(m.month, m.amount) for m in ivan.forecast] == [
        (date(2026, 12, 1), Decimal("60000.00")), (None, Decimal("25000.00"))]
    assert ivan.forecast_total == Decimal("85000.00")
    assert ivan.stalled == 1 and ivan.overdue_planned == 1
    assert (ivan.receivables, ivan.overdue_receivables, ivan.overdue_invoices) == (
        Decimal("80000.00"), Decimal("50000.00"), 1)
    assert ivan.avg_deal_days == 25.0
    assert counts(olga.contacts) == {"email": 2}
    assert olga.clients_in_work == 6 and olga.alarm is None
    assert olga.stalled == 6 and olga.forecast_total == Decimal("600.00")
    assert olga.avg_deal_days is None and olga.receivables == 0
    assert vera.on_vacation and vera.contacts_total == 0 and vera.alarm == "few"
    total = d.total
    assert total is not None
    assert counts(total.contacts) == {"call": 3, "email": 2, "meeting": 1}
    assert (total.clients_in_work, total.won_count, total.lost_count, total.stalled) == (
        8, 1, 3, 7)
    assert total.forecast_total == Decimal("85600.00") and total.alarm is None
    assert [n for _, n in d.daily] == [0, 1, 1, 0, 1, 2, 1]
    assert [(p.stage.code, p.count, p.amount) for p in d.pipeline] == [
        ("new", 7, Decimal("56000.00")), ("proposal", 1, Decimal("100000.00"))]


async def test_who_gets_which_digest(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    own = await any_crm.digest.for_actor(await actor(any_crm.db, ids["ivan"]))
    assert own.scope == "own" and [f.name for f in own.managers] == ["Ivan Petrov"]
    assert own.total is None and own.managers[0].contacts_total == 4
    south = await any_crm.digest.for_actor(await actor(any_crm.db, ids["sid"]))
    assert [f.name for f in south.managers] == ["Sam South"]
    everyone = await any_crm.digest.for_actor(await actor(any_crm.db, ids["admin"]))
    assert everyone.scope == "all" and len(everyone.managers) == 4
    with pytest.raises(Forbidden):
        await any_crm.digest.for_actor(await actor(any_crm.db, ids["mark"]))
    scheduled = await any_crm.digest.for_user(ids["helen"])
    assert scheduled is not None and scheduled.scope == "team"


async def test_drill_down_respects_the_team(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    helen = await actor(any_crm.db, ids["helen"])
    stalled = await any_crm.digest.stalled_deals(helen, ids["ivan"])
    assert [(s.title, s.stage.code, s.idle_days) for s in stalled] == [("Pumps", "proposal", 13)]
    overdue = await any_crm.digest.overdue_invoices(helen, ids["ivan"])
    assert [(i.number, i.owed, i.days) for i in overdue] == [("A-1", Decimal("50000.00"), 5)]
    ivan = await actor(any_crm.db, ids["ivan"])
    assert len(await any_crm.digest.stalled_deals(ivan, ids["ivan"])) == 1
    for who, whom in (("ivan", "olga"), ("sid", "ivan"), ("olga", "ivan")):
        with pytest.raises(NotAvailable):
            await any_crm.digest.stalled_deals(await actor(any_crm.db, ids[who]), ids[whom])
    sid = await actor(any_crm.db, ids["sid"])
    with pytest.raises(NotAvailable):
        await any_crm.digest.overdue_invoices(sid, ids["ivan"])


async def test_digest_reads_well_and_has_a_chart(crm: CRM) -> None:
    ids = await build(crm.db)
    d = await crm.digest.for_actor(await actor(crm.db, ids["helen"]))
    i18n = create_i18n("ru")
    with in_locale(i18n, "en"):
        parts = digest_parts(d)
        markup = digest_kb(d)
        helen = await actor(crm.db, ids["helen"])
        drill = stalled_text("Ivan", await crm.digest.stalled_deals(helen, ids["ivan"]))
        inv = overdue_list_text("Ivan", await crm.digest.overdue_invoices(helen, ids["ivan"]))
    text = "\n".join(parts)
    assert len(parts) == 1 and len(parts[0]) < 4096
    assert "Team digest: North" in text and "Ivan Petrov" in text
    assert "Contacts: 4 (Call 3, Meeting 1)" in text
    assert "Too few clients in work: 2 (minimum 5)" in text
    assert "On vacation" in text
    assert "Won: 1 · RUB200,000.00" in text or "Won: 1 · ₽200,000.00" in text
    assert "Pumps" in drill and "A-1" not in inv and "Gamma" in inv
    assert markup is not None
    datas = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert DigestCD(kind="stalled", user_id=ids["ivan"]).pack() in datas
    assert DigestCD(kind="overdue", user_id=ids["ivan"]).pack() in datas
    png = digest_chart(d, "en", ("Contacts per day", "Open deals by stage"))
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    with in_locale(i18n, "ru"):
        assert digest_parts(d)  # renders in Russian too


async def test_big_team_digest_splits_between_managers(crm: CRM) -> None:
    team = await add_team(crm.db, "Huge")
    head = await add_user(crm.db, 9100, "Head", role="head", team_id=team)
    for i in range(40):
        await add_user(crm.db, 9200 + i, f"Manager number {i} with a rather long name",
                       team_id=team)
    d = await crm.digest.for_actor(await actor(crm.db, head))
    with in_locale(create_i18n("ru"), "en"):
        parts = digest_parts(d)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert sum(p.count("👤") for p in parts) == 41  # the total and every manager, none cut
