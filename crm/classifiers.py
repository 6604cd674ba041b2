"""Classifier values (stages, activity types, outcomes, loss reasons, …) with labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


class ClassifierService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def items(self, kind: str) -> list[Label]:
        async with self.db.transaction(quick=True) as s:
            return [label(i) for i in await repo.items(s, kind)]

    async def item(self, kind: str, item_id: int) -> Label | None:
        async with self.db.transaction(quick=True) as s:
            found = await repo.item(s, item_id)
            return label(found) if found is not None and found.kind == kind else None

    async def by_code(self, kind: str, code: str) -> Label | None:
        async with self.db.transaction(quick=True) as s:
            found = await repo.item_by_code(s, kind, code)
            return label(found) if found is not None else None

    async def stages(self) -> list[StageInfo]:
        async with self.db.transaction(quick=True) as s:
            return [stage_info(st) for st in await repo.stages(s)]
