"""Callback data and keyboards for moving, merging, archiving and restoring clients.

Each carries the step of the form prompt it belongs to (bot/forms.py): a double tap or a
button of a past prompt is refused before anything is written. Ids are re-checked in crm.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.keyboards.client import ClientAction, ClientCD, back_to_card, grid
from bot.keyboards.people import UserAction, UserCD
from bot.keyboards.types import CD, DbId, Step
from bot.texts import role_name
from crm.client_admin import Target
from crm.clients import ClientRef


class ReassignPickCD(CD, prefix="cmv"):
    """The person the clients go to."""

    step: Step
    user_id: DbId


class ReassignRuleCD(CD, prefix="cmvr"):
    """«By the team's rule» instead of a person."""

    step: Step


class ReassignDoCD(CD, prefix="cmvd"):
    """«Move» on the confirm screen."""

    step: Step


class MergePickCD(CD, prefix="cmg"):
    """The duplicate to merge into the card the merge started from."""

    step: Step
    client_id: DbId


class MergeDoCD(CD, prefix="cmgd"):
    step: Step


class ArchiveDoCD(CD, prefix="carc"):
    step: Step


def _b(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def back_to_person(user_id: int) -> InlineKeyboardButton:
    return _b(_("« Back"), UserCD(user_id=user_id, action=UserAction.OPEN))


def targets_kb(step: int, targets: Sequence[Target], back: InlineKeyboardButton,
               rule: str | None = None) -> InlineKeyboardMarkup:
    """The people to hand clients to; `rule` (the team's rule, named): «By the rule» first."""
    buttons = [
        _b(f"{t.name[:30]} · {role_name(t.role)} · {t.clients}",
           ReassignPickCD(step=step, user_id=t.id))
        for t in targets
    ]
    if rule is not None:
        buttons.insert(0, _b(_("🎯 By the team's rule: {rule}").format(rule=rule),
                             ReassignRuleCD(step=step)))
    return InlineKeyboardMarkup(inline_keyboard=[*grid(buttons, 1), [back]])


def confirm_move_kb(step: int, back: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("🔀 Move"), ReassignDoCD(step=step))], [back],
    ])


def merge_pick_kb(step: int, found: Sequence[ClientRef], survivor_id: int
                  ) -> InlineKeyboardMarkup:
    buttons = [_b(ref.name[:40], MergePickCD(step=step, client_id=ref.id)) for ref in found]
    return InlineKeyboardMarkup(inline_keyboard=[*grid(buttons, 1), [back_to_card(survivor_id)]])


def merge_confirm_kb(step: int, survivor_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("🧬 Merge"), MergeDoCD(step=step))], [back_to_card(survivor_id)],
    ])


def archive_confirm_kb(step: int, client_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("🗄 Archive"), ArchiveDoCD(step=step))], [back_to_card(client_id)],
    ])


def deactivate_kb(user_id: int) -> InlineKeyboardMarkup:
    """A manager with clients is being deactivated: what becomes of the clients."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("🔀 Move them all to…"), UserCD(user_id=user_id, action=UserAction.MOVE_AND_OFF))],
        [_b(_("Keep them and deactivate"),
            UserCD(user_id=user_id, action=UserAction.KEEP_AND_OFF))],
        [back_to_person(user_id)],
    ])


def moved_clients_kb(clients: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    """Under a notice of clients handed over: open the first few."""
    buttons = [_b(name[:40], ClientCD(id=cid, action=ClientAction.OPEN))
               for cid, name in clients[:5]]
    return InlineKeyboardMarkup(inline_keyboard=grid(buttons, 1)) if buttons else None
