"""Classifier values (stages, activity types, outcomes, loss reasons, …) with labels, and
their upkeep by marketers and administrators.

Nothing that history may point to is ever deleted: a value is *hidden* instead. A hidden value
is no longer offered in pickers, but a card, a history record or a report that uses it still
shows its name. Codes are generated once, when a value is added, and never change: history
events name stages and loss reasons by code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import can_edit_classifiers, can_edit_stages, require
from crm.clock import Clock, SystemClock
from crm.dto import Actor
from crm.errors import Conflict, InvalidInput, NotAvailable, valid_id
from storage.db import Database
from storage.models import ClassifierItem, Stage
from storage.repo import classifiers as repo
from storage.repo import people as people_repo

KINDS = (
    "activity_type", "outcome", "loss_reason", "source", "region", "industry", "segment",
    "campaign",
)

# Activity types written by a check-in only (crm/visits.py): a visit carries the place where
# it happened, so it is never picked by hand when logging a contact.
VISIT = "visit"
CHECK_IN_ONLY = frozenset({VISIT})


@dataclass(frozen=True, slots=True)
class Label:
    id: int
    code: str
    ru: str
    en: str
    active: bool = True

    def text(self, locale: str) -> str:
        return self.ru if locale == "ru" else self.en


@dataclass(frozen=True, slots=True)
class StageInfo:
    id: int
    code: str
    ru: str
    en: str
    order: int
    probability: int
    stall_days: int
    active: bool = True

    def text(self, locale: str) -> str:
        return self.ru if locale == "ru" else self.en


def offered(outcomes: Sequence[Label], linked: frozenset[int] | None) -> list[Label]:
    """The outcomes to offer after a kind of contact linked to `linked` (outcome ids), in
    the given order; all of them when the kind has no link to any of them (a kind nobody
    has set up yet, or whose outcomes are all hidden), so logging never hits a dead end."""
    fitting = [o for o in outcomes if linked and o.id in linked]
    return fitting or list(outcomes)


def loggable(types: Sequence[Label]) -> list[Label]:
    """The activity types a contact may be logged with by hand."""
    return [t for t in types if t.code not in CHECK_IN_ONLY]


def label(item: ClassifierItem) -> Label:
    return Label(item.id, item.code, item.name_ru, item.name_en, bool(item.is_active))


def stage_info(stage: Stage) -> StageInfo:
    return StageInfo(
        stage.id, stage.code, stage.name_ru, stage.name_en, stage.sort_order,
        stage.probability, stage.stall_days, bool(stage.is_active),
    )


# --- upkeep rules ------------------------------------------------------------------------

NAME_MAX = 100
CODE_MAX = 24  # of the 32 the column holds: room for a "_2" against a clash
STALL_DAYS_MAX = 365
_SPACES = re.compile(r"\s+")
_NOT_CODE = re.compile(r"[^a-z0-9]+")
_TRANSLIT = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
     "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
    strict=True,
))


def clean_name(text: str) -> str:
    """A value's label as typed: spaces collapsed, 1 to 100 characters."""
    name = _SPACES.sub(" ", text or "").strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput("classifier_name")
    return name


def make_code(en: str, ru: str, taken: set[str], fallback: str) -> str:
    """A stable code for a new value: the English name as a slug (the Russian one
    transliterated when the English has no Latin letters), unique among `taken`."""
    def slug(text: str) -> str:
        latin = "".join(_TRANSLIT.get(ch, ch) for ch in text.casefold())
        return _NOT_CODE.sub("_", latin).strip("_")[:CODE_MAX].strip("_")

    base = slug(en) or slug(ru) or fallback
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}_{n}"
    return code


def check_probability(value: int) -> int:
    if not 0 <= value <= 100:
        raise InvalidInput("probability")
    return value


def check_stall_days(value: int) -> int:
    if not 1 <= value <= STALL_DAYS_MAX:
        raise InvalidInput("stall_days")
    return value


def parse_whole(text: str, error: str) -> int:
    """A whole number typed ("75", "75 %", "10 дн"), or InvalidInput(error)."""
    found = re.fullmatch(r"\s*(\d{1,4})\s*(?:%|дн\.?|дней|дня|день|days?|d)?\s*", text or "",
                         re.IGNORECASE)
    if found is None:
        raise InvalidInput(error)
    return int(found[1])


