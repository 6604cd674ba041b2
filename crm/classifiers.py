"""Classifier values (stages, activity types, outcomes, loss reasons, …) with labels."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.models import ClassifierItem, Stage
from storage.repo import classifiers as repo

KINDS = (
    "activity_type", "outcome", "loss_reason", "source", "region", "industry", "segment",
    "campaign",
)

# Which outcomes make sense after which kind of contact (by code). A kind not listed here
# (one the administrator added) offers every outcome.
OUTCOMES_FOR: dict[str, tuple[str, ...]] = {
    "call": ("reached", "no_answer", "call_back", "interested", "agreed", "not_interested"),
    "meeting": ("interested", "agreed", "not_interested"),
    "demo": ("interested", "agreed", "not_interested"),
    "email": ("sent",),
    "proposal": ("sent", "interested", "not_interested"),
}

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

    def text(self, locale: str) -> str:
        return self.ru if locale == "ru" else self.en


def outcomes_for(type_code: str, outcomes: Sequence[Label]) -> list[Label]:
    """The outcomes to offer after a contact of this kind, in the given order; all of them
    for a kind without a list, or when none of its listed outcomes exists (any more)."""
    wanted = OUTCOMES_FOR.get(type_code)
    fitting = [o for o in outcomes if wanted is None or o.code in wanted]
    return fitting or list(outcomes)


def loggable(types: Sequence[Label]) -> list[Label]:
    """The activity types a contact may be logged with by hand."""
    return [t for t in types if t.code not in CHECK_IN_ONLY]


def label(item: ClassifierItem) -> Label:
    return Label(item.id, item.code, item.name_ru, item.name_en)


def stage_info(stage: Stage) -> StageInfo:
    return StageInfo(
        stage.id, stage.code, stage.name_ru, stage.name_en, stage.sort_order,
        stage.probability, stage.stall_days,
    )


# The classifiers' version the current update read with its actor (bot/middlewares.py), or
# None outside an update. While it equals the version a worker's copy was loaded at, the copy
# is what the database holds as of that read: triggers bump the version on every change of
# classifier_items or stages (migration 0008), by any worker or by hand.
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

    def __init__(self, db: Database) -> None:
        self.db = db
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

    async def stages(self) -> list[StageInfo]:
        key = ("stages",)
        found: tuple[StageInfo, ...] | None = self._cached(key)
        if found is None:
            async with self.db.transaction(quick=True) as s:
                found = tuple(stage_info(st) for st in await repo.stages(s))
            self._keep(key, found)
        return list(found)
