"""Callback data and keyboards of the classifiers and the pipeline stages (upkeep by
marketers and administrators).

Buttons that change something carry the result, not a step: «up» carries the place the value
goes to, «hide» carries hidden=true. A double tap then changes nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.keyboards.settings import SetAction, SetCD
from bot.keyboards.types import CD, DbId, Page, Step
from bot.render import current_locale
from crm.classifiers import Label, StageRow
from crm.dto import Actor
from crm.roles import Role

PAGE_SIZE = 20
Position = Annotated[int, Field(ge=0, le=10_000)]
# A quick answer at the probability (0–100) or stall-days (1–365) step.
QuickValue = Annotated[int, Field(ge=0, le=365)]
PROBABILITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
STALL_DAYS = (3, 5, 7, 10, 14, 21, 30, 60)


class Kind(StrEnum):
    REGION = "region"
    INDUSTRY = "industry"
    SEGMENT = "segment"
    SOURCE = "source"
    CAMPAIGN = "campaign"
    LOSS_REASON = "loss_reason"
    ACTIVITY_TYPE = "activity_type"
    OUTCOME = "outcome"


class ClsAction(StrEnum):
    MENU = "menu"  # the list of classifiers
    STAGES = "stages"  # the pipeline's stages
    ADD_STAGE = "addst"


class ItemAction(StrEnum):
    OPEN = "open"
    RENAME = "ren"
    HIDE = "hide"
    SHOW = "show"
    LINKS = "links"  # which outcomes follow which kinds of contact


class StageAction(StrEnum):
    OPEN = "open"
    RENAME = "ren"
    PROBABILITY = "prob"
    STALL = "stall"
    HIDE = "hide"
    SHOW = "show"


class FormAction(StrEnum):
    SAME = "same"  # the second language's name is the same as the first's
    KEEP = "keep"  # keep the name this step asks about as it is
    CANCEL = "cancel"


class ClsCD(CD, prefix="cls"):
    action: ClsAction


class ClsListCD(CD, prefix="clsl"):
    kind: Kind
    page: Page


class ClsAddCD(CD, prefix="clsa"):
    kind: Kind


class ClsItemCD(CD, prefix="clsi"):
    kind: Kind
    id: DbId
    action: ItemAction


class ClsMoveCD(CD, prefix="clsmv"):
    kind: Kind
    id: DbId
    pos: Position


class ClsLinkCD(CD, prefix="clslk"):
    """Offer an outcome after a kind of contact (on=True) or not; drawn on the screen of
    `kind` (an outcome or a kind of contact) `id`, the other side being `other`. The button
    carries the state wanted, so a double tap changes nothing more."""

    kind: Kind
    id: DbId
    other: DbId
    on: bool


class ClsFormCD(CD, prefix="clsf"):
    action: FormAction
    step: Step


class StgCD(CD, prefix="stg"):
    id: DbId
    action: StageAction


class StgMoveCD(CD, prefix="stgmv"):
    id: DbId
    pos: Position


class StgValueCD(CD, prefix="stgv"):
    """A quick answer to the probability or the stall-days question."""

    value: QuickValue
    step: Step


class StgTargetCD(CD, prefix="stgt"):
    """The stage the open deals of a stage being hidden move to."""

    id: DbId
    step: Step


def kind_title(kind: str) -> str:
    """A classifier's name, as a list of values."""
    return {
        "region": _("Regions"),
        "industry": _("Industries"),
        "segment": _("Segments"),
        "source": _("Sources"),
        "campaign": _("Campaigns"),
        "loss_reason": _("Loss reasons"),
        "activity_type": _("Contact types"),
        "outcome": _("Contact outcomes"),
    }[kind]


def settings_rows(actor: Actor) -> list[list[InlineKeyboardButton]]:
    """The entries on the ⚙️ Settings screen for those who keep the classifiers."""
    rows = []
    if actor.role in (Role.ADMIN, Role.MARKETER):
        rows.append([InlineKeyboardButton(
            text=_("🗂 Classifiers"), callback_data=ClsCD(action=ClsAction.MENU).pack())])
    if actor.role is Role.ADMIN:
        rows.append([InlineKeyboardButton(
            text=_("🪜 Sales stages"), callback_data=ClsCD(action=ClsAction.STAGES).pack())])
    return rows


