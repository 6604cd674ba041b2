"""Column types and constraints behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import ClassifierItem, Client, OutboxMessage, Stage


async def test_default_classifiers_are_seeded_in_both_languages(any_db: Database) -> None:
    async with any_db.transaction() as s:
        stages = (await s.scalars(select(Stage).order_by(Stage.sort_order))).all()
        kinds = set((await s.scalars(select(ClassifierItem.kind))).all())
        price = await s.scalar(select(ClassifierItem).where(
            ClassifierItem.kind == "loss_reason", ClassifierItem.code == "price"))
    assert stages[0].code == "new" and len(stages) == 6
    assert all(st.stall_days > 0 and 0 < st.probability < 100 for st in stages)
    assert kinds == {"activity_type", "outcome", "loss_reason", "source", "region", "industry",
                     "segment", "campaign"}
    assert price is not None and (price.name_ru, price.name_en) == ("Цена", "Price")


async def test_money_and_time_round_trip_exactly(any_db: Database) -> None:
    moscow = timezone(timedelta(hours=3))
    at = datetime(2026, 11, 25, 12, 30, 15, tzinfo=moscow)
    async with any_db.transaction() as s:
        from storage.models import Deal

        client = Client(name="Тест", name_norm="тест", created_at=at, updated_at=at)
        s.add(client)
        await s.flush()
        deal = Deal(client_id=client.id, title="x", amount=Decimal("1234567.89"),
                    currency="RUB", stage_id=1, opened_at=at, stage_changed_at=at)
        s.add(deal)
        await s.flush()
        deal_id = deal.id
    async with any_db.transaction() as s:
        got = await s.get(Deal, deal_id)
        assert got is not None
        assert got.amount == Decimal("1234567.89")
        assert got.opened_at == at and got.opened_at.tzinfo is not None
        assert got.opened_at.astimezone(UTC).hour == 9


async def test_naive_datetimes_are_refused(any_db: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with any_db.transaction() as s:
            s.add(Client(name="x", name_norm="x", created_at=datetime(2026, 1, 1),
                         updated_at=datetime(2026, 1, 1)))
            await s.flush()


async def test_outbox_idempotency_key_is_unique(any_db: Database) -> None:
    now = datetime.now(UTC)
    async with any_db.transaction() as s:
        s.add(OutboxMessage(idempotency_key="k1", kind="x", chat_id=1, due_at=now, payload={}))
    with pytest.raises(IntegrityError):
        async with any_db.transaction() as s:
            s.add(OutboxMessage(idempotency_key="k1", kind="x", chat_id=1, due_at=now,
                                payload={}))
    async with any_db.transaction() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
    assert len(rows) == 1
