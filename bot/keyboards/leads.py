"""Callback data and keyboards of the leads queue: the queue, giving a lead to a manager,
the team's rule and the managers' territories. Everything is re-checked in crm.leads."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.keyboards.client import grid
from bot.keyboards.types import CD, DbId, Page
from crm.classifiers import Label
from crm.leads import Candidate, LeadItem, Queue, Rule


class LeadAction(StrEnum):
    QUEUE = "q"  # the queue (page)
    PICK = "pick"  # one lead: whom to give it to
    ASSIGN = "as"  # give the lead (id) to a person (user_id)
    APPLY = "apply"  # «By the rule»: every waiting lead
    RULES = "rules"  # the rule screen (team_id for an admin)
    TEAMS = "teams"  # an admin: which team's rule
    TERRITORIES = "terr"  # the territories of the team's managers
    PERSON = "person"  # one manager's territories


class LeadCD(CD, prefix="ld"):
    action: LeadAction
    id: DbId | None = None
    user_id: DbId | None = None
    team_id: DbId | None = None
    page: Page = 0


class LeadRuleCD(CD, prefix="ldr"):
    """Set a team's rule."""

    team_id: DbId
    rule: Rule


class TerritoryCD(CD, prefix="ldt"):
    """Put a region or an industry in (`on`) or out of a manager's territories: the state
    the button asks for, not a toggle, so a double tap does it once."""

    user_id: DbId
    item_id: DbId
    on: bool


def rule_name(rule: Rule) -> str:
    return {
        Rule.MANUAL: _("manual (from the queue)"),
        Rule.ROUND_ROBIN: _("round-robin"),
        Rule.LEAST_BUSY: _("least busy"),
        Rule.REGION: _("by region/industry"),
    }[rule]


def _b(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def leads_button(n: int) -> InlineKeyboardButton:
    return _b(_("📥 Leads ({n})").format(n=n), LeadCD(action=LeadAction.QUEUE))


def queue_kb(q: Queue, page: int, page_size: int) -> InlineKeyboardMarkup:
    rows = grid([_b(f"👤 {lead.name[:40]}", LeadCD(action=LeadAction.PICK, id=lead.id))
                 for lead in q.leads], 1)
    nav = []
    if page > 0:
        nav.append(_b("«", LeadCD(action=LeadAction.QUEUE, page=page - 1)))
    if (page + 1) * page_size < q.total:
        nav.append(_b("»", LeadCD(action=LeadAction.QUEUE, page=page + 1)))
    if nav:
        rows.append(nav)
    if q.total and (q.team_id is None or q.rule is not Rule.MANUAL):
        rows.append([_b(_("🎯 By the rule"), LeadCD(action=LeadAction.APPLY))])
    rows.append([
        _b(_("⚙️ Rule"), LeadCD(action=LeadAction.RULES, team_id=q.team_id)
           if q.team_id is not None else LeadCD(action=LeadAction.TEAMS)),
        _b(_("🗺 Territories"), LeadCD(action=LeadAction.TERRITORIES, team_id=q.team_id)),
    ])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def manager_label(c: Candidate, cap: int) -> str:
    mark = "🏖 " if c.on_vacation else "⛔ " if c.in_work >= cap else ""
    return _("{mark}{name} · {n} in work").format(mark=mark, name=c.name[:30], n=c.in_work)


def assign_kb(lead: LeadItem, managers: Sequence[Candidate], cap: int,
              me: int | None) -> InlineKeyboardMarkup:
    buttons = []
    if me is not None:
        buttons.append(_b(_("🙋 Take it myself"),
                          LeadCD(action=LeadAction.ASSIGN, id=lead.id, user_id=me)))
    buttons += [_b(manager_label(c, cap), LeadCD(action=LeadAction.ASSIGN, id=lead.id,
                                                 user_id=c.id))
                for c in managers]
    rows = grid(buttons, 1)
    rows.append([_b(_("« Queue"), LeadCD(action=LeadAction.QUEUE))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def rules_kb(team_id: int, current: Rule) -> InlineKeyboardMarkup:
    rows = grid([_b(("✅ " if r is current else "") + rule_name(r),
                    LeadRuleCD(team_id=team_id, rule=r)) for r in Rule], 1)
    rows.append([_b(_("« Queue"), LeadCD(action=LeadAction.QUEUE))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def teams_kb(teams: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    rows = grid([_b(name[:40], LeadCD(action=LeadAction.RULES, team_id=tid))
                 for tid, name in teams], 1)
    rows.append([_b(_("« Queue"), LeadCD(action=LeadAction.QUEUE))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def managers_kb(managers: Sequence[Candidate]) -> InlineKeyboardMarkup:
    rows = grid([_b(f"{c.name[:30]} · {len(c.territories)}",
                    LeadCD(action=LeadAction.PERSON, user_id=c.id)) for c in managers], 1)
    rows.append([_b(_("« Queue"), LeadCD(action=LeadAction.QUEUE))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def territory_kb(user_id: int, regions: Sequence[Label], industries: Sequence[Label],
                 chosen: set[int], loc: str) -> InlineKeyboardMarkup:
    """Regions, then industries (🏭), two a row; ✅ the manager's."""
    rows = grid([_b(("✅ " if r.id in chosen else "▫️ ") + r.text(loc)[:30],
                    TerritoryCD(user_id=user_id, item_id=r.id, on=r.id not in chosen))
                 for r in regions], 2)
    rows += grid([_b(("✅ " if r.id in chosen else "🏭 ") + r.text(loc)[:30],
                     TerritoryCD(user_id=user_id, item_id=r.id, on=r.id not in chosen))
                  for r in industries], 2)
    rows.append([_b(_("« Territories"), LeadCD(action=LeadAction.TERRITORIES))])
    return InlineKeyboardMarkup(inline_keyboard=rows)
