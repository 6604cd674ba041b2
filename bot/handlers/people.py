"""/invite, /people, /newteam: admins and heads manage who may use the bot."""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.deep_linking import create_start_link
from aiogram.utils.i18n import gettext as _

from bot.handlers.client_admin import ask_before_deactivating
from bot.keyboards.leads import leads_button
from bot.keyboards.menu import BTN_INVITE, BTN_PEOPLE
from bot.keyboards.people import (
    InviteRoleCD,
    InviteTeamCD,
    PeopleListCD,
    PersonRoleCD,
    PersonTeamCD,
    UserAction,
    UserCD,
    invite_roles_kb,
    invite_teams_kb,
    people_kb,
    person_kb,
    person_roles_kb,
    person_teams_kb,
)
from bot.render import fmt_datetime
from bot.texts import role_name
from crm.access import can_see_leads
from crm.dto import Actor, Person
from crm.errors import Forbidden
from crm.roles import Role, can_invite, can_list_people, can_manage_people, invitable_roles
from crm.service import CRM


async def cmd_invite(message: Message, actor: Actor, state: FSMContext) -> None:
    await state.set_state(None)
    if not can_invite(actor.role):
        raise Forbidden()
    await message.answer(
        _("Whom are you inviting? Choose the role:"),
        reply_markup=invite_roles_kb(invitable_roles(actor.role)),
    )


async def _send_invite(
    query: CallbackQuery, crm: CRM, actor: Actor, bot: Bot, role: Role, team_id: int | None
) -> None:
    link = await crm.people.create_invite(actor, role, team_id)
    url = await create_start_link(bot, link.token)
    text = _(
        "Invitation for the role <b>{role}</b>. Send this link to the person — it works "
        "once and expires {expires}:\n\n{url}"
    ).format(
        role=role_name(role),
        expires=fmt_datetime(link.expires_at, actor.tz),
        url=html.escape(url),
    )
    if isinstance(query.message, Message):
        await query.message.edit_text(text, disable_web_page_preview=True)
    await query.answer()


async def cb_invite_role(
    query: CallbackQuery, callback_data: InviteRoleCD, actor: Actor, crm: CRM, bot: Bot
) -> None:
    role = callback_data.role
    if role not in invitable_roles(actor.role):
        raise Forbidden()
    teams = await crm.people.teams(actor) if actor.role is Role.ADMIN else []
    if teams and role is not Role.ADMIN and isinstance(query.message, Message):
        await query.message.edit_text(
            _("Which team will the new {role} be in?").format(role=role_name(role)),
            reply_markup=invite_teams_kb(role, teams),
        )
        await query.answer()
        return
    await _send_invite(query, crm, actor, bot, role, None)


async def cb_invite_team(
    query: CallbackQuery, callback_data: InviteTeamCD, actor: Actor, crm: CRM, bot: Bot
) -> None:
    await _send_invite(
        query, crm, actor, bot, callback_data.role, callback_data.team_id
    )


def person_text(p: Person) -> str:
    lines = [
        f"<b>{html.escape(p.name)}</b>" + (f" (@{html.escape(p.username)})" if p.username else ""),
        _("Role: {role}").format(role=role_name(p.role)),
        _("Team: {team}").format(team=html.escape(p.team_name) if p.team_name else "—"),
        _("Status: {status}").format(
            status=_("active") if p.is_active else _("deactivated")
        ),
    ]
    if p.on_vacation:
        lines.append(_("On vacation"))
    return "\n".join(lines)


