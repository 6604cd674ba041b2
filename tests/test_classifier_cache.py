"""A worker keeps classifiers in memory while their version, read with the actor on every
update, stays the same; any change of them — by any worker or by hand — bumps it."""

from __future__ import annotations

from sqlalchemy import text

from crm.classifiers import seen
from crm.service import CRM
from tests.factories import admin


async def test_a_change_made_behind_the_workers_back_is_seen_at_the_next_update(
    any_crm: CRM,
) -> None:
    boss = await admin(any_crm)
    other_worker = CRM(any_crm.db, any_crm.config, any_crm.clock)
    actor, version = await any_crm.people.identify_seen(boss.tg_id)
    assert actor == boss and version is not None
    with seen(version):
        before = await any_crm.classifiers.items("activity_type")
        call = next(t for t in before if t.code == "call")
        assert (await any_crm.classifiers.item("activity_type", call.id)) == call
        stages = await any_crm.classifiers.stages()

    # Another worker (here: plain SQL) renames a type, hides a stage.
    async with any_crm.db.transaction() as s:
        await s.execute(text("UPDATE classifier_items SET name_en = 'Phone' WHERE id = :id"),
                        {"id": call.id})
        await s.execute(text("UPDATE stages SET is_active = :no WHERE id = :id"),
                        {"no": False, "id": stages[0].id})

    _, after_version = await any_crm.people.identify_seen(boss.tg_id)
    assert after_version != version
    for crm in (any_crm, other_worker):
        with seen(after_version):
            renamed = await crm.classifiers.item("activity_type", call.id)
            assert renamed is not None and renamed.en == "Phone"
            assert [t.en for t in await crm.classifiers.items("activity_type")
                    if t.id == call.id] == ["Phone"]
            assert stages[0].id not in [st.id for st in await crm.classifiers.stages()]
    # Outside an update (the scheduler, a direct call) it is read every time.
    assert (await any_crm.classifiers.item("activity_type", call.id)).en == "Phone"  # type: ignore[union-attr]


async def test_a_stranger_has_no_version_and_a_missing_item_is_not_kept(any_crm: CRM) -> None:
    assert await any_crm.people.identify_seen(424242) == (None, None)
    boss = await admin(any_crm)
    _, version = await any_crm.people.identify_seen(boss.tg_id)
    with seen(version):
        assert await any_crm.classifiers.item("activity_type", 999_999) is None
        assert await any_crm.classifiers.by_code("activity_type", "nope") is None
    async with any_crm.db.transaction() as s:
        await s.execute(text(
            "INSERT INTO classifier_items (id, kind, code, name_ru, name_en, sort_order, "
            "is_active) VALUES (999999, 'activity_type', 'nope', 'Нет', 'Nope', 99, :yes)"),
            {"yes": True})
    _, version = await any_crm.people.identify_seen(boss.tg_id)
    with seen(version):
        found = await any_crm.classifiers.by_code("activity_type", "nope")
        assert found is not None and found.id == 999_999
