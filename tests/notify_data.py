"""Hand-built rows for the notification and digest tests, written straight to the database
(the tests check what the scheduler and the digest make of them, not how they got there)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crm.dto import Actor
from crm.people import to_actor
from storage.db import Database
from storage.models import (
    Activity,
    ClassifierItem,
    Client,
    Deal,
    Invoice,
    OutboxMessage,
    Payment,
    PlannedContact,
    Stage,
    Team,
    User,
)

EARLY = datetime(2026, 1, 1, tzinfo=UTC)


async def add_team(db: Database, name: str) -> int:
    async with db.transaction() as s:
        team = Team(name=name)
        s.add(team)
        await s.flush()
        return team.id


async def add_user(
    db: Database, tg_id: int, name: str, *, role: str = "manager", team_id: int | None = None,
    tz: str = "Europe/Moscow", locale: str | None = "en", start: int = 9 * 60,
    end: int = 18 * 60, days: str = "12345", vacation: bool = False,
) -> int:
    async with db.transaction() as s:
        user = User(
            tg_id=tg_id, name=name, role=role, team_id=team_id, timezone=tz, locale=locale,
            work_start_min=start, work_end_min=end, work_days=days, is_active=True,
            on_vacation=vacation, unreachable=False, created_at=EARLY,
        )
        s.add(user)
        await s.flush()
        return user.id


async def actor(db: Database, user_id: int) -> Actor:
    async with db.transaction() as s:
        user = await s.get(User, user_id)
        assert user is not None
        return to_actor(user)


async def add_client(
    db: Database, owner_id: int | None, name: str, phones: str | None = "+79001234567"
) -> int:
    async with db.transaction() as s:
        client = Client(
            name=name, name_norm=name.lower(), search_text=name.lower(), phones=phones,
            owner_id=owner_id, created_at=EARLY, updated_at=EARLY,
        )
        s.add(client)
        await s.flush()
        return client.id


async def add_planned(
    db: Database, client_id: int, owner_id: int, due_at: datetime, *,
    note: str | None = None, deal_id: int | None = None, status: str = "planned",
) -> int:
    async with db.transaction() as s:
        row = PlannedContact(
            client_id=client_id, owner_id=owner_id, due_at=due_at, note=note, deal_id=deal_id,
            status=status, created_at=EARLY,
        )
        s.add(row)
        await s.flush()
        return row.id


async def item_id(db: Database, kind: str, code: str) -> int:
    async with db.transaction() as s:
        found = await s.scalar(
            select(ClassifierItem.id).where(ClassifierItem.kind == kind,
                                            ClassifierItem.code == code))
        assert found is not None, (kind, code)
        return found


async def stage_id(db: Database, code: str) -> int:
    async with db.transaction() as s:
        found = await s.scalar(select(Stage.id).where(Stage.code == code))
        assert found is not None
        return found


async def add_deal(
    db: Database, client_id: int, owner_id: int, title: str, amount: str | int, *,
    stage: str = "new", status: str = "open", opened_at: datetime = EARLY,
    closed_at: datetime | None = None, probability: int | None = None,
    expected_close: date | None = None, loss_reason: str | None = None,
    last_activity_at: datetime | None = None, stage_changed_at: datetime | None = None,
) -> int:
    sid = await stage_id(db, stage)
    reason = await item_id(db, "loss_reason", loss_reason) if loss_reason else None
    async with db.transaction() as s:
        deal = Deal(
            client_id=client_id, owner_id=owner_id, title=title, amount=Decimal(amount),
            currency="RUB", stage_id=sid, status=status, opened_at=opened_at,
            closed_at=closed_at, probability=probability, expected_close=expected_close,
            loss_reason_id=reason, last_activity_at=last_activity_at,
            stage_changed_at=stage_changed_at or opened_at,
        )
        s.add(deal)
        await s.flush()
        return deal.id


async def add_invoice(
    db: Database, deal_id: int, amount: str | int, due_on: date, *, status: str = "open",
    number: str | None = None,
) -> int:
    async with db.transaction() as s:
        inv = Invoice(deal_id=deal_id, amount=Decimal(amount), currency="RUB",
                      issued_on=date(2026, 1, 1), due_on=due_on, status=status, number=number,
                      created_at=EARLY)
        s.add(inv)
        await s.flush()
        return inv.id


async def add_payment(db: Database, invoice_id: int, amount: str | int, paid_on: date) -> None:
    async with db.transaction() as s:
        s.add(Payment(invoice_id=invoice_id, amount=Decimal(amount), paid_on=paid_on,
                      created_at=EARLY))


async def add_activity(
    db: Database, client_id: int, author_id: int, type_code: str, at: datetime, *,
    outcome: str | None = None, text: str | None = None, deal_id: int | None = None,
) -> None:
    tid = await item_id(db, "activity_type", type_code)
    oid = await item_id(db, "outcome", outcome) if outcome else None
    async with db.transaction() as s:
        s.add(Activity(client_id=client_id, author_id=author_id, type_id=tid, outcome_id=oid,
                       text=text, deal_id=deal_id, occurred_at=at, created_at=at))


async def outbox(db: Database, kind: str | None = None) -> list[OutboxMessage]:
    async with db.transaction() as s:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return list((await s.scalars(stmt)).all())


async def update_user(db: Database, user_id: int, **values: Any) -> None:
    async with db.transaction() as s:
        user = await s.get(User, user_id)
        assert user is not None
        for k, v in values.items():
            setattr(user, k, v)


async def update_planned(db: Database, planned_id: int, **values: Any) -> None:
    async with db.transaction() as s:
        row = await s.get(PlannedContact, planned_id)
        assert row is not None
        for k, v in values.items():
            setattr(row, k, v)


async def planned_rows(db: Database, client_id: int) -> list[PlannedContact]:
    async with db.transaction() as s:
        rows = await s.scalars(select(PlannedContact).where(
            PlannedContact.client_id == client_id).order_by(PlannedContact.id))
        return list(rows)


def die_with_parent() -> None:
    """In a child, before it runs: on Linux it is killed when the test process dies (a test
    run stopped with kill -9 leaves no bot running on, eating a core)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextmanager
def salesbot_process(
    env: dict[str, str], log: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`salesbot run` as a subprocess (output to `log`), always reaped at the end."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", *args], cwd=log.parent, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