async def cmd_people(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await state.set_state(None)
    people = await crm.people.list_people(actor)
    await message.answer(
        _("People: {n}. Tap a name to see or change.").format(n=len(people)),
        reply_markup=with_leads(people_kb(people), actor, await crm.leads.waiting_count(actor)),
    )


def with_leads(kb: InlineKeyboardMarkup, actor: Actor, n: int) -> InlineKeyboardMarkup:
    """Heads and admins find their leads queue atop the team screen."""
    if not can_see_leads(actor):
        return kb
    return InlineKeyboardMarkup(inline_keyboard=[[leads_button(n)], *kb.inline_keyboard])


async def _edit(query: CallbackQuery, text: str, **kwargs: object) -> None:
    if query.message is None or isinstance(query.message, InaccessibleMessage):
        await query.answer()
        return
    await query.message.edit_text(text, **kwargs)  # type: ignore[arg-type]
    await query.answer()


async def cb_people_list(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    people = await crm.people.list_people(actor)
    await _edit(query, _("People: {n}. Tap a name to see or change.").format(n=len(people)),
                reply_markup=with_leads(people_kb(people), actor,
                                        await crm.leads.waiting_count(actor)))


def person_markup(actor: Actor, person: Person) -> InlineKeyboardMarkup:
    return person_kb(person, can_manage_people(actor.role), can_list_people(actor.role))


async def show_person(query: CallbackQuery, actor: Actor, person: Person) -> None:
    await _edit(query, person_text(person), reply_markup=person_markup(actor, person))


async def cb_person_open(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                         crm: CRM) -> None:
    await show_person(query, actor, await crm.people.person(actor, callback_data.user_id))


async def cb_person_roles(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                          crm: CRM) -> None:
    if not can_manage_people(actor.role):
        raise Forbidden()
    uid = callback_data.user_id
    person = await crm.people.person(actor, uid)
    await _edit(query, person_text(person) + "\n\n" + _("New role:"),
                reply_markup=person_roles_kb(uid))


async def cb_person_teams(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                          crm: CRM) -> None:
    if not can_manage_people(actor.role):
        raise Forbidden()
    uid = callback_data.user_id
    person = await crm.people.person(actor, uid)
    teams = await crm.people.teams(actor)
    await _edit(query, person_text(person) + "\n\n" + _("New team:"),
                reply_markup=person_teams_kb(uid, teams))


async def cb_person_active(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                           crm: CRM) -> None:
    if not can_manage_people(actor.role):
        raise Forbidden()
    if callback_data.action is UserAction.DEACTIVATE and await ask_before_deactivating(
        query, actor, crm, callback_data.user_id
    ):
        return  # their clients first: moved to someone, or kept (bot/handlers/client_admin)
    person = await crm.people.set_active(actor, callback_data.user_id,
                                         callback_data.action is UserAction.REACTIVATE)
    await show_person(query, actor, person)


async def cb_person_vacation(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                             crm: CRM) -> None:
    person = await crm.people.set_vacation(actor, callback_data.user_id,
                                           callback_data.action is UserAction.VACATION)
    await show_person(query, actor, person)


async def cb_person_role(
    query: CallbackQuery, callback_data: PersonRoleCD, actor: Actor, crm: CRM
) -> None:
    person = await crm.people.change_role(actor, callback_data.user_id, callback_data.role)
    await _edit(query, person_text(person),
                reply_markup=person_kb(person, can_manage_people(actor.role),
                                       can_list_people(actor.role)))


async def cb_person_team(
    query: CallbackQuery, callback_data: PersonTeamCD, actor: Actor, crm: CRM
) -> None:
    person = await crm.people.set_team(actor, callback_data.user_id, callback_data.team_id)
    await _edit(query, person_text(person),
                reply_markup=person_kb(person, can_manage_people(actor.role),
                                       can_list_people(actor.role)))


async def cmd_newteam(message: Message, command: CommandObject, actor: Actor, crm: CRM) -> None:
    if not command.args:
        await message.answer(_("Write the team's name after the command: /newteam North"))
        return
    team = await crm.people.create_team(actor, command.args)
    await message.answer(_("Team «{name}» created.").format(name=html.escape(team.name)))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_invite, Command("invite"))
    router.message.register(cmd_invite, F.text == BTN_INVITE)
    router.callback_query.register(cb_invite_role, InviteRoleCD.filter())
    router.callback_query.register(cb_invite_team, InviteTeamCD.filter())
    router.message.register(cmd_people, Command("people"))
    router.message.register(cmd_people, F.text == BTN_PEOPLE)
    router.callback_query.register(cb_people_list, PeopleListCD.filter())
    router.callback_query.register(cb_person_open, UserCD.filter(F.action == UserAction.OPEN))
    router.callback_query.register(cb_person_roles, UserCD.filter(F.action == UserAction.ROLES))
    router.callback_query.register(cb_person_teams, UserCD.filter(F.action == UserAction.TEAMS))
    router.callback_query.register(
        cb_person_active,
        UserCD.filter(F.action.in_({UserAction.DEACTIVATE, UserAction.REACTIVATE})))
    router.callback_query.register(
        cb_person_vacation,
        UserCD.filter(F.action.in_({UserAction.VACATION, UserAction.BACK_TO_WORK})))
    router.callback_query.register(cb_person_role, PersonRoleCD.filter())
    router.callback_query.register(cb_person_team, PersonTeamCD.filter())
    router.message.register(cmd_newteam, Command("newteam"))
    return router
