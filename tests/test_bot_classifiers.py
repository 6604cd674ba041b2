"""🗂 Classifiers and 🪜 Sales stages through the real dispatcher, on SQLite and PostgreSQL:
a marketer adds, renames, reorders and hides values; a hidden value leaves the pickers but
stays on the cards that use it; an admin keeps the stages, and hiding one with open deals
moves them with a history record each. Who may do what; forged buttons; double taps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.keyboards.classifiers import (
    ClsAction,
    ClsAddCD,
    ClsCD,
    ClsItemCD,
    ClsLinkCD,
    ClsListCD,
    ClsMoveCD,
    ItemAction,
    Kind,
    StageAction,
    StgCD,
    StgMoveCD,
    StgTargetCD,
)
from bot.keyboards.client import ClientAction, ClientCD, LogTypeCD
from crm.classifiers import make_code
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, AuditLog, ClassifierItem, Deal, Stage
from tests.factories import client, person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, make_bot, texts

MARK = TgUser(3001, "Mark", "Marketer", language_code="en")
ANNA = TgUser(3002, "Anna", "Admin", language_code="en")
MAX = TgUser(3003, "Max", "Sokolov", language_code="en")
HELEN = TgUser(3004, "Helen", "Head", language_code="en")
OLGA = TgUser(3005, "Ольга", None, language_code="ru")
REFUSED = "Your role does not allow this."


@pytest.fixture
async def h(any_crm: CRM) -> AsyncIterator[Harness]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="ru")
    yield Harness(dp=dp, bot=bot, session=session)
    await bot.session.close()


async def audit_actions(crm: CRM) -> list[str]:
    async with crm.db.transaction() as s:
        return list((await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def item_row(crm: CRM, kind: str, name_en: str) -> ClassifierItem | None:
    async with crm.db.transaction() as s:
        return await s.scalar(select(ClassifierItem).where(
            ClassifierItem.kind == kind, ClassifierItem.name_en == name_en))


async def count_items(crm: CRM, kind: str) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(ClassifierItem).where(
            ClassifierItem.kind == kind)) or 0)


def names(calls: list[Any]) -> list[str]:
    return [t for t, _ in buttons(calls)]


async def test_marketer_adds_renames_reorders_hides_a_region(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    regions_before = await count_items(crm, "region")
    # The entry is on the settings screen.
    calls = await h.send(MARK, "/settings")
    assert "🗂 Classifiers" in names(calls) and "🪜 Sales stages" not in names(calls)
    calls = await h.press(MARK, button(calls, "Classifiers"))
    assert "Which list to edit?" in last_text(calls)
    assert f"Regions ({regions_before})" in names(calls)
    calls = await h.press(MARK, button(calls, "Regions"))
    assert f"Regions</b>: {regions_before}" in last_text(calls)
    assert "Moscow" in names(calls)
    # Add: the name in the user's language, then the other one.
    calls = await h.press(MARK, button(calls, "Add"))
    assert "New value in «Regions»" in last_text(calls)
    assert "Type the name in English" in last_text(calls)
    calls = await h.send(MARK, "Kazan")
    assert "«Kazan» — and in Russian?" in last_text(calls)
    assert "= «Kazan»" in names(calls)
    calls = await h.send(MARK, "Казань")
    assert "✅ Added: «Kazan»" in last_text(calls)
    assert f"Place in the list: {regions_before + 1} of {regions_before + 1}" in last_text(calls)
    kazan = await item_row(crm, "region", "Kazan")
    assert kazan is not None and (kazan.code, kazan.name_ru, kazan.is_active) == (
        "kazan", "Казань", True)
    # Rename the English label only: the Russian one is kept with a tap.
    calls = await h.press(MARK, button(calls, "Rename"))
    assert "Renaming «Казань» / «Kazan»" in last_text(calls)
    calls = await h.send(MARK, "Kazan city")
    calls = await h.press(MARK, button(calls, "Keep «Казань»"))
    assert "✅ Renamed." in last_text(calls) and "English: Kazan city" in last_text(calls)
    renamed = await item_row(crm, "region", "Kazan city")
    assert renamed is not None and renamed.id == kazan.id and renamed.name_ru == "Казань"
    assert renamed.code == "kazan"  # codes never change
    # Up, and the same «up» tapped again: it goes to the place the button named, once.
    up = button(calls, "Up")
    calls = await h.press(MARK, up)
    assert f"Place in the list: {regions_before} of {regions_before + 1}" in last_text(calls)
    calls = await h.press(MARK, up)
    assert f"Place in the list: {regions_before} of {regions_before + 1}" in last_text(calls)
    order = [i.en for i in await crm.classifiers.items("region")]
    assert order[-2] == "Kazan city" and len(order) == regions_before + 1
    calls = await h.press(MARK, button(calls, "Down"))
    assert [i.en for i in await crm.classifiers.items("region")][-1] == "Kazan city"
    actions = await audit_actions(crm)
    assert actions.count("classifier.added") == 1 and actions.count("classifier.renamed") == 1
    assert actions.count("classifier.moved") == 2  # up, down; the double tap moved nothing


async def test_hidden_value_leaves_pickers_but_stays_on_cards(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    mark = await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    max_ = await crm.people.identify(MAX.id)
    assert max_ is not None
    moscow = await crm.classifiers.by_code("region", "moscow")
    assert moscow is not None
    old = await client(crm, max_, "Old Moscow Client", region_id=moscow.id)
    calls = await h.press(MARK, ClsItemCD(kind=Kind.REGION, id=moscow.id,
                                          action=ItemAction.OPEN).pack())
    hide = button(calls, "Hide")
    calls = await h.press(MARK, hide)
    assert "🙈 Hidden: not offered in pickers" in last_text(calls)
    assert "👁 Show again" in names(calls)
    await h.press(MARK, hide)  # a double tap: nothing more happens
    assert (await audit_actions(crm)).count("classifier.hidden") == 1
    calls = await h.press(MARK, ClsListCD(kind=Kind.REGION, page=0).pack())
    assert "🙈 Moscow" in names(calls) and "hidden: 1" in last_text(calls)
    # The new-client form does not offer it …
    calls = await h.send(MAX, "/new Fresh Client")
    calls = await h.press(MAX, button(calls, "Skip"))
    assert "Region" in last_text(calls)
    assert "Moscow" not in names(calls) and "Saint Petersburg" in names(calls)
    # … a stale picker cannot set it on a new card either …
    await h.send(MAX, "/cancel")
    # … and the card that uses it still shows it.
    card = await crm.clients.card(max_, old.id)
    assert card.classifiers["region"].en == "Moscow"
    calls = await h.press(MAX, ClientCD(id=old.id, action=ClientAction.OPEN).pack())
    said = last_text(calls)
    assert "Region: Moscow" in said
    # Shown again: offered again.
    await crm.classifiers.set_hidden(mark, "region", moscow.id, False)
    calls = await h.send(MAX, "/new Another Client")
    calls = await h.press(MAX, button(calls, "Skip"))
    assert "Moscow" in names(calls)
    assert (await audit_actions(crm)).count("classifier.shown") == 1


async def test_russian_marketer_types_one_name_for_both(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    await person(crm, OLGA.id, "Ольга", Role.MARKETER, locale="ru")
    calls = await h.press(OLGA, ClsAddCD(kind=Kind.CAMPAIGN).pack())
    assert "Новое значение в списке «Кампании»" in last_text(calls)
    assert "Введите название по-русски" in last_text(calls)
    calls = await h.send(OLGA, "Осенняя акция")
    assert "а по-английски?" in last_text(calls)
    same = button(calls, "= «Осенняя акция»")
    # A double tap of «same», both at once: one value.
    await asyncio.gather(h.press(OLGA, same), h.press(OLGA, same))
    assert await count_items(crm, "campaign") == 4
    row = await item_row(crm, "campaign", "Осенняя акция")
    assert row is not None and row.name_ru == "Осенняя акция" and row.code == "osennyaya_aktsiya"
    assert "✅ Добавлено: «Осенняя акция»" in "\n".join(texts(h.session.calls))
    # The same name again is refused and says why; a duplicate is never created.
    calls = await h.press(OLGA, ClsAddCD(kind=Kind.CAMPAIGN).pack())
    await h.send(OLGA, "осенняя АКЦИЯ")
    calls = await h.send(OLGA, "Autumn sale")
    assert "«Осенняя акция» уже есть в списке" in last_text(calls)
    assert await count_items(crm, "campaign") == 4


async def test_typed_name_sent_twice_adds_once(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    before = await count_items(crm, "loss_reason")
    await h.press(MARK, ClsAddCD(kind=Kind.LOSS_REASON).pack())
    await h.send(MARK, "Went bankrupt")
    await asyncio.gather(h.send(MARK, "Обанкротился"), h.send(MARK, "Обанкротился"))
    assert await count_items(crm, "loss_reason") == before + 1
    said = texts(h.session.calls) + alerts(h.session.calls)
    assert not [s for s in said if "went wrong" in s]
    # The new reason is offered when a deal is lost.
    assert "Went bankrupt" in [r.en for r in await crm.deals.loss_reasons()]


async def test_who_may_edit_classifiers_and_stages(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    await person(crm, HELEN.id, "Helen Head", Role.HEAD)
    moscow = await crm.classifiers.by_code("region", "moscow")
    stages = await crm.classifiers.stages()
    assert moscow is not None
    hide_moscow = ClsItemCD(kind=Kind.REGION, id=moscow.id, action=ItemAction.HIDE).pack()
    hide_stage = StgCD(id=stages[0].id, action=StageAction.HIDE).pack()
    for who in (MAX, HELEN):
        calls = await h.send(who, "/settings")
        assert "🗂 Classifiers" not in names(calls) and "🪜 Sales stages" not in names(calls)
        assert REFUSED in last_text(await h.send(who, "/classifiers"))
        assert REFUSED in last_text(await h.send(who, "/stages"))
        for forged in (hide_moscow, hide_stage, ClsAddCD(kind=Kind.REGION).pack(),
                       ClsMoveCD(kind=Kind.REGION, id=moscow.id, pos=0).pack(),
                       StgMoveCD(id=stages[0].id, pos=3).pack(),
                       ClsCD(action=ClsAction.ADD_STAGE).pack()):
            assert REFUSED in alerts(await h.press(who, forged)), forged
    # A marketer keeps classifiers, not stages.
    assert REFUSED in last_text(await h.send(MARK, "/stages"))
    assert REFUSED in alerts(await h.press(MARK, hide_stage))
    assert REFUSED in alerts(await h.press(MARK, ClsCD(action=ClsAction.STAGES).pack()))
    calls = await h.send(MARK, "/classifiers")
    assert "Sales stages" not in "".join(names(calls))
    # A value of one kind under another kind's button is not there.
    calls = await h.press(MARK, ClsItemCD(kind=Kind.INDUSTRY, id=moscow.id,
                                          action=ItemAction.HIDE).pack())
    assert "not available" in alerts(calls)[0]
    assert (await crm.classifiers.by_code("region", "moscow")) is not None
    async with crm.db.transaction() as s:
        assert (await s.get(ClassifierItem, moscow.id)).is_active  # type: ignore[union-attr]
        assert (await s.get(Stage, stages[0].id)).is_active  # type: ignore[union-attr]
    assert not [a for a in await audit_actions(crm) if a.startswith(("classifier.", "stage."))]
    # An admin sees both entries.
    calls = await h.send(ANNA, "/settings")
    assert "🗂 Classifiers" in names(calls) and "🪜 Sales stages" in names(calls)
    calls = await h.send(ANNA, "/classifiers")
    assert "🪜 Sales stages" in names(calls)


async def deal_at_first_stage(crm: CRM, owner: Actor, name: str) -> int:
    ref = await client(crm, owner, name)
    deal = await crm.deals.create(owner, ref.id, f"Deal of {name}", Decimal(1000), None)
    return deal.id


async def test_hiding_a_stage_moves_its_open_deals_with_history(
    h: Harness, any_crm: CRM
) -> None:
    crm = any_crm
    await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    max_ = await crm.people.identify(MAX.id)
    assert max_ is not None
    first, second = await deal_at_first_stage(crm, max_, "One"), await deal_at_first_stage(
        crm, max_, "Two")
    won = await deal_at_first_stage(crm, max_, "Three")
    await crm.deals.win(max_, won)
    stages = await crm.classifiers.stages()
    new, qualified = stages[0], stages[1]
    calls = await h.send(ANNA, "/stages")
    assert "1. New lead — 10 %, stalls after 3 days; open deals: 2" in last_text(calls)
    calls = await h.press(ANNA, button(calls, "1. New lead"))
    assert "Open deals at this stage: 2" in last_text(calls)
    calls = await h.press(ANNA, button(calls, "Hide"))
    assert "has 2 open deals. Where should they move?" in last_text(calls)
    assert "➡️ New lead" not in names(calls)
    target = button(calls, "➡️ Qualified")
    results = await asyncio.gather(h.press(ANNA, target), h.press(ANNA, target))
    said = "\n".join(t for r in results for t in texts(r))
    assert "➡️ 2 deals moved to «Qualified»." in said
    assert "🙈 The stage «New lead» is hidden." in said
    async with crm.db.transaction() as s:
        moved = (await s.scalars(select(Deal).where(Deal.id.in_([first, second])))).all()
        assert {(d.stage_id, d.probability) for d in moved} == {(qualified.id, 20)}
        assert (await s.get(Deal, won)).stage_id == new.id  # type: ignore[union-attr]
        events = (await s.scalars(select(Activity).where(
            Activity.event == "stage_changed"))).all()
        assert sorted(e.deal_id or 0 for e in events) == sorted([first, second])
        assert all(e.details and e.details["from"] == "new" and e.details["to"] == "qualified"
                   for e in events)
        assert not (await s.get(Stage, new.id)).is_active  # type: ignore[union-attr]
    actions = await audit_actions(crm)
    assert actions.count("stage.hidden") == 1 and actions.count("deal.stage") == 2
    # The deal's own history says so; the hidden stage still has its name there.
    view = await crm.deals.deal(max_, first)
    assert [(e.stage_from.en, e.stage_to.en) for e in view.history
            if e.event == "stage_changed" and e.stage_from and e.stage_to] == [
        ("New lead", "Qualified")]
    # The won deal keeps its (hidden) stage; a new deal starts at the first shown one.
    assert (await crm.deals.deal(max_, won)).stage.en == "New lead"
    fresh = await deal_at_first_stage(crm, max_, "Four")
    assert (await crm.deals.deal(max_, fresh)).stage.en == "Qualified"
    calls = await h.send(ANNA, "/stages")
    assert "🙈 1. New lead" in names(calls)


async def test_admin_adds_and_tunes_a_stage(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    total = len(await crm.classifiers.stages())
    calls = await h.send(ANNA, "/settings")
    calls = await h.press(ANNA, button(calls, "Sales stages"))
    calls = await h.press(ANNA, button(calls, "Add a stage"))
    assert "New sales stage" in last_text(calls)
    await h.send(ANNA, "Pilot")
    prompt = await h.send(ANNA, "Пилот")
    assert "Default probability" in last_text(prompt)
    calls = await h.send(ANNA, "150")
    assert "A probability is a number from 0 to 100." in last_text(calls)
    calls = await h.press(ANNA, button(prompt, "50 %"))
    assert "stalled?" in last_text(calls)
    calls = await h.send(ANNA, "12 days")
    text = last_text(calls)
    assert "✅ Stage added: «Pilot»." in text
    assert "Default probability: 50 %" in text and "stalls here after: 12 days" in text
    assert f"Place in the pipeline: {total + 1} of {total + 1}" in text
    async with crm.db.transaction() as s:
        pilot = await s.scalar(select(Stage).where(Stage.code == "pilot"))
        assert pilot is not None and (pilot.name_ru, pilot.probability, pilot.stall_days) == (
            "Пилот", 50, 12)
    calls = await h.press(ANNA, button(calls, "Up"))
    assert f"Place in the pipeline: {total} of {total + 1}" in last_text(calls)
    assert [st.code for st in await crm.classifiers.stages()][-2:] == ["pilot", "contract"]
    calls = await h.press(ANNA, button(calls, "Probability"))
    calls = await h.send(ANNA, "55 %")
    assert "Default probability: 55 %" in last_text(calls)
    prompt = await h.press(ANNA, button(calls, "Stall days"))
    calls = await h.send(ANNA, "0")
    assert "from 1 to 365" in last_text(calls)
    calls = await h.press(ANNA, button(prompt, "30"))
    assert "stalls here after: 30 days" in last_text(calls)
    calls = await h.press(ANNA, button(calls, "Rename"))
    calls = await h.press(ANNA, button(calls, "Keep «Pilot»"))
    calls = await h.send(ANNA, "Пилотный проект")
    assert "Russian: Пилотный проект" in last_text(calls)
    # No open deals: hidden at once; shown again.
    calls = await h.press(ANNA, button(calls, "Hide"))
    assert "🙈 Hidden" in last_text(calls)
    calls = await h.press(ANNA, button(calls, "Show again"))
    assert "👁 Offered when deals move." in last_text(calls)
    actions = await audit_actions(crm)
    for action in ("stage.added", "stage.moved", "stage.probability", "stage.stall_days",
                   "stage.renamed", "stage.hidden", "stage.shown"):
        assert actions.count(action) == 1, action


async def test_stage_rules_in_crm(any_crm: CRM) -> None:
    crm = any_crm
    anna = await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    stages = await crm.classifiers.stages()
    deal = await deal_at_first_stage(crm, max_, "One")
    with pytest.raises(Conflict) as err:
        await crm.classifiers.hide_stage(anna, stages[0].id)
    assert err.value.code == "stage_has_deals"
    with pytest.raises(Forbidden):
        await crm.classifiers.hide_stage(max_, stages[0].id, stages[1].id)
    for st in stages[1:]:
        await crm.classifiers.hide_stage(anna, st.id)
    with pytest.raises(Conflict) as err:
        await crm.classifiers.hide_stage(anna, stages[0].id, stages[1].id)
    assert err.value.code == "last_stage"
    assert (await crm.deals.deal(max_, deal)).stage.id == stages[0].id
    with pytest.raises(Conflict):
        await crm.classifiers.add_stage(anna, "Переговоры", "Talks", 50, 7)


async def offered_codes(crm: CRM, type_code: str) -> list[str]:
    kind = await crm.classifiers.by_code("activity_type", type_code)
    assert kind is not None
    return [o.code for o in await crm.classifiers.outcomes_for(kind.id)]


async def test_outcomes_and_their_contact_types(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    mark = await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    # The pairs the code used to hard-wire came over with the migration.
    assert await offered_codes(crm, "email") == ["sent"]
    assert "sent" not in await offered_codes(crm, "call")
    assert await offered_codes(crm, "meeting") == ["interested", "agreed", "not_interested"]

    added = await crm.classifiers.add(mark, "outcome", "Оставил сообщение", "Left a voicemail")
    # A new outcome is offered after every kind of contact; the built-in lists stay.
    for kind in ("call", "email", "meeting"):
        assert "left_a_voicemail" in await offered_codes(crm, kind)
    assert await offered_codes(crm, "email") == ["sent", "left_a_voicemail"]
    calls = await h.press(MARK, ClsItemCD(kind=Kind.OUTCOME, id=added.id,
                                          action=ItemAction.OPEN).pack())
    assert "Offered after: Call, Meeting, Demo, E-mail" in last_text(calls)

    # The marketer narrows it to calls only, on the outcome's screen, tapping twice.
    calls = await h.press(MARK, button(calls, "After which contacts"))
    meeting = await crm.classifiers.by_code("activity_type", "meeting")
    assert meeting is not None
    off = button(calls, "✅ Meeting")
    await h.press(MARK, off)
    calls = await h.press(MARK, off)
    assert "▫️ Meeting" in names(calls) and "✅ Call" in names(calls)
    assert "left_a_voicemail" not in await offered_codes(crm, "meeting")
    assert "left_a_voicemail" in await offered_codes(crm, "call")
    assert (await audit_actions(crm)).count("classifier.outcome_unlinked") == 1

    # Logging a meeting no longer offers it; a call does.
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    cid = (await client(crm, max_, "Ромашка")).id
    call = await crm.classifiers.by_code("activity_type", "call")
    assert call is not None
    calls = await h.press(MAX, LogTypeCD(client_id=cid, type_id=meeting.id).pack())
    assert "Left a voicemail" not in names(calls) and "Agreed" in names(calls)
    calls = await h.press(MAX, LogTypeCD(client_id=cid, type_id=call.id).pack())
    assert "Left a voicemail" in names(calls)

    # A manager's forged toggle changes nothing.
    calls = await h.press(MAX, ClsLinkCD(kind=Kind.OUTCOME, id=added.id, other=meeting.id,
                                         on=True).pack())
    assert REFUSED in alerts(calls)
    assert "left_a_voicemail" not in await offered_codes(crm, "meeting")

    # On a kind's screen: e-mail keeps at least one outcome.
    email = await crm.classifiers.by_code("activity_type", "email")
    assert email is not None
    calls = await h.press(MARK, ClsItemCD(kind=Kind.ACTIVITY_TYPE, id=email.id,
                                          action=ItemAction.OPEN).pack())
    assert "Outcomes offered: Sent, Left a voicemail" in last_text(calls)
    calls = await h.press(MARK, button(calls, "Which outcomes"))
    calls = await h.press(MARK, button(calls, "✅ Left a voicemail"))
    calls = await h.press(MARK, button(calls, "✅ Sent"))
    assert any("needs at least one" in a for a in alerts(calls) + texts(calls))
    assert await offered_codes(crm, "email") == ["sent"]

    # A new kind of contact offers every shown outcome until narrowed.
    fax = await crm.classifiers.add(mark, "activity_type", "Факс", "Fax")
    assert await offered_codes(crm, "fax") == [o.code for o in await crm.classifiers.items(
        "outcome")]
    assert fax.id


def test_generated_codes() -> None:
    assert make_code("Kazan", "Казань", set(), "region") == "kazan"
    assert make_code("Kazan", "Казань", {"kazan"}, "region") == "kazan_2"
    assert make_code("Казань", "Казань", set(), "region") == "kazan"
    assert make_code("Щёлково и ёлки", "", set(), "region") == "shchelkovo_i_elki"
    assert make_code("🙂", "!!!", {"region"}, "region") == "region_2"
    assert len(make_code("x" * 100, "", set(), "region")) <= 24


async def test_pages_of_a_long_list(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    mark = await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    for i in range(25):
        await crm.classifiers.add(mark, "industry", f"Отрасль {i:02d}", f"Industry {i:02d}")
    calls = await h.press(MARK, ClsListCD(kind=Kind.INDUSTRY, page=0).pack())
    assert "▶️" in names(calls) and "◀️" not in names(calls)
    calls = await h.press(MARK, button(calls, "▶️"))
    assert "Industry 24" in names(calls) and "◀️" in names(calls)
    # A forged page far beyond the end shows the last one.
    calls = await h.press(MARK, ClsListCD(kind=Kind.INDUSTRY, page=999).pack())
    assert "Industry 24" in names(calls)
    assert all(len(data.encode()) <= 64 for _, data in buttons(calls))


async def test_forged_target_stage_changes_nothing(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    await deal_at_first_stage(crm, max_, "One")
    stages = await crm.classifiers.stages()
    # A target button with no hiding form open: the form is over.
    calls = await h.press(ANNA, StgTargetCD(id=stages[1].id, step=12345).pack())
    assert "no longer active" in alerts(calls)[0]
    calls = await h.press(ANNA, StgCD(id=stages[0].id, action=StageAction.HIDE).pack())
    target = button(calls, "➡️ Qualified")
    step = int(target.split(":")[-1])
    # A button naming the very stage being hidden (forged): refused, nothing moves.
    calls = await h.press(ANNA, StgTargetCD(id=stages[0].id, step=step).pack())
    assert "not available any more" in alerts(calls)[0]
    async with crm.db.transaction() as s:
        assert (await s.get(Stage, stages[0].id)).is_active  # type: ignore[union-attr]
        assert not (await s.scalars(select(Activity).where(
            Activity.event == "stage_changed"))).all()


async def test_hidden_values_stay_readable_in_history(h: Harness, any_crm: CRM) -> None:
    crm = any_crm
    mark = await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    ref = await client(crm, max_, "Acme")
    call = await crm.classifiers.by_code("activity_type", "call")
    reached = await crm.classifiers.by_code("outcome", "reached")
    price = await crm.classifiers.by_code("loss_reason", "price")
    assert call and reached and price
    await crm.history.log(max_, ref.id, call.id, reached.id, "Talked")
    deal = await deal_at_first_stage(crm, max_, "Lost one")
    await crm.deals.lose(max_, deal, price.id)
    for kind, value in (("activity_type", call), ("outcome", reached), ("loss_reason", price)):
        await crm.classifiers.set_hidden(mark, kind, value.id, True)
    # Gone from the pickers …
    assert "price" not in [r.code for r in await crm.deals.loss_reasons()]
    assert "call" not in [t.code for t in await crm.classifiers.items("activity_type")]
    # … but what used them still says what they were.
    page = await crm.history.page(max_, ref.id)
    contact = next(i for i in page.items if i.type is not None)
    assert contact.type is not None and contact.outcome is not None
    assert (contact.type.en, contact.outcome.en) == ("Call", "Reached")
    lost_client = (await crm.deals.deal(max_, deal)).client_id
    lost_page = await crm.history.page(max_, lost_client)
    assert lost_page.reasons["price"].en == "Price"
    assert (await crm.deals.deal(max_, deal)).loss_reason.en == "Price"  # type: ignore[union-attr]


async def test_two_people_add_the_same_value_at_once(any_crm: CRM) -> None:
    """Two chats, so no chat lock helps: the name check (SQLite, one writer) or the unique
    code (PostgreSQL) lets one through and tells the other it exists."""
    crm = any_crm
    mark = await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    anna = await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    for i in range(10):
        results = await asyncio.gather(
            crm.classifiers.add(mark, "source", f"Ярмарка {i}", f"Fair {i}"),
            crm.classifiers.add(anna, "source", f"Ярмарка {i}", f"Fair {i}"),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(refused) == 1 and refused[0].code == "classifier_exists", results
        async with crm.db.transaction() as s:
            assert await s.scalar(select(func.count()).select_from(ClassifierItem).where(
                ClassifierItem.name_en == f"Fair {i}")) == 1


async def test_no_open_deal_is_left_on_a_hidden_stage(any_crm: CRM) -> None:
    """A deal moving to a stage while the admin hides it: it either arrives first and is
    moved on with the others, or finds the stage hidden and is refused."""
    crm = any_crm
    anna = await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER)
    for i in range(8):
        stages = await crm.classifiers.stages()
        doomed, refuge = stages[-1], stages[0]
        deal = await deal_at_first_stage(crm, max_, f"Racer {i}")
        results = await asyncio.gather(
            crm.deals.move(max_, deal, doomed.id),
            crm.classifiers.hide_stage(anna, doomed.id, refuge.id),
            return_exceptions=True,
        )
        assert not [r for r in results if isinstance(r, Exception)
                    and not (isinstance(r, InvalidInput) and r.code == "stage")], results
        async with crm.db.transaction() as s:
            stuck = await s.scalar(select(func.count()).select_from(Deal).join(
                Stage, Stage.id == Deal.stage_id).where(
                Deal.status == "open", Stage.is_active.is_(False)))
            assert stuck == 0, i
        await crm.classifiers.show_stage(anna, doomed.id)


async def test_the_same_outcome_toggle_twice_at_once_writes_once(any_crm: CRM) -> None:
    """Two marketers (or a resent update) ask for the same pair at the same moment: one link
    is removed and put back once each, one audit entry per change, on both databases."""
    crm = any_crm
    mark = await person(crm, MARK.id, "Mark Marketer", Role.MARKETER)
    anna = await person(crm, ANNA.id, "Anna Admin", Role.ADMIN)
    call = await crm.classifiers.by_code("activity_type", "call")
    agreed = await crm.classifiers.by_code("outcome", "agreed")
    assert call is not None and agreed is not None
    off = await asyncio.gather(crm.classifiers.set_link(mark, call.id, agreed.id, False),
                               crm.classifiers.set_link(anna, call.id, agreed.id, False))
    assert sorted(off) == [False, True]
    assert "agreed" not in await offered_codes(crm, "call")
    on = await asyncio.gather(crm.classifiers.set_link(mark, call.id, agreed.id, True),
                              crm.classifiers.set_link(anna, call.id, agreed.id, True))
    assert sorted(on) == [False, True]
    assert "agreed" in await offered_codes(crm, "call")
    actions = await audit_actions(crm)
    assert actions.count("classifier.outcome_unlinked") == 1
    assert actions.count("classifier.outcome_linked") == 1