def menu_kb(counts: dict[str, tuple[int, int]], stages: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind in Kind:
        shown, _hidden = counts.get(kind.value, (0, 0))
        kb.button(text=f"{kind_title(kind)} ({shown})", callback_data=ClsListCD(kind=kind, page=0))
    if stages:
        kb.button(text=_("🪜 Sales stages"), callback_data=ClsCD(action=ClsAction.STAGES))
    kb.button(text=_("« Settings"), callback_data=SetCD(action=SetAction.MAIN))
    kb.adjust(2)
    return kb.as_markup()


def list_kb(kind: Kind, items: Sequence[Label], page: int) -> InlineKeyboardMarkup:
    loc = current_locale()
    kb = InlineKeyboardBuilder()
    chunk = items[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    for item in chunk:
        mark = "" if item.active else "🙈 "
        kb.button(text=mark + item.text(loc),
                  callback_data=ClsItemCD(kind=kind, id=item.id, action=ItemAction.OPEN))
    kb.adjust(2)
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(
            text="◀️", callback_data=ClsListCD(kind=kind, page=page - 1).pack()))
    if (page + 1) * PAGE_SIZE < len(items):
        nav.append(InlineKeyboardButton(
            text="▶️", callback_data=ClsListCD(kind=kind, page=page + 1).pack()))
    if nav:
        kb.row(*nav)
    kb.row(InlineKeyboardButton(text=_("➕ Add"), callback_data=ClsAddCD(kind=kind).pack()))
    kb.row(InlineKeyboardButton(text=_("« Classifiers"),
                                callback_data=ClsCD(action=ClsAction.MENU).pack()))
    return kb.as_markup()


def item_kb(kind: Kind, item: Label, position: int, total: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    moves = []
    if position > 0:
        moves.append(InlineKeyboardButton(text=_("⬆️ Up"), callback_data=ClsMoveCD(
            kind=kind, id=item.id, pos=position - 1).pack()))
    if position < total - 1:
        moves.append(InlineKeyboardButton(text=_("⬇️ Down"), callback_data=ClsMoveCD(
            kind=kind, id=item.id, pos=position + 1).pack()))
    if moves:
        kb.row(*moves)
    kb.row(InlineKeyboardButton(text=_("✏️ Rename"), callback_data=ClsItemCD(
        kind=kind, id=item.id, action=ItemAction.RENAME).pack()))
    if kind in (Kind.OUTCOME, Kind.ACTIVITY_TYPE):
        text = (_("🔗 After which contacts") if kind is Kind.OUTCOME
                else _("🔗 Which outcomes"))
        kb.row(InlineKeyboardButton(text=text, callback_data=ClsItemCD(
            kind=kind, id=item.id, action=ItemAction.LINKS).pack()))
    if item.active:
        kb.row(InlineKeyboardButton(text=_("🙈 Hide"), callback_data=ClsItemCD(
            kind=kind, id=item.id, action=ItemAction.HIDE).pack()))
    else:
        kb.row(InlineKeyboardButton(text=_("👁 Show again"), callback_data=ClsItemCD(
            kind=kind, id=item.id, action=ItemAction.SHOW).pack()))
    kb.row(InlineKeyboardButton(text=f"« {kind_title(kind)}", callback_data=ClsListCD(
        kind=kind, page=position // PAGE_SIZE).pack()))
    return kb.as_markup()


def links_kb(kind: Kind, item_id: int,
             rows: Sequence[tuple[Label, bool]]) -> InlineKeyboardMarkup:
    """Toggles: ✅ offered / ▫️ not, each button asking for the other state."""
    loc = current_locale()
    kb = InlineKeyboardBuilder()
    for other, on in rows:
        kb.button(text=("✅ " if on else "▫️ ") + other.text(loc), callback_data=ClsLinkCD(
            kind=kind, id=item_id, other=other.id, on=not on))
    kb.adjust(2)
    kb.row(InlineKeyboardButton(text=_("« Back"), callback_data=ClsItemCD(
        kind=kind, id=item_id, action=ItemAction.OPEN).pack()))
    return kb.as_markup()


def name_kb(step: int, keep: str | None = None, same: str | None = None) -> InlineKeyboardMarkup:
    """The buttons of a name question: keep the current name, take the other language's."""
    kb = InlineKeyboardBuilder()
    if same is not None:
        kb.button(text=_("= «{name}»").format(name=same),
                  callback_data=ClsFormCD(action=FormAction.SAME, step=step))
    if keep is not None:
        kb.button(text=_("Keep «{name}»").format(name=keep),
                  callback_data=ClsFormCD(action=FormAction.KEEP, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=ClsFormCD(action=FormAction.CANCEL, step=step))
    kb.adjust(1)
    return kb.as_markup()


def stages_kb(rows: Sequence[StageRow]) -> InlineKeyboardMarkup:
    loc = current_locale()
    kb = InlineKeyboardBuilder()
    for row in rows:
        mark = "" if row.stage.active else "🙈 "
        kb.button(text=f"{mark}{row.position + 1}. {row.stage.text(loc)}",
                  callback_data=StgCD(id=row.stage.id, action=StageAction.OPEN))
    kb.button(text=_("➕ Add a stage"), callback_data=ClsCD(action=ClsAction.ADD_STAGE))
    kb.button(text=_("« Settings"), callback_data=SetCD(action=SetAction.MAIN))
    kb.adjust(1)
    return kb.as_markup()


def stage_kb(row: StageRow) -> InlineKeyboardMarkup:
    st = row.stage
    kb = InlineKeyboardBuilder()
    moves = []
    if row.position > 0:
        moves.append(InlineKeyboardButton(text=_("⬆️ Up"), callback_data=StgMoveCD(
            id=st.id, pos=row.position - 1).pack()))
    if row.position < row.total - 1:
        moves.append(InlineKeyboardButton(text=_("⬇️ Down"), callback_data=StgMoveCD(
            id=st.id, pos=row.position + 1).pack()))
    if moves:
        kb.row(*moves)
    kb.row(InlineKeyboardButton(text=_("✏️ Rename"), callback_data=StgCD(
        id=st.id, action=StageAction.RENAME).pack()))
    kb.row(
        InlineKeyboardButton(text=_("🎯 Probability"), callback_data=StgCD(
            id=st.id, action=StageAction.PROBABILITY).pack()),
        InlineKeyboardButton(text=_("⏳ Stall days"), callback_data=StgCD(
            id=st.id, action=StageAction.STALL).pack()),
    )
    if st.active:
        kb.row(InlineKeyboardButton(text=_("🙈 Hide"), callback_data=StgCD(
            id=st.id, action=StageAction.HIDE).pack()))
    else:
        kb.row(InlineKeyboardButton(text=_("👁 Show again"), callback_data=StgCD(
            id=st.id, action=StageAction.SHOW).pack()))
    kb.row(InlineKeyboardButton(text=_("« Stages"),
                                callback_data=ClsCD(action=ClsAction.STAGES).pack()))
    return kb.as_markup()


def values_kb(step: int, values: Sequence[int], suffix: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for value in values:
        kb.button(text=f"{value}{suffix}", callback_data=StgValueCD(value=value, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=ClsFormCD(action=FormAction.CANCEL, step=step))
    kb.adjust(5, 4, 1)
    return kb.as_markup()


def targets_kb(step: int, targets: Sequence[StageRow]) -> InlineKeyboardMarkup:
    loc = current_locale()
    kb = InlineKeyboardBuilder()
    for row in targets:
        kb.button(text=f"➡️ {row.stage.text(loc)}",
                  callback_data=StgTargetCD(id=row.stage.id, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=ClsFormCD(action=FormAction.CANCEL, step=step))
    kb.adjust(1)
    return kb.as_markup()
