"""Callback data and keyboards for invitations and people management."""

from __future__ import annotations

from enum import StrEnum

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.types import CD, DbId
from bot.texts import role_name
from crm.dto import Person, TeamInfo
from crm.roles import Role


class InviteRoleCD(CD, prefix="inv"):
    role: Role


class InviteTeamCD(CD, prefix="invt"):
    role: Role
    team_id: DbId | None = None  # None: no team


class UserAction(StrEnum):
    OPEN = "open"
    ROLES = "roles"
    TEAMS = "teams"
    DEACTIVATE = "off"
    REACTIVATE = "on"
    VACATION = "vac"
    BACK_TO_WORK = "back"
    ROUTE = "route"
    # Clients of a person (bot/handlers/client_admin.py).
    MOVE_CLIENTS = "mvc"
    MOVE_AND_OFF = "mvoff"
    KEEP_AND_OFF = "keepoff"


class UserCD(CD, prefix="ppl"):
    """A person (a user of the bot) on the people screens."""

    user_id: DbId
    action: UserAction


class PeopleListCD(CD, prefix="ppll"):
    """Back to the list of people."""


class PersonRoleCD(CD, prefix="pplr"):
    user_id: DbId
    role: Role


class PersonTeamCD(CD, prefix="pplt"):
    user_id: DbId
    team_id: DbId | None = None  # None: no team


class Lang(StrEnum):
    RU = "ru"
    EN = "en"


class LangCD(CD, prefix="lang"):
    code: Lang


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
    kb.button(text=_("Without a team"), callback_data=InviteTeamCD(role=role))
    kb.adjust(2)
    return kb.as_markup()


UA = UserAction


def _user(user_id: int, action: UserAction) -> UserCD:
    return UserCD(user_id=user_id, action=action)


def people_kb(people: list[Person]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for p in people:
        mark = "" if p.is_active else "⛔ "
        kb.button(text=f"{mark}{p.name[:40]}", callback_data=_user(p.id, UA.OPEN))
    kb.adjust(1)
    return kb.as_markup()


def person_kb(p: Person, can_manage: bool, can_vacation: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if can_vacation and p.is_active:
        if p.on_vacation:
            kb.button(text=_("🏁 Back from vacation"),
                      callback_data=_user(p.id, UA.BACK_TO_WORK))
        else:
            kb.button(text=_("🏖 On vacation"), callback_data=_user(p.id, UA.VACATION))
    if can_vacation:
        kb.button(text=_("🗺 Day's route"), callback_data=_user(p.id, UA.ROUTE))
        if p.role in (Role.MANAGER, Role.HEAD):
            kb.button(text=_("🔀 Move clients"), callback_data=_user(p.id, UA.MOVE_CLIENTS))
    if can_manage:
        kb.button(text=_("Change role"), callback_data=_user(p.id, UA.ROLES))
        kb.button(text=_("Change team"), callback_data=_user(p.id, UA.TEAMS))
        if p.is_active:
            kb.button(text=_("⛔ Deactivate"), callback_data=_user(p.id, UA.DEACTIVATE))
        else:
            kb.button(text=_("✅ Reactivate"), callback_data=_user(p.id, UA.REACTIVATE))
    kb.button(text=_("« All people"), callback_data=PeopleListCD())
    kb.adjust(2)
    return kb.as_markup()


def person_roles_kb(user_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for role in Role:
        kb.button(text=role_name(role), callback_data=PersonRoleCD(user_id=user_id, role=role))
    kb.button(text=_("« Back"), callback_data=UserCD(user_id=user_id, action=UserAction.OPEN))
    kb.adjust(2)
    return kb.as_markup()


def person_teams_kb(user_id: int, teams: list[TeamInfo]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for team in teams:
        kb.button(text=team.name, callback_data=PersonTeamCD(user_id=user_id, team_id=team.id))
    kb.button(text=_("Without a team"), callback_data=PersonTeamCD(user_id=user_id))
    kb.button(text=_("« Back"), callback_data=UserCD(user_id=user_id, action=UserAction.OPEN))
    kb.adjust(2)
    return kb.as_markup()


def lang_kb() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="🇷🇺 Русский", callback_data=LangCD(code=Lang.RU))
    kb.button(text="🇬🇧 English", callback_data=LangCD(code=Lang.EN))
    return kb.as_markup()
