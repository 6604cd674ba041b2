"""Running the client base: moving clients between managers, merging duplicates, archiving
and restoring. Heads (their team) and admins only; every write audited, all-or-nothing.

`reassign_clients` is the one way clients change hands — lead distribution calls it too.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Ownership, can_manage_client, can_receive_clients, can_see, require
from crm.clients import (
    CARD_CLASSIFIERS,
    ClientRef,
    add_to_list,
    load_visible,
    refresh_search,
    split_list,
)
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput, NotAvailable, valid_id
from crm.notifications import reassigned_row
from crm.roles import Role
from storage.db import Database
from storage.models import Client, User
from storage.repo import client_admin as repo
from storage.repo import clients as clients_repo
from storage.repo import notify as notify_repo
from storage.repo import outbox as outbox_repo
from storage.repo import people as people_repo

# How many clients a notice names (the count says the rest).
NAMED = 10
MERGE_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class Target:
    """Someone clients may be handed to."""

    id: int
    name: str
    role: Role
    clients: int


@dataclass(frozen=True, slots=True)
class Reassigned:
    clients: int
    deals: int
    planned: int
    to_name: str


@dataclass(frozen=True, slots=True)
class MergePreview:
    survivor: ClientRef
    other: ClientRef
    moves: repo.Linked


def _fill(survivor: Client, other: Client) -> None:
    """What the duplicate knew and the survivor did not: phones, e-mails, empty fields."""
    for col in ("phones", "emails"):
        merged = getattr(survivor, col)
        for value in split_list(getattr(other, col)):
            try:
                merged = add_to_list(merged, value)
            except InvalidInput:
                break  # the column is full: the duplicate's contacts stay in its history
        setattr(survivor, col, merged)
    for col in ("address", "tax_number", "trigger_event", "probability", "lat", "lon",
                "tg_chat_id", *(f"{k}_id" for k in CARD_CLASSIFIERS)):
        if getattr(survivor, col) is None and getattr(other, col) is not None:
            setattr(survivor, col, getattr(other, col))


class ClientAdminService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # --- reassigning ---------------------------------------------------------------------

    async def targets(self, actor: Actor, exclude: int | None = None) -> list[Target]:
        """Whom the actor may hand clients to (active managers and heads in their scope),
        with how many clients each has."""
        if actor.role not in (Role.ADMIN, Role.HEAD):
            raise Forbidden()
        async with self.db.transaction() as s:
            team = None if actor.role is Role.ADMIN else actor.team_id
            if actor.role is Role.HEAD and team is None:
                return []
            users = [
                u for u in await people_repo.list_users(s, team_id=team, active_only=True)
                if u.id != exclude
                and can_receive_clients(actor, Role(u.role), u.team_id, u.is_active)
            ]
            counts = await repo.clients_per_owner(s, [u.id for u in users])
            return [Target(u.id, u.name, Role(u.role), counts.get(u.id, 0)) for u in users]

    async def clients_count(self, actor: Actor, user_id: int) -> int:
        """How many live clients a person of the actor's scope has."""
        async with self.db.transaction() as s:
            user = await self._person_in_scope(s, actor, user_id)
            return await repo.count_clients_of(s, user.id)

    @staticmethod
    async def _person_in_scope(s: AsyncSession, actor: Actor, user_id: int) -> User:
        if actor.role not in (Role.ADMIN, Role.HEAD):
            raise Forbidden()
        user = await people_repo.user_by_id(s, valid_id(user_id))
        if user is None:
            raise NotAvailable()
        if actor.role is Role.HEAD and user.id != actor.id and (
            actor.team_id is None or user.team_id != actor.team_id
        ):
            raise NotAvailable()
        return user

    @staticmethod
    async def _target(s: AsyncSession, actor: Actor, to_user_id: int) -> User:
        user = await people_repo.user_by_id(s, valid_id(to_user_id))
        if user is None or not can_receive_clients(
            actor, Role(user.role), user.team_id, user.is_active
        ):
            raise Forbidden("reassign_target")
        return user

    async def reassign_clients(
        self, actor: Actor, client_ids: list[int], to_user_id: int
    ) -> Reassigned:
        """Move these clients — with their open deals, planned contacts and pending
        reminders — to another manager, in one transaction; all or nothing."""
        if actor.role not in (Role.ADMIN, Role.HEAD):
            raise Forbidden()
        ids = sorted({valid_id(i) for i in client_ids})
        async with self.db.transaction() as s:
            target = await self._target(s, actor, to_user_id)
            rows = await repo.clients_for_move(s, ids)
            if len(rows) != len(ids):
                raise NotAvailable()
            return await self._move(s, actor, rows, target)

    async def reassign_all(self, actor: Actor, from_user_id: int, to_user_id: int) -> Reassigned:
        """All of a manager's clients to another person (a manager leaving, say)."""
        async with self.db.transaction() as s:
            source = await self._person_in_scope(s, actor, from_user_id)
            target = await self._target(s, actor, to_user_id)
            if source.id == target.id:
                raise Conflict("reassign_same")
            rows = await repo.clients_for_move(s, await repo.client_ids_of(s, source.id))
            return await self._move(s, actor, rows, target)

    async def _move(
        self, s: AsyncSession, actor: Actor, rows: list[repo.MoveRow], target: User,
        *, check: bool = True, lead: bool = False, notify: bool = True,
    ) -> Reassigned:
        """`check=False`: the distribution rule moves leads on nobody's rights (the
        creator of a lead is recorded as who did it); `lead` marks the notice as a lead;
        `notify=False`: the caller tells the managers (one notice each for many moves)."""
        if check:
            self._check(actor, rows)
        rows = [r for r in rows if r.owner_id != target.id]  # already theirs: nothing to do
        now = self.clock.now()
        by_owner: dict[int | None, list[repo.MoveRow]] = defaultdict(list)
        for row in rows:
            by_owner[row.owner_id].append(row)
        ids = [r.id for r in rows]
        planned: list[int] = []
        for owner, owned in by_owner.items():
            if owner is not None:
                planned += await repo.move_planned(s, [r.id for r in owned], owner, target.id)
        deals = await repo.move_open_deals(s, ids, target.id)
        await repo.set_owner(s, ids, target.id, now)
        olds = [o for o in by_owner if o is not None]
        await self._readdress(s, olds, set(ids), set(planned), target)
        names = {u.id: u.name for u in (await notify_repo.users_by_ids(s, set(olds))).values()}
        # The names too: the history reads the same after a manager is renamed or gone.
        await repo.add_events(s, [
            {"client_id": r.id, "author_id": actor.id, "event": "reassigned",
             "details": {"from": r.owner_id, "to": target.id,
                         "from_name": names.get(r.owner_id or 0), "to_name": target.name},
             "occurred_at": now, "created_at": now}
            for r in rows
        ])
        await repo.add_audit(s, [
            {"actor_id": actor.id, "action": "client.reassigned", "entity": "client",
             "entity_id": r.id, "details": {"from": r.owner_id, "to": target.id}, "at": now}
            for r in rows
        ])
        if rows and notify:
            await self._notify(s, actor, by_owner, target, now, lead=lead)
        return Reassigned(len(rows), deals, len(planned), target.name)

    @staticmethod
    def _check(actor: Actor, rows: list[repo.MoveRow]) -> None:
        """The actor may move every one of these clients."""
        for row in rows:
            own = Ownership(row.owner_id, row.owner_team_id)
            if not can_see(actor, own):
                raise NotAvailable()
            if not can_manage_client(actor, own):
                raise Forbidden()

    @staticmethod
    async def _notify_spread(
        s: AsyncSession, actor: Actor, moves: list[tuple[User, list[repo.MoveRow]]],
        now: datetime,
    ) -> None:
        """Clients handed out to several people at once (by the rule): one notice to each
        who got some, and one to each former manager for all they lost — not one a
        client, not one per new manager."""
        batch = secrets.token_hex(6)
        lost: dict[int, list[repo.MoveRow]] = defaultdict(list)
        out = []
        for target, owned in moves:
            owned = [r for r in owned if r.owner_id != target.id]
            olds = {r.owner_id for r in owned}
            for r in owned:
                if r.owner_id is not None:
                    lost[r.owner_id].append(r)
            if owned and target.id != actor.id and not target.unreachable:
                out.append(reassigned_row(batch, target, {
                    "by": actor.id, "from": olds.pop() if len(olds) == 1 else None,
                    "to": target.id, "count": len(owned),
                    "clients": [[r.id, r.name] for r in owned[:NAMED]], "rule": True,
                }, now))
        users = await notify_repo.users_by_ids(s, set(lost))
        for owner, owned in lost.items():
            owned.sort(key=lambda r: r.id)
            user = users.get(owner)
            if user is None or user.id == actor.id or not user.is_active or user.unreachable:
                continue
            out.append(reassigned_row(batch, user, {
                "by": actor.id, "from": owner, "to": None, "count": len(owned),
                "clients": [[r.id, r.name] for r in owned[:NAMED]], "rule": True,
                "people": len(moves),
            }, now))
        if out:
            await outbox_repo.insert_if_absent(s, out)

    @staticmethod
    async def _readdress(
        s: AsyncSession, olds: list[int], client_ids: set[int], planned: set[int], target: User
    ) -> None:
        """Reminders of the moved planned contacts and the managers' overdue-invoice alerts
        of the moved clients, not sent yet, go to the new manager instead."""
        if not olds:
            return
        pending = await repo.pending_for(s, ("reminder", "overdue"), olds)
        ours = [
            r.id for r in pending
            if (r.kind == "reminder" and r.payload.get("planned_id") in planned)
            or (r.kind == "overdue" and r.payload.get("client_id") in client_ids
                and not r.payload.get("escalated"))
        ]
        await repo.readdress(s, ours, target.id, target.tg_id)

    @staticmethod
    async def _notify(
        s: AsyncSession, actor: Actor, by_owner: dict[int | None, list[repo.MoveRow]],
        target: User, now: datetime, *, lead: bool = False,
    ) -> None:
        batch = secrets.token_hex(6)
        users = await notify_repo.users_by_ids(s, {o for o in by_owner if o is not None})
        moved = [r for owned in by_owner.values() for r in owned]

        def payload(clients: list[repo.MoveRow], old: int | None) -> dict[str, Any]:
            return {"by": actor.id, "from": old, "to": target.id, "count": len(clients),
                    "clients": [[r.id, r.name] for r in clients[:NAMED]], "lead": lead}

        out = []
        for owner, owned in by_owner.items():
            user = users.get(owner) if owner is not None else None
            if user is None or user.id == actor.id or not user.is_active or user.unreachable:
                continue
            out.append(reassigned_row(batch, user, payload(owned, user.id), now))
        if target.id != actor.id and not target.unreachable:
            olds = [o for o in by_owner if o is not None]
            out.append(reassigned_row(
                batch, target, payload(moved, olds[0] if len(olds) == 1 else None), now))
        if out:
            await outbox_repo.insert_if_absent(s, out)

    # --- merging -------------------------------------------------------------------------

    async def merge_candidates(
        self, actor: Actor, survivor_id: int, found: list[ClientRef]
    ) -> list[ClientRef]:
        """Of clients a search found, those the actor may merge into this one."""
        async with self.db.transaction() as s:
            _, own = await load_visible(s, actor, survivor_id)
            require(can_manage_client(actor, own))
            rows = await repo.clients_for_move(s, [c.id for c in found if c.id != survivor_id])
            allowed = {r.id for r in rows
                       if can_manage_client(actor, Ownership(r.owner_id, r.owner_team_id))}
            return [c for c in found if c.id in allowed][:MERGE_CANDIDATES]

    async def _pair(
        self, s: AsyncSession, actor: Actor, survivor_id: int, other_id: int
    ) -> tuple[Client, Client]:
        if valid_id(survivor_id) == valid_id(other_id):
            raise InvalidInput("merge_self")
        survivor, sown = await load_visible(s, actor, survivor_id, archived=True)
        other, oown = await load_visible(s, actor, other_id, archived=True)
        require(can_manage_client(actor, sown) and can_manage_client(actor, oown))
        # Locked (PostgreSQL) and re-read: of two merges at once, the second sees the first.
        await repo.lock_clients(s, [survivor.id, other.id])
        if other.merged_into_id is not None or survivor.merged_into_id is not None:
            raise Conflict("client_merged")
        if other.is_deleted or survivor.is_deleted:
            raise Conflict("client_archived")
        return survivor, other

    async def _to_survivors_manager(self, s: AsyncSession, survivor: Client,
                                    other: Client) -> None:
        """The duplicate's open deals and its manager's plans go to the survivor's manager
        (with their pending reminders): one client, one manager."""
        if survivor.owner_id is None or other.owner_id in (None, survivor.owner_id):
            return
        target = await people_repo.user_by_id(s, survivor.owner_id)
        assert target is not None and other.owner_id is not None
        planned = await repo.move_planned(s, [other.id], other.owner_id, target.id)
        await repo.move_open_deals(s, [other.id], target.id)
        await self._readdress(s, [other.owner_id], {other.id}, set(planned), target)

    async def merge_preview(self, actor: Actor, survivor_id: int, other_id: int) -> MergePreview:
        async with self.db.transaction() as s:
            survivor, other = await self._pair(s, actor, survivor_id, other_id)
            return MergePreview(ClientRef(survivor.id, survivor.name),
                                ClientRef(other.id, other.name),
                                await repo.linked(s, other.id))

    async def merge(self, actor: Actor, survivor_id: int, other_id: int) -> MergePreview:
        """Everything of `other` moves to `survivor`; `other` is archived with a pointer."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            survivor, other = await self._pair(s, actor, survivor_id, other_id)
            moves = await repo.linked(s, other.id)
            _fill(survivor, other)
            await self._to_survivors_manager(s, survivor, other)
            await repo.move_children(s, other.id, survivor.id)
            await repo.repoint_merged(s, other.id, survivor.id)
            other.is_deleted = True
            other.merged_into_id = survivor.id
            other.updated_at = survivor.updated_at = now
            refresh_search(survivor, list(await clients_repo.contacts_of(s, survivor.id)))
            counts = {"history": moves.history, "deals": moves.deals,
                      "invoices": moves.invoices, "contacts": moves.contacts,
                      "planned": moves.planned, "channels": moves.channels}
            await repo.add_events(s, [
                {"client_id": survivor.id, "author_id": actor.id, "event": "merged",
                 "details": {"other_id": other.id, "name": other.name, **counts},
                 "occurred_at": now, "created_at": now},
                {"client_id": other.id, "author_id": actor.id, "event": "merged_into",
                 "details": {"into_id": survivor.id, "name": survivor.name},
                 "occurred_at": now, "created_at": now},
            ])
            people_repo.audit(s, actor.id, "client.merged", "client", survivor.id,
                              {"other_id": other.id, **counts}, now)
            return MergePreview(ClientRef(survivor.id, survivor.name),
                                ClientRef(other.id, other.name), moves)

    # --- archiving -----------------------------------------------------------------------

    async def set_archived(self, actor: Actor, client_id: int, archived: bool) -> bool:
        """Archive or restore; False when it already was so (a second tap changes nothing)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id, archived=True)
            require(can_manage_client(actor, own))
            await repo.lock_clients(s, [client.id])
            if client.merged_into_id is not None:
                raise Conflict("client_merged")
            if client.is_deleted == archived:
                return False
            client.is_deleted = archived
            client.updated_at = now
            event = "archived" if archived else "restored"
            await repo.add_events(s, [{
                "client_id": client.id, "author_id": actor.id, "event": event,
                "details": None, "occurred_at": now, "created_at": now,
            }])
            people_repo.audit(s, actor.id, f"client.{event}", "client", client.id, None, now)
            return True