def _clash(names: Sequence[tuple[int, str, str]], ru: str, en: str, own_id: int | None) -> str:
    """The name another value already has (either language, any letter case), or ''."""
    wanted = {ru.casefold(), en.casefold()}
    for other_id, other_ru, other_en in names:
        if other_id == own_id:
            continue
        for name in (other_ru, other_en):
            if name.casefold() in wanted:
                return name
    return ""


def reordered(rows: Sequence[Any], row_id: int, position: int) -> bool:
    """Put the row at `position` (0-based, clamped) among `rows` and number them all again
    (10, 20, …). Setting a place rather than stepping: a double tap moves it no further."""
    order = [r for r in rows if r.id != row_id]
    moving = next(r for r in rows if r.id == row_id)
    order.insert(max(0, min(position, len(order))), moving)
    changed = False
    for i, r in enumerate(order, start=1):
        if r.sort_order != i * 10:
            r.sort_order = i * 10
            changed = True
    return changed


async def _flush_new(s: AsyncSession, name: str) -> None:
    """Write a new value. Two people adding the same name at the same moment (PostgreSQL
    lets both pass the name check) clash on its code: the second is told it exists."""
    try:
        await s.flush()
    except IntegrityError as err:
        raise Conflict("classifier_exists", name=name) from err


@dataclass(frozen=True, slots=True)
class StageRow:
    """A stage on the administrator's screen: with its place and the open deals on it."""

    stage: StageInfo
    position: int  # 0-based among all stages, hidden ones included
    total: int
    open_deals: int


@dataclass(frozen=True, slots=True)
class HiddenStage:
    stage: StageInfo
    moved: int
    target: StageInfo | None


# The classifiers' version the current update read with its actor (bot/middlewares.py), or
# None outside an update. While it equals the version a worker's copy was loaded at, the copy
# is what the database holds as of that read: triggers bump the version on every change of
# classifier_items or stages (migration 0013), by any worker or by hand.
_SEEN: ContextVar[int | None] = ContextVar("classifiers_version", default=None)


@contextmanager
def seen(version: int | None) -> Iterator[None]:
    """Within it, ClassifierService answers from its copy when the copy is of `version`."""
    token = _SEEN.set(version)
    try:
        yield
    finally:
        _SEEN.reset(token)


