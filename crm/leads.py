"""Leads and their distribution.

A lead is a live client without an owner. It waits in its team's queue (`lead_team_id`:
the team of whoever created or imported it; with one team only, that team; else None — the
admins' queue). Per team the head (or an admin) chooses the rule that hands leads out as
they arrive: manual (they wait), round-robin, least busy (fewest clients in work), or by
region/industry (a manager's territories name regions and industries; see `pick` for which
match wins; a lead of no one's territory goes to the least busy).
Managers on vacation or with `clients_in_work_max` clients in work are skipped; with nobody
left the lead waits. Handing out goes through ClientAdminService._move: the history, the
audit and the manager's push are those of a reassignment.

The same choosing hands out a manager's clients when a head moves them «by the rule»
(`reassign_by_rule`): a manager leaving, their 300 clients spread over the team.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Ownership, can_manage_client, can_reassign, can_see_leads, require
from crm.client_admin import ClientAdminService, Reassigned
from crm.clock import Clock
from crm.config import NotifyConfig
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput, NotAvailable, valid_id
from crm.roles import Role
from storage.db import Database
from storage.models import Client, User
from storage.repo import analytics as analytics_repo
from storage.repo import classifiers as cls_repo
from storage.repo import client_admin as move_repo
from storage.repo import leads as repo
from storage.repo import outbox as outbox_repo
from storage.repo import people as people_repo

if TYPE_CHECKING:
    from crm.outbox import OutboxItem
    from crm.reminders import Recipient, Skip

PAGE = 8
LEADS_WAITING = "leads_waiting"


class Rule(StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_BUSY = "least_busy"
    REGION = "region"


@dataclass(slots=True)
class Candidate:
    """A manager who may get leads, with their load."""

    id: int
    name: str
    in_work: int
    clients: int = 0
    on_vacation: bool = False
    # Classifier items (regions and industries) whose leads this manager takes.
    territories: set[int] = field(default_factory=set)


TERRITORY_KINDS = ("region", "industry")


def eligible(candidates: list[Candidate], cap: int) -> list[Candidate]:
    return [c for c in candidates if not c.on_vacation and c.in_work < cap]


def pick(rule: Rule, candidates: list[Candidate], cap: int, cursor: int | None,
         region_id: int | None, industry_id: int | None = None) -> Candidate | None:
    """Whom the rule gives one lead to (None: nobody may take it, it waits).

    By region/industry, the first non-empty group of these wins: the managers whose
    territories hold both the lead's region and its industry, then its region, then its
    industry, then everyone; within the group, the least busy. A region says more than an
    industry: a manager travels to a region, while an industry is a specialisation."""
    ready = sorted(eligible(candidates, cap), key=lambda c: c.id)
    if not ready or rule is Rule.MANUAL:
        return None
    if rule is Rule.ROUND_ROBIN:
        after = [c for c in ready if cursor is not None and c.id > cursor]
        return (after or ready)[0]
    if rule is Rule.REGION:
        for wanted in ({region_id, industry_id}, {region_id}, {industry_id}):
            if None in wanted:
                continue
            local = [c for c in ready if wanted <= c.territories]
            if local:
                ready = local
                break
    # Least busy (and a region nobody covers): fewest in work, then fewest clients.
    return min(ready, key=lambda c: (c.in_work, c.clients, c.id))


@dataclass(frozen=True, slots=True)
class LeadItem:
    id: int
    name: str
    region_id: int | None


@dataclass(frozen=True, slots=True)
class Queue:
    team_id: int | None
    team_name: str | None
    rule: Rule
    total: int
    leads: list[LeadItem]
    managers: list[Candidate]
    cap: int


class LeadService:
    def __init__(self, db: Database, clock: Clock, config: NotifyConfig,
                 admin: ClientAdminService, default_locale: str = "ru") -> None:
        self.default_locale = default_locale
        self.db = db
        self.clock = clock
        self.config = config
        self.admin = admin

    # --- the rule and territories --------------------------------------------------------

    def _team_of(self, actor: Actor, team_id: int | None) -> int | None:
        """The team an actor runs leads of: a head their own (whatever was asked), an admin
        the one asked."""
        require(can_see_leads(actor))
        if actor.role is Role.HEAD:
            if actor.team_id is None:
                raise Forbidden()
            return actor.team_id
        return None if team_id is None else valid_id(team_id)

    async def rule(self, actor: Actor, team_id: int | None) -> Rule:
        team = self._team_of(actor, team_id)
        if team is None:
            return Rule.MANUAL
        async with self.db.transaction() as s:
            found = await repo.rule(s, team)
            return Rule(found.rule) if found is not None else Rule.MANUAL

    async def set_rule(self, actor: Actor, team_id: int | None, value: str) -> Rule:
        team = self._team_of(actor, team_id)
        try:
            rule = Rule(value)
        except ValueError:
            raise InvalidInput("lead_rule") from None
        if team is None:
            raise InvalidInput("lead_team")
        now = self.clock.now()
        async with self.db.transaction() as s:
            if await people_repo.team_by_id(s, team) is None:
                raise NotAvailable()
            found = await repo.rule(s, team, lock=True)
            if (found.rule if found is not None else Rule.MANUAL.value) == rule.value:
                return rule  # so already (a double tap): nothing written, nothing audited
            await repo.set_rule(s, team, rule.value, now)
            people_repo.audit(s, actor.id, "leads.rule", "team", team, {"rule": rule.value},
                              now)
        return rule

    async def _manager_in_scope(self, s: AsyncSession, actor: Actor, user_id: int) -> User:
        require(can_see_leads(actor))
        user = await people_repo.user_by_id(s, valid_id(user_id))
        if user is None or (actor.role is Role.HEAD and (
                actor.team_id is None or user.team_id != actor.team_id)):
            raise NotAvailable()
        return user

    async def territories(self, actor: Actor, user_id: int) -> set[int]:
        async with self.db.transaction() as s:
            user = await self._manager_in_scope(s, actor, user_id)
            return (await repo.territories(s, [user.id]))[user.id]

    async def set_territory(self, actor: Actor, user_id: int, item_id: int,
                            on: bool) -> set[int]:
        """A region or an industry in or out of a manager's territories; what is so already
        (a double tap) writes nothing, not even to the audit log."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            user = await self._manager_in_scope(s, actor, user_id)
            item = await cls_repo.item(s, valid_id(item_id))
            if item is None or item.kind not in TERRITORY_KINDS:
                raise InvalidInput("region")
            before = (await repo.territories(s, [user.id]))[user.id]
            if (item.id in before) == on:
                return before
            await repo.set_territory(s, user.id, item.id, on)
            people_repo.audit(s, actor.id, "leads.territory", "user", user.id,
                              {"item_id": item.id, "kind": item.kind, "on": on}, now)
            return (await repo.territories(s, [user.id]))[user.id]

    # --- candidates and the queue --------------------------------------------------------

    async def _candidates(self, s: AsyncSession, team: int) -> list[Candidate]:
        users = [u for u in await people_repo.list_users(s, team_id=team, active_only=True)
                 if u.role == Role.MANAGER.value]
        ids = [u.id for u in users]
        in_work = await analytics_repo.clients_in_work(s, ids)
        clients = await move_repo.clients_per_owner(s, ids)
        territories = await repo.territories(s, ids)
        return [Candidate(u.id, u.name, in_work.get(u.id, 0), clients.get(u.id, 0),
                          u.on_vacation, territories[u.id]) for u in users]

    async def waiting_count(self, actor: Actor) -> int:
        """What the «📥 Leads (N)» button says; 0 for those who do not run a queue."""
        if not can_see_leads(actor) or (actor.role is Role.HEAD and actor.team_id is None):
            return 0
        async with self.db.transaction() as s:
            return await repo.count_waiting(s, actor.team_id, actor.role is Role.ADMIN)

    async def queue(self, actor: Actor, page: int = 0) -> Queue:
        team = self._team_of(actor, None)
        everything = actor.role is Role.ADMIN
        async with self.db.transaction() as s:
            total = await repo.count_waiting(s, team, everything)
            rows = await repo.waiting(s, team, everything, PAGE, max(page, 0) * PAGE)
            rule = Rule.MANUAL
            managers: list[Candidate] = []
            name = None
            if team is not None:
                found = await repo.rule(s, team)
                rule = Rule(found.rule) if found is not None else Rule.MANUAL
                managers = await self._candidates(s, team)
                t = await people_repo.team_by_id(s, team)
                name = t.name if t is not None else None
            return Queue(team, name, rule, total,
                         [LeadItem(c.id, c.name, c.region_id) for c in rows], managers,
                         self.config.clients_in_work_max)

    async def managers(self, actor: Actor) -> list[Candidate]:
        """The managers whose territories the actor keeps: a head their team's, an admin
        everyone's."""
        team = self._team_of(actor, None)
        async with self.db.transaction() as s:
            return await self._candidates(s, team) if team is not None else (
                await self._all_managers(s))

    async def assignees(self, actor: Actor, lead_id: int) -> tuple[LeadItem, list[Candidate]]:
        """A lead and the managers of its team it may be given to, with their load."""
        async with self.db.transaction() as s:
            lead = await self._lead(s, actor, lead_id)
            team = lead.lead_team_id
            managers = await self._candidates(s, team) if team is not None else []
            if team is None and actor.role is Role.ADMIN:
                managers = await self._all_managers(s)
            return LeadItem(lead.id, lead.name, lead.region_id), managers

    async def _all_managers(self, s: AsyncSession) -> list[Candidate]:
        out: list[Candidate] = []
        for team in await people_repo.list_teams(s):
            out += await self._candidates(s, team.id)
        return out

    async def _lead(self, s: AsyncSession, actor: Actor, lead_id: int) -> Client:
        require(can_see_leads(actor))
        rows = await repo.leads_by_ids(s, [valid_id(lead_id)])
        if not rows:
            raise NotAvailable("lead_taken")
        lead = rows[0]
        if not can_manage_client(actor, Ownership(None, lead.lead_team_id)):
            raise NotAvailable()
        return lead

    # --- handing out ---------------------------------------------------------------------

    async def assign(self, actor: Actor, lead_id: int, to_user_id: int) -> Reassigned | None:
        """One lead to a person, by hand. None: somebody took it meanwhile (a double tap
        or two heads at once: the first wins, the lead moves once)."""
        require(can_see_leads(actor))
        async with self.db.transaction() as s:
            rows = await repo.leads_by_ids(s, [valid_id(lead_id)])
            if not rows:
                return None
            target = await self.admin._target(s, actor, to_user_id)
            moving = await move_repo.clients_for_move(s, [rows[0].id])
            return await self.admin._move(s, actor, moving, target, lead=True)

    async def distribute(self, actor: Actor, lead_ids: list[int]) -> dict[int, int]:
        """Hand these leads out by their teams' rules (manual: they wait). Called at the
        end of the use cases that make leads, and by «🎯 By the rule». Returns lead → user.
        Safe twice: a lead given already is not a lead any more."""
        if not lead_ids:
            return {}
        given: dict[int, int] = {}
        cap = self.config.clients_in_work_max
        async with self.db.transaction() as s:
            leads = await repo.leads_by_ids(s, sorted({valid_id(i) for i in lead_ids}))
            by_team: dict[int, list[Client]] = {}
            for lead in leads:
                if lead.lead_team_id is not None:
                    by_team.setdefault(lead.lead_team_id, []).append(lead)
            for team, team_leads in by_team.items():
                found = await repo.rule(s, team, lock=True)
                if found is None or found.rule == Rule.MANUAL.value:
                    continue
                rule = Rule(found.rule)
                candidates = await self._candidates(s, team)
                cursor = found.cursor_user_id
                for lead in team_leads:
                    chosen = pick(rule, candidates, cap, cursor, lead.region_id, lead.industry_id)
                    if chosen is None:
                        break
                    given[lead.id] = chosen.id
                    chosen.in_work += 1  # counts as in work for the rest of this batch
                    chosen.clients += 1
                    cursor = chosen.id
                found.cursor_user_id = cursor
            targets: dict[int, list[int]] = {}
            for lead_id, user_id in given.items():
                targets.setdefault(user_id, []).append(lead_id)
            for user_id, ids in targets.items():
                target = await people_repo.user_by_id(s, user_id)
                assert target is not None
                rows = await move_repo.clients_for_move(s, ids)
                await self.admin._move(s, actor, rows, target, check=False, lead=True)
        return given

    async def apply_rule(self, actor: Actor) -> dict[int, int]:
        """«🎯 By the rule»: every lead waiting in the head's team queue."""
        team = self._team_of(actor, None)
        if team is not None:
            return await self.distribute_waiting(actor, team)
        async with self.db.transaction() as s:  # an admin: every team's queue
            ids = [c.id for c in await repo.waiting(s, None, True, 100_000)]
        return await self.distribute(actor, ids)

    async def distribute_waiting(self, actor: Actor, team: int | None) -> dict[int, int]:
        """Every lead waiting in a team's queue, by its rule (after an import into it)."""
        if team is None:
            return {}
        async with self.db.transaction() as s:
            ids = await repo.waiting_ids(s, team)
        return await self.distribute(actor, ids)

    # --- moving clients by the rule -------------------------------------------------------

    async def _moving(self, s: AsyncSession, actor: Actor, from_user_id: int | None,
                      client_ids: list[int] | None) -> tuple[list[move_repo.MoveRow],
                                                             int | None, set[int]]:
        """The clients to move (checked: the actor may move each), their team and the
        people who must not get them back (their managers now)."""
        require(can_reassign(actor))
        if from_user_id is not None:
            source = await self.admin._person_in_scope(s, actor, from_user_id)
            rows = await move_repo.clients_for_move(
                s, await move_repo.client_ids_of(s, source.id))
            self.admin._check(actor, rows)
            return rows, source.team_id, {source.id}
        ids = sorted({valid_id(i) for i in client_ids or []})
        rows = await move_repo.clients_for_move(s, ids)
        if not ids or len(rows) != len(ids):
            raise NotAvailable()
        self.admin._check(actor, rows)
        teams = {r.owner_team_id for r in rows}
        return rows, (teams.pop() if len(teams) == 1 else None), {
            r.owner_id for r in rows if r.owner_id is not None}

    async def move_rule(self, actor: Actor, *, from_user_id: int | None = None,
                        client_id: int | None = None) -> Rule:
        """The rule that would hand these clients out (a person's, or one client's): their
        team's. Manual (or no team): the head picks a person."""
        async with self.db.transaction() as s:
            _rows, team, _ = await self._moving(
                s, actor, from_user_id, None if client_id is None else [client_id])
            if team is None:
                return Rule.MANUAL
            found = await repo.rule(s, team)
            return Rule(found.rule) if found is not None else Rule.MANUAL

    async def reassign_by_rule(self, actor: Actor, *, from_user_id: int | None = None,
                               client_ids: list[int] | None = None,
                               only_from: int | None = None) -> Spread:
        """All of a person's clients (or these clients) handed out by their team's rule, as
        leads are: vacations and `clients_in_work_max` skipped, the territories looked at.
        Clients nobody may take stay where they are (`left`). Open deals, planned contacts
        and their reminders go along (ClientAdminService._move); every manager involved gets
        one notice; each client's history and the audit log record it, and the audit one
        summary entry more. `only_from`: only the clients still of this manager (a double
        tap moves nothing twice). A manual rule (or no team) raises Conflict: the head
        picks a person instead."""
        cap = self.config.clients_in_work_max
        now = self.clock.now()
        async with self.db.transaction() as s:
            rows, team, exclude = await self._moving(s, actor, from_user_id, client_ids)
            if only_from is not None:
                rows = [r for r in rows if r.owner_id == only_from]
            if team is None:
                raise Conflict("reassign_manual")
            found = await repo.rule(s, team, lock=True)
            if found is None or found.rule == Rule.MANUAL.value:
                raise Conflict("reassign_manual")
            rule = Rule(found.rule)
            candidates = [c for c in await self._candidates(s, team) if c.id not in exclude]
            ids = [r.id for r in rows]
            kinds = await repo.kinds_of(s, ids)
            busy = await repo.in_work_of(s, ids)
            cursor = found.cursor_user_id
            given: dict[int, list[move_repo.MoveRow]] = {}
            left = 0
            # Clients in work first: they are the ones the cap is about.
            for row in sorted(rows, key=lambda r: (r.id not in busy, r.id)):
                region, industry = kinds.get(row.id, (None, None))
                chosen = pick(rule, candidates, cap, cursor, region, industry)
                if chosen is None:
                    left += 1
                    continue
                given.setdefault(chosen.id, []).append(row)
                chosen.in_work += row.id in busy
                chosen.clients += 1
                cursor = chosen.id
            if rule is Rule.ROUND_ROBIN:
                found.cursor_user_id = cursor
            moves: list[tuple[User, list[move_repo.MoveRow]]] = []
            deals = planned = 0
            names: list[tuple[str, int]] = []
            for user_id, owned in given.items():
                target = await people_repo.user_by_id(s, user_id)
                assert target is not None
                done = await self.admin._move(s, actor, owned, target, check=False,
                                              notify=False)
                deals += done.deals
                planned += done.planned
                moves.append((target, owned))
                names.append((target.name, len(owned)))
            await self.admin._notify_spread(s, actor, moves, now)
            moved = sum(n for _name, n in names)
            if moved or left:
                people_repo.audit(s, actor.id, "clients.reassigned_by_rule",
                                  "user" if from_user_id is not None else "team",
                                  from_user_id if from_user_id is not None else team, {
                                      "rule": rule.value, "team": team, "moved": moved,
                                      "left": left,
                                      "to": {str(t.id): len(o) for t, o in moves}}, now)
            return Spread(moved, deals, planned, left, rule,
                          sorted(names, key=lambda n: (-n[1], n[0])))

    # --- the unattended-lead alert (scheduler) -------------------------------------------

    async def alert_unattended(self) -> int:
        """Leads nobody took within `lead_alert_minutes` → one notice per head (admins for
        the leads of no team), once per lead: the claim is a conditional UPDATE."""
        now = self.clock.now()
        before = now - timedelta(minutes=self.config.lead_alert_minutes)
        from crm.notifications import Uptime, _row

        async with self.db.transaction() as s:
            found = await repo.unattended(s, before)
            claimed = set(await repo.mark_alerted(s, [c.id for c in found], now))
            if not claimed:
                return 0
            by_team: dict[int | None, list[Client]] = {}
            for c in found:
                if c.id in claimed:
                    by_team.setdefault(c.lead_team_id, []).append(c)
            users = await people_repo.list_users(s, active_only=True)
            batch = secrets.token_hex(6)
            out = []
            for team, leads in by_team.items():
                heads = [u for u in users if not u.unreachable and (
                    (u.role == Role.HEAD.value and u.team_id == team) if team is not None
                    else u.role == Role.ADMIN.value)]
                for head in heads:
                    payload = {"count": len(leads), "minutes": self.config.lead_alert_minutes,
                               "clients": [[c.id, c.name] for c in leads[:10]]}
                    out.append(_row(f"{LEADS_WAITING}:{batch}:{head.id}", LEADS_WAITING, head,
                                    payload, now, now, Uptime(now, now)))
            if out:
                await outbox_repo.insert_if_absent(s, out)
            return len(out)

    async def alert_view(self, item: OutboxItem) -> LeadsAlertView | Skip:
        """The head's «leads wait» notice: still waiting ones only."""
        from crm.reminders import Skip, recipient

        async with self.db.transaction() as s:
            user = await people_repo.user_by_id(s, item.user_id or 0)
            if user is None or not user.is_active or user.unreachable:
                return Skip("user inactive")
            ids = [int(c[0]) for c in item.payload.get("clients") or []]
            still = {c.id for c in await repo.leads_by_ids(s, ids)}
            clients = [(int(c[0]), str(c[1])) for c in item.payload.get("clients") or []
                       if int(c[0]) in still]
            if not clients:
                return Skip("leads taken")
            return LeadsAlertView(recipient(user, self.default_locale),
                                  int(item.payload.get("minutes") or 0), clients)


@dataclass(frozen=True, slots=True)
class Spread:
    """Clients handed out by the rule."""

    clients: int
    deals: int
    planned: int
    left: int  # nobody could take them (vacations, caps): still with their manager
    rule: Rule
    to: list[tuple[str, int]]  # who got how many, most first


@dataclass(frozen=True, slots=True)
class LeadsAlertView:
    recipient: Recipient
    minutes: int
    clients: list[tuple[int, str]]
