"""Who sees and changes which client. Decided here only; handlers never decide it.

A manager works their own clients, a head the clients of their team, an admin all of
them. Service and marketing staff read every card and add their own records to it, but do
not move deals or money.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.dto import Actor
from crm.errors import Forbidden
from crm.roles import Role


@dataclass(frozen=True, slots=True)
class ClientScope:
    """Which clients an actor may see, in a form the storage layer turns into SQL."""

    everything: bool
    owner_id: int | None = None
    team_id: int | None = None


@dataclass(frozen=True, slots=True)
class Ownership:
    owner_id: int | None
    owner_team_id: int | None


def client_scope(actor: Actor) -> ClientScope:
    if actor.role in (Role.ADMIN, Role.MARKETER, Role.SERVICE):
        return ClientScope(everything=True)
    if actor.role is Role.HEAD:
        return ClientScope(everything=False, owner_id=actor.id, team_id=actor.team_id)
    return ClientScope(everything=False, owner_id=actor.id)


def can_see(actor: Actor, own: Ownership) -> bool:
    scope = client_scope(actor)
    if scope.everything:
        return True
    if own.owner_id is not None and own.owner_id == scope.owner_id:
        return True
    return scope.team_id is not None and own.owner_team_id == scope.team_id


def can_change(actor: Actor, own: Ownership) -> bool:
    """Edit the card, move deals, record invoices and payments."""
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.HEAD:
        return own.owner_id == actor.id or (
            actor.team_id is not None and own.owner_team_id == actor.team_id
        )
    if actor.role is Role.MANAGER:
        return own.owner_id == actor.id
    return False


def can_create_clients(actor: Actor) -> bool:
    return actor.role in (Role.ADMIN, Role.HEAD, Role.MANAGER, Role.MARKETER)


def can_reopen_deals(actor: Actor) -> bool:
    return actor.role in (Role.ADMIN, Role.HEAD)


def can_reassign(actor: Actor) -> bool:
    return actor.role in (Role.ADMIN, Role.HEAD)


def require(condition: bool) -> None:
    if not condition:
        raise Forbidden()


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Whose figures a report is about: everyone's, one team's, or one person's own."""

    everything: bool
    team_id: int | None = None
    user_id: int | None = None


def can_see_reports(actor: Actor) -> bool:
    return actor.role in (Role.ADMIN, Role.HEAD, Role.MANAGER, Role.MARKETER)


def report_scope(actor: Actor, team_id: int | None = None) -> ReportScope:
    """A manager their own, a head their team (their own without one), an admin everyone or
    the one team asked for, a marketer everyone. `team_id` is honoured for admins only."""
    if actor.role is Role.ADMIN:
        return ReportScope(everything=team_id is None, team_id=team_id)
    if actor.role is Role.MARKETER:
        return ReportScope(everything=True)
    if actor.role is Role.HEAD and actor.team_id is not None:
        return ReportScope(everything=False, team_id=actor.team_id)
    if actor.role in (Role.HEAD, Role.MANAGER):
        return ReportScope(everything=False, user_id=actor.id)
    raise Forbidden()


def can_import_clients(actor: Actor) -> bool:
    """Bring a client table in, or take one out (heads, admins, marketing)."""
    return actor.role in (Role.ADMIN, Role.HEAD, Role.MARKETER)


def can_export_clients(actor: Actor) -> bool:
    """Take the clients of one's scope out as a table (as the import reads it)."""
    return can_import_clients(actor)
