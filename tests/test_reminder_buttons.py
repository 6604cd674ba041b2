"""The one-tap buttons under a reminder, /digest and its drill-down, through the real
dispatcher (the harness records what the bot sends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.methods import EditMessageText, SendPhoto
from sqlalchemy import select

from bot.keyboards.reminders import DigestCD, RemCD
from crm.clock import FrozenClock
from crm.notifications import reminder_key
from crm.service import CRM
from storage.models import Activity
from tests.harness import Harness, TgUser, alerts, last_text, texts
from tests.notify_data import (
    add_client,
    add_deal,
    add_planned,
    add_team,
    add_user,
    item_id,
    outbox,
    planned_rows,
)

MSK = ZoneInfo("Europe/Moscow")
IVAN = TgUser(4001, "Ivan", "Petrov", language_code="en")
OLGA = TgUser(4002, "Olga", None, language_code="en")
HELEN = TgUser(4003, "Helen", None, language_code="en")


async def setup(crm: CRM, clock: FrozenClock) -> tuple[int, int, int]:
    team = await add_team(crm.db, "North")
    ivan = await add_user(crm.db, IVAN.id, "Ivan Petrov", team_id=team)
    await add_user(crm.db, OLGA.id, "Olga Smirnova", team_id=team)
    await add_user(crm.db, HELEN.id, "Helen Head", role="head", team_id=team)
    cid = await add_client(crm.db, ivan, "Acme")
    pid = await add_planned(crm.db, cid, ivan, clock.now() - timedelta(minutes=1))
    return ivan, cid, pid


def edited(calls: list) -> str:  # type: ignore[type-arg]
    found = [c.text for c in calls if isinstance(c, EditMessageText)]
    assert found, calls
    return found[-1] or ""


async def test_no_answer_logs_a_call_and_plans_the_next_try(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    ivan, cid, pid = await setup(crm, clock)
    calls = await harness.press(IVAN, RemCD(planned_id=pid, action="na2h").pack())
    assert "No answer — logged. Next call: 25 Nov 2026, 14:00" in edited(calls)
    async with crm.db.transaction() as s:
        [act] = (await s.scalars(select(Activity).where(Activity.client_id == cid))).all()
    assert act.type_id == await item_id(crm.db, "activity_type", "call")
    assert act.outcome_id == await item_id(crm.db, "outcome", "no_answer")
    assert act.author_id == ivan
    rows = await planned_rows(crm.db, cid)
    assert [(r.status, r.due_at) for r in rows] == [
        ("done", rows[0].due_at), ("planned", clock.now() + timedelta(hours=2))]
    # The re-planned contact reminds in two hours.
    clock.advance(timedelta(hours=2))
    await crm.notifications.enqueue_due()
    keys = [r.idempotency_key for r in await outbox(crm.db, "reminder")]
    assert keys == [reminder_key(rows[1].id, rows[1].due_at)]


async def test_no_answer_tomorrow_means_the_next_working_morning(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 11, 27, 16, 0, tzinfo=MSK).astimezone(UTC))  # Friday
    _, cid, pid = await setup(crm, clock)
    calls = await harness.press(IVAN, RemCD(planned_id=pid, action="natom").pack())
    assert "Next call: 30 Nov 2026, 09:00" in edited(calls)
    rows = await planned_rows(crm.db, cid)
    assert rows[-1].due_at == datetime(2026, 11, 30, 9, 0, tzinfo=MSK).astimezone(UTC)


async def test_snooze_moves_the_contact_and_its_reminder(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    _, cid, pid = await setup(crm, clock)
    await crm.notifications.enqueue_due()
    calls = await harness.press(IVAN, RemCD(planned_id=pid, action="s15m").pack())
    assert "Snoozed until 25 Nov 2026, 12:15" in edited(calls)
    [row] = await planned_rows(crm.db, cid)
    assert row.status == "planned" and row.due_at == clock.now() + timedelta(minutes=15)
    clock.advance(timedelta(minutes=15))
    await crm.notifications.enqueue_due()
    keys = [(r.idempotency_key, r.status) for r in await outbox(crm.db, "reminder")]
    assert keys[-1] == (reminder_key(pid, row.due_at), "pending")
    calls = await harness.press(IVAN, RemCD(planned_id=pid, action="s1h").pack())
    assert "Snoozed until 25 Nov 2026, 13:15" in edited(calls)
    calls = await harness.press(IVAN, RemCD(planned_id=pid, action="stom").pack())
    assert "Snoozed until 26 Nov 2026, 09:00" in edited(calls)


async def test_done_closes_the_contact_and_stale_buttons_say_so(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    _, cid, pid = await setup(crm, clock)
    calls = await harness.press(IVAN, RemCD(planned_id=pid, action="done").pack())
    assert edited(calls).endswith("✅ Done")
    [row] = await planned_rows(crm.db, cid)
    assert row.status == "done"
    calls = await harness.press(IVAN, RemCD(planned_id=pid, action="s15m").pack())
    assert alerts(calls) == ["This planned contact is already done or cancelled."]


async def test_forged_reminder_buttons_change_nothing(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    _, cid, pid = await setup(crm, clock)
    for data in (f"rm:{pid}:na2h", f"rm:{pid}:s15m", f"rm:{pid}:done", f"rm:{pid}:bogus",
                 f"rm:{2**40}:done", "rm:0:done", "dg:stalled:-1", "dg:nothing:5"):
        calls = await harness.press(OLGA, data)
        assert len(alerts(calls)) == 1 and not texts(calls), data
    calls = await harness.press(OLGA, RemCD(planned_id=999_999, action="done").pack())
    assert alerts(calls) == ["This is not available (it may have been removed or is not yours)."]
    [row] = await planned_rows(crm.db, cid)
    assert row.status == "planned"


async def test_digest_command_and_drill_down(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    ivan, cid, _ = await setup(crm, clock)
    await add_deal(crm.db, cid, ivan, "Pumps", 1000, opened_at=clock.now() - timedelta(days=30))
    calls = await harness.send(HELEN, "/digest")
    text = "\n".join(texts(calls))
    assert "Team digest: North" in text and "Ivan Petrov" in text and "Olga Smirnova" in text
    assert any(isinstance(c, SendPhoto) for c in calls)
    calls = await harness.press(HELEN, DigestCD(kind="stalled", user_id=ivan).pack())
    assert "Stalled deals: Ivan Petrov" in last_text(calls) and "Pumps" in last_text(calls)
    calls = await harness.send(IVAN, "/digest")
    assert "Your digest" in "\n".join(texts(calls))
    # A manager cannot drill into a colleague.
    olga = (await crm.people.identify(OLGA.id))
    assert olga is not None
    calls = await harness.press(IVAN, DigestCD(kind="stalled", user_id=olga.id).pack())
    assert alerts(calls) == ["This is not available (it may have been removed or is not yours)."]