class ClassifierService:
    """Classifier lookups. Inside an update (see `seen`) answers are kept per worker and
    reused while the version read with the actor stays the same; elsewhere (the scheduler,
    a direct call) they are read from the database every time."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self._version: int | None = None
        self._copy: dict[tuple[str, ...], Any] = {}

    def _cached(self, key: tuple[str, ...]) -> Any:
        version = _SEEN.get()
        if version is None or version != self._version:
            return None
        return self._copy.get(key)

    def _keep(self, key: tuple[str, ...], value: Any) -> None:
        version = _SEEN.get()
        if version is None or value is None:
            return
        if version != self._version:
            # Read after the version was: at least as new as it, never older.
            self._copy = {}
            self._version = version
        self._copy[key] = value

    async def items(self, kind: str) -> list[Label]:
        key = ("items", kind)
        found: tuple[Label, ...] | None = self._cached(key)
        if found is None:
            async with self.db.transaction(quick=True) as s:
                found = tuple(label(i) for i in await repo.items(s, kind))
            self._keep(key, found)
        return list(found)

    async def item(self, kind: str, item_id: int) -> Label | None:
        key = ("item", kind, str(item_id))
        cached: Label | None = self._cached(key)
        if cached is not None:
            return cached
        async with self.db.transaction(quick=True) as s:
            found = await repo.item(s, item_id)
            result = label(found) if found is not None and found.kind == kind else None
        self._keep(key, result)
        return result

    async def by_code(self, kind: str, code: str) -> Label | None:
        key = ("code", kind, code)
        cached: Label | None = self._cached(key)
        if cached is not None:
            return cached
        async with self.db.transaction(quick=True) as s:
            found = await repo.item_by_code(s, kind, code)
            result = label(found) if found is not None else None
        self._keep(key, result)
        return result

    async def links(self) -> dict[int, frozenset[int]]:
        """Kind of contact → the outcomes offered after it (ids)."""
        key = ("links",)
        found: dict[int, frozenset[int]] | None = self._cached(key)
        if found is None:
            pairs: dict[int, set[int]] = {}
            async with self.db.transaction(quick=True) as s:
                for type_id, outcome_id in await repo.outcome_links(s):
                    pairs.setdefault(type_id, set()).add(outcome_id)
            found = {t: frozenset(o) for t, o in pairs.items()}
            self._keep(key, found)
        return found

    async def outcomes_for(self, type_id: int) -> list[Label]:
        """The shown outcomes offered after this kind of contact, in their order."""
        linked = (await self.links()).get(type_id)
        return offered(await self.items("outcome"), linked)

    async def link_view(self, actor: Actor, kind: str, item_id: int) -> list[tuple[Label, bool]]:
        """For an outcome: the shown kinds of contact, each with whether it offers it; for a
        kind of contact: the shown outcomes, each with whether it is offered after it."""
        require(can_edit_classifiers(actor))
        if kind not in ("outcome", "activity_type"):
            raise InvalidInput("kind")
        other = "activity_type" if kind == "outcome" else "outcome"
        if await self.item(kind, valid_id(item_id)) is None:
            raise NotAvailable()
        links = await self.links()
        rows = await self.items(other)
        if kind == "outcome":
            rows = loggable(rows)
            return [(t, item_id in links.get(t.id, frozenset())) for t in rows]
        mine = links.get(item_id, frozenset())
        return [(o, o.id in mine) for o in rows]

    async def set_link(self, actor: Actor, type_id: int, outcome_id: int, on: bool) -> bool:
        """Offer (or stop offering) an outcome after a kind of contact. Idempotent: the
        button carries the state wanted, so a double tap changes nothing more. A kind keeps
        at least one outcome. Returns whether anything changed."""
        require(can_edit_classifiers(actor))
        async with self.db.transaction() as s:
            await repo.lock_kind(s, "outcome")
            kind = await self._own_item(s, "activity_type", type_id)
            outcome = await self._own_item(s, "outcome", outcome_id)
            linked = set(await repo.outcomes_linked(s, kind.id))
            if on == (outcome.id in linked):
                return False
            if on:
                await repo.link_outcome(s, kind.id, outcome.id)
            else:
                shown = {o.id for o in await repo.items(s, "outcome")}
                if not (linked - {outcome.id}) & shown:
                    raise Conflict("last_outcome")
                await repo.unlink_outcome(s, kind.id, outcome.id)
            self._audit(s, actor, "classifier.outcome_linked" if on else
                        "classifier.outcome_unlinked", "classifier_item", outcome.id,
                        {"type": kind.code, "outcome": outcome.code})
            return True

    async def labels(self, ids: set[int]) -> dict[int, Label]:
        """Values of any classifier by id, hidden ones too (what a card shows): inside an
        update, from the worker's copy of them all."""
        if not ids:
            return {}
        every: dict[int, Label] | None = self._cached(("labels",))
        if every is None:
            async with self.db.transaction(quick=True) as s:
                if _SEEN.get() is None:
                    return {i: label(x) for i, x in (await repo.items_by_ids(s, ids)).items()}
                every = {x.id: label(x) for x in await repo.all_items(s)}
            self._keep(("labels",), every)
        return {i: every[i] for i in ids if i in every}

    async def stage_map(self) -> dict[int, StageInfo]:
        """Every stage by id, hidden ones too (where an open deal may still sit)."""
        found: dict[int, StageInfo] | None = self._cached(("stage_map",))
        if found is None:
            async with self.db.transaction(quick=True) as s:
                found = {st.id: stage_info(st)
                         for st in await repo.stages(s, active_only=False)}
            self._keep(("stage_map",), found)
        return found

    async def stages(self) -> list[StageInfo]:
        key = ("stages",)
        found: tuple[StageInfo, ...] | None = self._cached(key)
        if found is None:
            async with self.db.transaction(quick=True) as s:
                found = tuple(stage_info(st) for st in await repo.stages(s))
            self._keep(key, found)
        return list(found)

    async def event_names(
        self, *, fresh: bool = False
    ) -> tuple[dict[str, Label], dict[str, Label]]:
        """Every stage and every loss reason, hidden ones too, by code (history events name
        them by code). `fresh`: read now, not from the worker's copy."""
        key = ("event_names",)
        found: tuple[dict[str, Label], dict[str, Label]] | None = (
            None if fresh else self._cached(key))
        if found is None:
            async with self.db.transaction(quick=True) as s:
                stages = {st.code: Label(st.id, st.code, st.name_ru, st.name_en)
                          for st in await repo.stages(s, active_only=False)}
                reasons = {r.code: label(r)
                           for r in await repo.items(s, "loss_reason", active_only=False)}
            found = (stages, reasons)
            self._keep(key, found)
        return dict(found[0]), dict(found[1])

    # --- upkeep: classifier values (marketers and administrators) ---------------------------

    @staticmethod
    def _kind(kind: str) -> str:
        if kind not in KINDS:
            raise InvalidInput("kind")
        return kind

    def _audit(self, s: AsyncSession, actor: Actor, action: str, entity: str, entity_id: int,
               details: dict[str, Any]) -> None:
        people_repo.audit(s, actor.id, action, entity, entity_id, details, self.clock.now())

    async def _own_item(self, s: AsyncSession, kind: str, item_id: int) -> ClassifierItem:
        found = await repo.item(s, valid_id(item_id))
        if found is None or found.kind != kind:
            raise NotAvailable()
        return found

    async def counts(self, actor: Actor) -> dict[str, tuple[int, int]]:
        """kind → (shown, hidden), for the classifiers menu."""
        require(can_edit_classifiers(actor))
        async with self.db.transaction() as s:
            return await repo.item_counts(s)

    async def all_items(self, actor: Actor, kind: str) -> list[Label]:
        """Every value of the kind, hidden ones too, in their order."""
        require(can_edit_classifiers(actor))
        kind = self._kind(kind)
        async with self.db.transaction() as s:
            return [label(i) for i in await repo.items(s, kind, active_only=False)]

    async def add(self, actor: Actor, kind: str, ru: str, en: str) -> Label:
        require(can_edit_classifiers(actor))
        kind = self._kind(kind)
        ru, en = clean_name(ru), clean_name(en)
        async with self.db.transaction() as s:
            await repo.lock_kind(s, kind)
            rows = await repo.items(s, kind, active_only=False)
            clash = _clash([(r.id, r.name_ru, r.name_en) for r in rows], ru, en, None)
            if clash:
                # Also what a double tap or a resent message meets: the value is there.
                raise Conflict("classifier_exists", name=clash)
            code = make_code(en, ru, await repo.codes(s, kind), kind.split("_")[0])
            item = ClassifierItem(
                kind=kind, code=code, name_ru=ru, name_en=en, is_active=True,
                sort_order=max((r.sort_order for r in rows), default=0) + 10,
            )
            s.add(item)
            await _flush_new(s, ru)
            # A new outcome is offered after every kind of contact, a new kind offers every
            # outcome; the pairs are then narrowed on the outcome's or the kind's screen.
            if kind == "outcome":
                await repo.link_all(s, outcome_id=item.id)
            elif kind == "activity_type":
                await repo.link_all(s, type_id=item.id)
            self._audit(s, actor, "classifier.added", "classifier_item", item.id,
                        {"kind": kind, "code": code, "ru": ru, "en": en})
            return label(item)

    async def rename(self, actor: Actor, kind: str, item_id: int, ru: str, en: str) -> Label:
        require(can_edit_classifiers(actor))
        kind = self._kind(kind)
        ru, en = clean_name(ru), clean_name(en)
        async with self.db.transaction() as s:
            await repo.lock_kind(s, kind)
            item = await self._own_item(s, kind, item_id)
            rows = await repo.items(s, kind, active_only=False)
            clash = _clash([(r.id, r.name_ru, r.name_en) for r in rows], ru, en, item.id)
            if clash:
                raise Conflict("classifier_exists", name=clash)
            if (item.name_ru, item.name_en) != (ru, en):
                self._audit(s, actor, "classifier.renamed", "classifier_item", item.id, {
                    "kind": kind, "code": item.code, "old": [item.name_ru, item.name_en],
                    "new": [ru, en]})
                item.name_ru, item.name_en = ru, en
            return label(item)

    async def move(self, actor: Actor, kind: str, item_id: int, position: int) -> Label:
        """Put the value at `position` (0-based) among all the values of its kind."""
        require(can_edit_classifiers(actor))
        kind = self._kind(kind)
        async with self.db.transaction() as s:
            item = await self._own_item(s, kind, item_id)
            rows = await repo.items(s, kind, active_only=False)
            if reordered(rows, item.id, position):
                self._audit(s, actor, "classifier.moved", "classifier_item", item.id,
                            {"kind": kind, "code": item.code, "position": position})
            return label(item)

    async def set_hidden(self, actor: Actor, kind: str, item_id: int, hidden: bool) -> Label:
        """Hide a value from the pickers (or show it again); what uses it keeps it."""
        require(can_edit_classifiers(actor))
        kind = self._kind(kind)
        async with self.db.transaction() as s:
            item = await self._own_item(s, kind, item_id)
            if item.is_active == hidden:
                item.is_active = not hidden
                self._audit(s, actor, "classifier.hidden" if hidden else "classifier.shown",
                            "classifier_item", item.id, {"kind": kind, "code": item.code})
            return label(item)

    # --- upkeep: pipeline stages (administrators) -----------------------------------------

    async def _own_stage(self, s: AsyncSession, stage_id: int, lock: bool = False) -> Stage:
        found = await repo.stage(s, valid_id(stage_id), lock=lock)
        if found is None:
            raise NotAvailable()
        return found

    async def stage_rows(self, actor: Actor) -> list[StageRow]:
        """Every stage, hidden ones too, in pipeline order, with its open deals."""
        require(can_edit_stages(actor))
        async with self.db.transaction() as s:
            stages = await repo.stages(s, active_only=False)
            deals = await repo.open_deals_by_stage(s)
            return [StageRow(stage_info(st), i, len(stages), deals.get(st.id, 0))
                    for i, st in enumerate(stages)]

    async def stage_row(self, actor: Actor, stage_id: int) -> StageRow:
        for row in await self.stage_rows(actor):
            if row.stage.id == stage_id:
                return row
        raise NotAvailable()

    async def add_stage(self, actor: Actor, ru: str, en: str, probability: int,
                        stall_days: int) -> StageInfo:
        """A new stage at the end of the pipeline."""
        require(can_edit_stages(actor))
        ru, en = clean_name(ru), clean_name(en)
        probability, stall_days = check_probability(probability), check_stall_days(stall_days)
        async with self.db.transaction() as s:
            rows = await repo.stages(s, active_only=False)
            clash = _clash([(r.id, r.name_ru, r.name_en) for r in rows], ru, en, None)
            if clash:
                raise Conflict("classifier_exists", name=clash)
            code = make_code(en, ru, await repo.stage_codes(s), "stage")
            stage = Stage(
                code=code, name_ru=ru, name_en=en, probability=probability,
                stall_days=stall_days, is_active=True,
                sort_order=max((r.sort_order for r in rows), default=0) + 10,
            )
            s.add(stage)
            await _flush_new(s, ru)
            self._audit(s, actor, "stage.added", "stage", stage.id, {
                "code": code, "ru": ru, "en": en, "probability": probability,
                "stall_days": stall_days})
            return stage_info(stage)

    async def rename_stage(self, actor: Actor, stage_id: int, ru: str, en: str) -> StageInfo:
        require(can_edit_stages(actor))
        ru, en = clean_name(ru), clean_name(en)
        async with self.db.transaction() as s:
            stage = await self._own_stage(s, stage_id)
            rows = await repo.stages(s, active_only=False)
            clash = _clash([(r.id, r.name_ru, r.name_en) for r in rows], ru, en, stage.id)
            if clash:
                raise Conflict("classifier_exists", name=clash)
            if (stage.name_ru, stage.name_en) != (ru, en):
                self._audit(s, actor, "stage.renamed", "stage", stage.id, {
                    "code": stage.code, "old": [stage.name_ru, stage.name_en], "new": [ru, en]})
                stage.name_ru, stage.name_en = ru, en
            return stage_info(stage)

    async def move_stage(self, actor: Actor, stage_id: int, position: int) -> StageInfo:
        require(can_edit_stages(actor))
        async with self.db.transaction() as s:
            stage = await self._own_stage(s, stage_id)
            if reordered(await repo.stages(s, active_only=False), stage.id, position):
                self._audit(s, actor, "stage.moved", "stage", stage.id,
                            {"code": stage.code, "position": position})
            return stage_info(stage)

    async def set_stage_probability(self, actor: Actor, stage_id: int,
                                    probability: int) -> StageInfo:
        """The probability a deal gets when it enters the stage (deals already there keep
        theirs)."""
        require(can_edit_stages(actor))
        probability = check_probability(probability)
        async with self.db.transaction() as s:
            stage = await self._own_stage(s, stage_id)
            if stage.probability != probability:
                self._audit(s, actor, "stage.probability", "stage", stage.id, {
                    "code": stage.code, "old": stage.probability, "new": probability})
                stage.probability = probability
            return stage_info(stage)

    async def set_stage_stall_days(self, actor: Actor, stage_id: int,
                                   stall_days: int) -> StageInfo:
        require(can_edit_stages(actor))
        stall_days = check_stall_days(stall_days)
        async with self.db.transaction() as s:
            stage = await self._own_stage(s, stage_id)
            if stage.stall_days != stall_days:
                self._audit(s, actor, "stage.stall_days", "stage", stage.id, {
                    "code": stage.code, "old": stage.stall_days, "new": stall_days})
                stage.stall_days = stall_days
            return stage_info(stage)

    async def show_stage(self, actor: Actor, stage_id: int) -> StageInfo:
        require(can_edit_stages(actor))
        async with self.db.transaction() as s:
            stage = await self._own_stage(s, stage_id)
            if not stage.is_active:
                stage.is_active = True
                self._audit(s, actor, "stage.shown", "stage", stage.id, {"code": stage.code})
            return stage_info(stage)

    async def hide_stage(self, actor: Actor, stage_id: int,
                         target_id: int | None = None) -> HiddenStage:
        """Hide a stage. Its open deals move to the target stage first, each with a
        stage-change record in its history, all in this one transaction; without a target a
        stage with open deals stays (Conflict "stage_has_deals"). Hiding a hidden stage
        again changes nothing (a double tap)."""
        from crm.deals import record  # crm.deals builds on this module

        require(can_edit_stages(actor))
        now = self.clock.now()
        async with self.db.transaction() as s:
            # Locked first: a deal moving to this stage meanwhile either lands before (and is
            # moved on below) or finds the stage hidden (crm.deals reads it shared).
            stage = await self._own_stage(s, stage_id, lock=True)
            if not stage.is_active:
                return HiddenStage(stage_info(stage), 0, None)
            others = [st for st in await repo.stages(s) if st.id != stage.id]
            if not others:
                raise Conflict("last_stage")
            deals = await repo.open_deals_at(s, stage.id)
            target: Stage | None = None
            if deals:
                if target_id is None:
                    raise Conflict("stage_has_deals", n=len(deals))
                target = next((st for st in others if st.id == target_id), None)
                if target is None:
                    raise InvalidInput("stage")
                for deal in deals:
                    deal.stage_id = target.id
                    deal.probability = target.probability
                    deal.stage_changed_at = now
                    record(s, actor, deal, "stage_changed",
                           {"from": stage.code, "to": target.code, "why": "stage_hidden"},
                           now, audit_action="deal.stage")
            stage.is_active = False
            details: dict[str, Any] = {"code": stage.code, "moved": len(deals)}
            if target is not None:
                details["to"] = target.code
            self._audit(s, actor, "stage.hidden", "stage", stage.id, details)
            return HiddenStage(stage_info(stage), len(deals),
                               stage_info(target) if target is not None else None)
