"""Callback data and keyboards for invitations and people management."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.texts import role_name
from crm.dto import Person, TeamInfo
from crm.roles import Role


class InviteRoleCD(CallbackData, prefix="inv"):
    role: Role


class InviteTeamCD(CallbackData, prefix="invt"):
    role: Role
    team_id: int  # 0: no team


class PersonCD(CallbackData, prefix="ppl"):
    user_id: int
    action: str  # open, roles, teams, off, on


class PersonRoleCD(CallbackData, prefix="pplr"):
    user_id: int
    role: Role


class PersonTeamCD(CallbackData, prefix="pplt"):
    user_id: int
    team_id: int  # 0: no team


class LangCD(CallbackData, prefix="lang"):
    code: str


def invite_roles_kb(roles: tuple[Role, ...]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for role in roles:
        kb.button(text=role_name(role), callback_data=InviteRoleCD(role=role))
    kb.adjust(2)
    return kb.as_markup()


def invite_teams_kb(role: Role, teams: list[TeamInfo]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for team in teams:
        kb.button(text=team.name, callback_data=InviteTeamCD(role=role, team_id=team.id))
    kb.button(text=_("Without a team"), callback_data=InviteTeamCD(role=role, team_id=0))
    kb.adjust(2)
    return kb.as_markup()


def people_kb(people: list[Person]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for p in people:
        mark = "" if p.is_active else "⛔ "
        kb.button(text=f"{mark}{p.name[:40]}", callback_data=PersonCD(user_id=p.id, action="open"))
    kb.adjust(1)
    return kb.as_markup()


def person_kb(p: Person, can_manage: bool, can_vacation: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if can_vacation and p.is_active:
        if p.on_vacation:
            kb.button(text=_("🏁 Back from vacation"),
                      callback_data=PersonCD(user_id=p.id, action="back"))
        else:
            kb.button(text=_("🏖 On vacation"), callback_data=PersonCD(user_id=p.id, action="vac"))
    if can_manage:
        kb.button(text=_("Change role"), callback_data=PersonCD(user_id=p.id, action="roles"))
        kb.button(text=_("Change team"), callback_data=PersonCD(user_id=p.id, action="teams"))
        if p.is_active:
            kb.button(text=_("⛔ Deactivate"), callback_data=PersonCD(user_id=p.id, action="off"))
        else:
            kb.button(text=_("✅ Reactivate"), callback_data=PersonCD(user_id=p.id, action="on"))
    kb.button(text=_("« All people"), callback_data=PersonCD(user_id=0, action="list"))
    kb.adjust(2)
    return kb.as_markup()


def person_roles_kb(user_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for role in Role:
        kb.button(text=role_name(role), callback_data=PersonRoleCD(user_id=user_id, role=role))
    kb.button(text=_("« Back"), callback_data=PersonCD(user_id=user_id, action="open"))
    kb.adjust(2)
    return kb.as_markup()


def person_teams_kb(user_id: int, teams: list[TeamInfo]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for team in teams:
        kb.button(text=team.name, callback_data=PersonTeamCD(user_id=user_id, team_id=team.id))
    kb.button(text=_("Without a team"), callback_data=PersonTeamCD(user_id=user_id, team_id=0))
    kb.button(text=_("« Back"), callback_data=PersonCD(user_id=user_id, action="open"))
    kb.adjust(2)
    return kb.as_markup()


def lang_kb() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="🇷🇺 Русский", callback_data=LangCD(code="ru"))
    kb.button(text="🇬🇧 English", callback_data=LangCD(code="en"))
    return kb.as_markup()
