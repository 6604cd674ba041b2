"""The demo CRM, as a new user would notice it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.demo import DEMO_TEAM, DemoSummary, seed_demo
from crm.errors import Conflict
from crm.search_norm import normalize_text
from storage.db import Database
from storage.models import (
    Activity,
    Client,
    ContactPerson,
    Deal,
    Invoice,
    Payment,
    PlannedContact,
    Stage,
    Team,
    User,
)
from tests.conftest import ADMIN_TG, migrated_db

COUNTED = (Team, User, Client, ContactPerson, Deal, Activity, PlannedContact, Invoice, Payment)


async def counts(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        return {
            m.__tablename__: await s.scalar(select(func.count()).select_from(m)) or 0
            for m in COUNTED
        }


async def test_demo_is_a_living_crm(
    any_db: Database, clock: FrozenClock, config: CRMConfig
) -> None:
    now = clock.now()
    tz = ZoneInfo(config.default_timezone)
    today = now.astimezone(tz).date()
    async with any_db.transaction() as s:  # an admin who started the bot before the demo
        s.add(User(tg_id=ADMIN_TG, name="Anna Admin", role="admin", timezone="Europe/Moscow"))

    summary = await seed_demo(any_db, config, clock)

    assert str(summary).startswith("1 team, 6 people, 30 clients, ")
    n = await counts(any_db)
    assert (n["teams"], n["users"], n["clients"], n["deals"]) == (
        1,
        summary.users + 1,
        summary.clients,
        summary.deals,
    )
    assert (n["activities"], n["planned_contacts"]) == (summary.activities, summary.planned)
    assert (n["invoices"], n["payments"]) == (summary.invoices, summary.payments)

    async with any_db.transaction() as s:
        team = await s.scalar(select(Team).where(Team.name == DEMO_TEAM))
        users = {u.id: u for u in await s.scalars(select(User))}
        clients = list(await s.scalars(select(Client)))
        persons = list(await s.scalars(select(ContactPerson)))
        stages = {st.id: st for st in await s.scalars(select(Stage).where(Stage.is_active))}
        deals = list(await s.scalars(select(Deal)))
        acts = list(await s.scalars(select(Activity)))
        planned = list(await s.scalars(select(PlannedContact)))
        invoices = list(await s.scalars(select(Invoice)))
        payments = list(await s.scalars(select(Payment)))

    # The people: a head, three managers, service and marketing; the admin is left alone.
    assert team is not None
    admin = next(u for u in users.values() if u.tg_id == ADMIN_TG)
    assert admin.team_id is None and admin.role == "admin"
    demo_people = [u for u in users.values() if u.team_id == team.id]
    assert Counter(u.role for u in demo_people) == {
        "head": 1,
        "manager": 3,
        "service": 1,
        "marketer": 1,
    }
    assert all(u.timezone == config.default_timezone for u in demo_people)

    # About 30 clients, every one owned by a manager, searchable, with 1–2 contacts.
    assert 25 <= len(clients) <= 35
    assert all(users[c.owner_id].role == "manager" for c in clients if c.owner_id)
    assert all(c.owner_id is not None for c in clients)
    assert len({c.owner_id for c in clients}) == 3
    by_client = defaultdict(list)
    for p in persons:
        by_client[p.client_id].append(p)
    for c in clients:
        assert 1 <= len(by_client[c.id]) <= 2
        assert c.name_norm == normalize_text(c.name)
        for p in by_client[c.id]:
            assert normalize_text(p.name) in c.search_text
            assert p.phone and p.phone in c.phone_digits.split()
        assert c.tax_number and c.tax_number.isdigit() and len(c.tax_number) in (10, 12)
        assert c.phones and all(
            ph.isdigit() and ph.startswith("7") and len(ph) == 11 for ph in c.phones.split(",")
        )
        assert set(c.phones.split(",")) <= set(c.phone_digits.split())
        assert c.region_id and c.industry_id and c.segment_id and c.source_id
    assert any("е" in c.search_text for c in clients)  # ё was folded where names had it
    assert not any("ё" in c.search_text for c in clients)

    # Every active stage has open deals at its default probability; some of them stalled.
    open_deals = [d for d in deals if d.status == "open"]
    assert {d.stage_id for d in open_deals} == set(stages)
    for d in open_deals:
        stage = stages[d.stage_id]
        assert d.probability == stage.probability and d.currency == config.currency
        assert d.opened_at <= d.stage_changed_at < now
        assert d.last_activity_at is not None and d.stage_changed_at <= d.last_activity_at < now
        assert 1 <= (today - d.opened_at.astimezone(tz).date()).days <= 120
        assert d.expected_close and today < d.expected_close <= today + timedelta(days=92)
    stalled = [
        d
        for d in open_deals
        if now - d.stage_changed_at > timedelta(stages[d.stage_id].stall_days)
    ]
    assert stalled and len(stalled) < len(open_deals)
    for d in set(open_deals) - set(stalled):  # in work: touched within the stage's limit
        assert d.last_activity_at
        assert now - d.last_activity_at < timedelta(stages[d.stage_id].stall_days)
    for d in stalled:  # nobody touched them since
        assert d.last_activity_at
        assert now - d.last_activity_at > timedelta(stages[d.stage_id].stall_days)

    # Won and lost deals; each lost one has a reason and the stage where it was lost.
    won = [d for d in deals if d.status == "won"]
    lost = [d for d in deals if d.status == "lost"]
    assert len(won) >= 3 and len(lost) >= 3
    assert all(d.closed_at and d.amount > 0 and d.opened_at < d.closed_at < now for d in won)
    for d in lost:
        assert d.closed_at and d.loss_reason_id and d.lost_stage_id == d.stage_id
    assert any(d.loss_note for d in lost)

    # Every client has a history of 3–10 typed contacts, plus events for the deals.
    contacts = Counter(a.client_id for a in acts if a.event is None)
    assert all(3 <= contacts[c.id] <= 10 for c in clients)
    assert all(a.type_id is not None for a in acts if a.event is None)
    assert all(a.occurred_at < now for a in acts)
    events = Counter(a.event for a in acts if a.event)
    assert events["deal_created"] == len(deals)
    assert events["deal_won"] == len(won) and events["deal_lost"] == len(lost)
    assert events["stage_changed"] > 0
    assert events["invoice_added"] == len(invoices)
    assert events["payment_received"] == len(payments)
    invoice_ids = {i.id for i in invoices}
    assert all(a.details and a.details["invoice_id"] in invoice_ids
               for a in acts if a.event in ("invoice_added", "payment_received"))  # fmt: skip
    for d in deals:  # the deal's last activity is its latest history record
        assert d.last_activity_at == max(a.occurred_at for a in acts if a.deal_id == d.id)
    assert all(a.details and a.details.get("to") in {s.code for s in stages.values()}
               for a in acts if a.event == "stage_changed")  # fmt: skip
    authors = {users[a.author_id].role for a in acts if a.author_id}
    assert {"manager", "service", "marketer"} <= authors

    # Today's agenda, and something left over from yesterday.
    assert all(p.status == "planned" for p in planned)
    due_today = [p for p in planned if p.due_at.astimezone(tz).date() == today]
    overdue = [p for p in planned if p.due_at < now and p.due_at.astimezone(tz).date() < today]
    assert len(due_today) >= 3 and overdue
    assert any(p.due_at.astimezone(tz).date() > today for p in planned)
    assert all(users[p.owner_id].role == "manager" for p in planned)

    # Receivables: overdue invoices with debt, and fully paid ones.
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for pay in payments:
        paid[pay.invoice_id] += pay.amount
    deal_by_id = {d.id: d for d in deals}
    for inv in invoices:
        deal = deal_by_id[inv.deal_id]
        assert deal.status == "won" or stages[deal.stage_id].code == "contract"
        assert paid[inv.id] <= inv.amount and inv.issued_on <= inv.due_on
    assert any(inv.due_on < today and paid[inv.id] < inv.amount for inv in invoices)
    fully = [inv for inv in invoices if paid[inv.id] == inv.amount]
    assert fully and all(inv.status == "paid" for inv in fully)
    assert any(0 < paid[inv.id] < inv.amount for inv in invoices)  # a partial payment


async def test_seeding_twice_conflicts_and_changes_nothing(
    any_db: Database, clock: FrozenClock, config: CRMConfig
) -> None:
    await seed_demo(any_db, config, clock)
    before = await counts(any_db)
    with pytest.raises(Conflict) as err:
        await seed_demo(any_db, config, clock, seed=8)
    assert err.value.code == "demo_exists"
    assert await counts(any_db) == before


async def test_same_seed_same_demo(tmp_path: Path, clock: FrozenClock, config: CRMConfig) -> None:
    summaries: list[DemoSummary] = []
    snapshots = []
    for name in ("a.db", "b.db"):
        db = await migrated_db(f"sqlite+aiosqlite:///{tmp_path / name}")
        summaries.append(await seed_demo(db, config, clock, seed=3))
        async with db.transaction() as s:
            rows = await s.execute(select(Client.name, Client.phones, Deal.amount).join(Deal))
            snapshots.append(sorted(rows.all()))
        await db.dispose()
    assert summaries[0] == summaries[1]
    assert snapshots[0] == snapshots[1]
