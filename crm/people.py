"""People and access: who the user is, invitations, roles, deactivation."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor, InviteLink, Person, StartResult, TeamInfo
from crm.errors import Conflict, Forbidden, InvalidInput, NotAvailable, valid_id
from crm.notifications import enqueue_invite_used
from crm.roles import Role, can_invite, can_list_people, can_manage_people, invitable_roles
from storage.db import Database
from storage.models import Invite, Team, User
from storage.repo import people as repo

TOKEN_BYTES = 16  # 128 bits; token_urlsafe gives 22 characters, well inside Telegram's 64


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def to_actor(user: User) -> Actor:
    return Actor(
        id=user.id,
        tg_id=user.tg_id,
        name=user.name,
        role=Role(user.role),
        team_id=user.team_id,
        timezone=user.timezone,
        locale=user.locale,
        work_start_min=user.work_start_min,
        work_end_min=user.work_end_min,
        work_days=user.work_days,
    )


def _person(user: User, teams: dict[int, str]) -> Person:
    return Person(
        id=user.id,
        tg_id=user.tg_id,
        name=user.name,
        username=user.username,
        role=Role(user.role),
        team_id=user.team_id,
        team_name=teams.get(user.team_id) if user.team_id else None,
        is_active=user.is_active,
        on_vacation=user.on_vacation,
    )


class PeopleService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def identify(self, tg_id: int) -> Actor | None:
        """The registered, active user behind a Telegram id, else None (a stranger)."""
        return (await self.identify_seen(tg_id))[0]

    async def identify_seen(self, tg_id: int) -> tuple[Actor | None, int | None]:
        """identify, and the classifiers' version read with the actor (None for a
        stranger): see crm.classifiers.seen."""
        async with self.db.read() as r:
            row = await repo.active_user_row(r, tg_id)
        if row is None:
            return None, None
        uid, tg, name, role, team_id, tz, locale, start, end, days, version = row
        return Actor(id=uid, tg_id=tg, name=name, role=Role(role), team_id=team_id,
                     timezone=tz, locale=locale, work_start_min=start, work_end_min=end,
                     work_days=days), version

    async def start(
        self,
        tg_id: int,
        name: str,
        username: str | None,
        language_code: str | None,
        token: str | None,
    ) -> StartResult | None:
        """Handle /start: register through an invitation or ADMIN_IDS; None for a stranger.

        An invalid, expired or used token raises `Conflict` so the user learns why.
        """
        now = self.clock.now()
        locale = language_code if language_code in ("ru", "en") else None
        async with self.db.transaction() as s:
            user = await repo.user_by_tg(s, tg_id)
            if token and user is not None and user.is_active:
                # Someone already in (say, the admin checking the link they just made) keeps
                # their role, and the link stays unused for the person it is meant for.
                user.unreachable = False
                return StartResult(to_actor(user), created=False, via_invite=False,
                                   ignored_invite=True)
            if token:
                invite = await repo.invite_by_hash(s, hash_token(token))
                if invite is None:
                    raise Conflict("invite_invalid")
                if invite.used_at is not None:
                    raise Conflict("invite_used")
                if invite.expires_at <= now:
                    raise Conflict("invite_expired")
                created = user is None
                if user is None:
                    user = User(
                        tg_id=tg_id,
                        name=name,
                        username=username,
                        role=invite.role,
                        team_id=invite.team_id,
                        timezone=self.config.default_timezone,
                        locale=locale,
                        is_active=True,
                    )
                    s.add(user)
                    await s.flush()
                else:
                    # An invitation re-admits a deactivated user, with the invited role.
                    user.role = invite.role
                    user.team_id = invite.team_id
                    user.is_active = True
                    user.name = name
                    user.username = username
                if not await repo.claim_invite(s, invite.id, user.id, now):
                    raise Conflict("invite_used")
                repo.audit(s, user.id, "invite.accepted", "user", user.id,
                           {"role": invite.role, "invite_id": invite.id}, now)
                await enqueue_invite_used(s, invite.id, invite.created_by_id, user.id, now)
                return StartResult(to_actor(user), created=created, via_invite=True)

            if user is not None:
                if not user.is_active:
                    return None
                # Writing to the bot again means they unblocked it: reminders may resume.
                user.unreachable = False
                return StartResult(to_actor(user), created=False, via_invite=False)
            if tg_id in self.config.admin_ids:
                user = User(
                    tg_id=tg_id,
                    name=name,
                    username=username,
                    role=Role.ADMIN.value,
                    timezone=self.config.default_timezone,
                    locale=locale,
                    is_active=True,
                )
                s.add(user)
                await s.flush()
                repo.audit(s, user.id, "admin.bootstrap", "user", user.id, None, now)
                return StartResult(to_actor(user), created=True, via_invite=False)
            return None

    async def teams(self, actor: Actor) -> list[TeamInfo]:
        async with self.db.transaction() as s:
            teams = await repo.list_teams(s)
            if actor.role is not Role.ADMIN:
                teams = [t for t in teams if t.id == actor.team_id]
            return [TeamInfo(t.id, t.name) for t in teams]

    async def create_team(self, actor: Actor, name: str) -> TeamInfo:
        if not can_manage_people(actor.role):
            raise Forbidden()
        name = " ".join(name.split())
        if not 1 <= len(name) <= 100:
            raise InvalidInput("team_name")
        async with self.db.transaction() as s:
            if await repo.team_by_name(s, name) is not None:
                raise Conflict("team_exists", name=name)
            team = Team(name=name)
            s.add(team)
            await s.flush()
            repo.audit(s, actor.id, "team.created", "team", team.id, {"name": name},
                       self.clock.now())
            return TeamInfo(team.id, team.name)

    async def create_invite(self, actor: Actor, role: Role, team_id: int | None) -> InviteLink:
        if not can_invite(actor.role) or role not in invitable_roles(actor.role):
            raise Forbidden()
        if actor.role is Role.HEAD:
            # A head invites into their own team only, whatever the button said.
            team_id = actor.team_id
        now = self.clock.now()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        async with self.db.transaction() as s:
            if team_id is not None and await repo.team_by_id(s, valid_id(team_id)) is None:
                raise NotAvailable()
            invite = Invite(
                token_hash=hash_token(token),
                role=role.value,
                team_id=team_id,
                created_by_id=actor.id,
                created_at=now,
                expires_at=now + timedelta(days=self.config.invite_ttl_days),
            )
            s.add(invite)
            await s.flush()
            repo.audit(s, actor.id, "invite.created", "invite", invite.id,
                       {"role": role.value, "team_id": team_id}, now)
            return InviteLink(token, role, team_id, invite.expires_at)

    async def list_people(self, actor: Actor) -> list[Person]:
        if not can_list_people(actor.role):
            raise Forbidden()
        async with self.db.transaction() as s:
            teams = {t.id: t.name for t in await repo.list_teams(s)}
            team_filter = None if actor.role is Role.ADMIN else actor.team_id
            if actor.role is Role.HEAD and team_filter is None:
                return [_person(u, teams) for u in await repo.list_users(s) if u.id == actor.id]
            users = await repo.list_users(s, team_id=team_filter)
            return [_person(u, teams) for u in users]

    async def person(self, actor: Actor, user_id: int) -> Person:
        people = await self.list_people(actor)
        for p in people:
            if p.id == user_id:
                return p
        raise NotAvailable()

    async def _manage(
        self,
        actor: Actor,
        user_id: int,
        action: str,
        change: Callable[[User], dict[str, Any] | None],
        *,
        not_self: bool = True,
        team_id: int | None = None,
    ) -> Person:
        """An admin's change to another user, audited, in one transaction."""
        if not can_manage_people(actor.role):
            raise Forbidden()
        if not_self and user_id == actor.id:
            raise Conflict("self_change")
        async with self.db.transaction() as s:
            user = await repo.user_by_id(s, valid_id(user_id))
            if user is None:
                raise NotAvailable()
            if team_id is not None and await repo.team_by_id(s, valid_id(team_id)) is None:
                raise NotAvailable()
            details = change(user)
            repo.audit(s, actor.id, action, "user", user.id, details, self.clock.now())
            teams = {t.id: t.name for t in await repo.list_teams(s)}
            return _person(user, teams)

    async def change_role(self, actor: Actor, user_id: int, role: Role) -> Person:
        def change(user: User) -> dict[str, Any]:
            old, user.role = user.role, role.value
            return {"from": old, "to": role.value}

        return await self._manage(actor, user_id, "user.role", change)

    async def set_team(self, actor: Actor, user_id: int, team_id: int | None) -> Person:
        def change(user: User) -> dict[str, Any]:
            user.team_id = team_id
            return {"team_id": team_id}

        return await self._manage(actor, user_id, "user.team", change, not_self=False,
                                  team_id=team_id)

    async def set_active(self, actor: Actor, user_id: int, active: bool) -> Person:
        def change(user: User) -> None:
            user.is_active = active

        action = "user.activate" if active else "user.deactivate"
        return await self._manage(actor, user_id, action, change)

    async def set_vacation(self, actor: Actor, user_id: int, value: bool) -> Person:
        """Heads (for their team) and admins send someone on vacation: reminders pause."""
        if actor.role not in (Role.ADMIN, Role.HEAD):
            raise Forbidden()
        async with self.db.transaction() as s:
            user = await repo.user_by_id(s, user_id)
            if user is None:
                raise NotAvailable()
            if actor.role is Role.HEAD and (user.team_id is None or user.team_id != actor.team_id):
                raise NotAvailable()
            user.on_vacation = value
            repo.audit(s, actor.id, "user.vacation", "user", user.id, {"on": value},
                       self.clock.now())
            teams = {t.id: t.name for t in await repo.list_teams(s)}
            return _person(user, teams)

    async def set_locale(self, actor: Actor, locale: str) -> None:
        if locale not in ("ru", "en"):
            raise InvalidInput("locale")
        async with self.db.transaction() as s:
            user = await repo.user_by_id(s, actor.id)
            if user is None:
                raise NotAvailable()
            user.locale = locale
