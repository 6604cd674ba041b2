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


def can_edit_classifiers(actor: Actor) -> bool:
    """Regions, industries, segments, sources, campaigns, loss reasons, contact types and
    outcomes: marketing keeps them, an admin may too."""
    return actor.role in (Role.ADMIN, Role.MARKETER)


def can_edit_stages(actor: Actor) -> bool:
    """The pipeline moves every open deal: administrators only."""
    return actor.role is Role.ADMIN


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


# Owners of clients: a client is moved to one of these only.
CLIENT_OWNER_ROLES = (Role.MANAGER, Role.HEAD)


def can_manage_client(actor: Actor, own: Ownership) -> bool:
    """Reassign, merge, archive or restore a client: an admin any, a head their team's
    (and their own), nobody else."""
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.HEAD:
        return own.owner_id == actor.id or (
            actor.team_id is not None and own.owner_team_id == actor.team_id
        )
    return False


def can_receive_clients(actor: Actor, role: Role, team_id: int | None, active: bool) -> bool:
    """Whether the actor may hand clients to this person: an active manager or head — for a
    head, one of their own team."""
    if not active or role not in CLIENT_OWNER_ROLES:
        return False
    if actor.role is Role.ADMIN:
        return True
    return actor.role is Role.HEAD and actor.team_id is not None and team_id == actor.team_id


def can_use_lists(actor: Actor) -> bool:
    """Client lists (a filter over the clients one sees): heads, admins, marketers, and
    managers over their own clients. What a list shows is always the viewer's client scope."""
    return actor.role in (Role.ADMIN, Role.HEAD, Role.MANAGER, Role.MARKETER)


def can_open_list(actor: Actor, owner_id: int, team_id: int | None, shared: bool) -> bool:
    """One's own lists; a shared one by its team (an admin: every shared list; a list shared
    by someone without a team, an admin or a marketer, is shared with everyone)."""
    if not can_use_lists(actor):
        return False
    if owner_id == actor.id:
        return True
    if not shared:
        return False
    if actor.role is Role.ADMIN or team_id is None:
        return True
    return actor.team_id == team_id


def can_import_clients(actor: Actor) -> bool:
    """Bring a client table in, or take one out (heads, admins, marketing)."""
    return actor.role in (Role.ADMIN, Role.HEAD, Role.MARKETER)


def can_export_clients(actor: Actor) -> bool:
    """Take the clients of one's scope out as a table (as the import reads it)."""
    return can_import_clients(actor)


def can_see_leads(actor: Actor) -> bool:
    """The leads queue and its rule: a head (their team's), an admin (all)."""
    return actor.role in (Role.ADMIN, Role.HEAD)


def can_send_mailings(actor: Actor) -> bool:
    """Broadcasts: marketing and admins to every client, heads to their team's clients (the
    audience is always resolved in the sender's client scope, `client_scope`)."""
    return actor.role in (Role.ADMIN, Role.MARKETER, Role.HEAD)


def can_manage_mailing(actor: Actor, created_by: int, creator_team_id: int | None) -> bool:
    """Pause, resume, cancel a mailing and see its report: its sender; an admin or a
    marketer any; a head those of their team's people."""
    if not can_send_mailings(actor):
        return False
    if actor.role in (Role.ADMIN, Role.MARKETER) or created_by == actor.id:
        return True
    return actor.team_id is not None and creator_team_id == actor.team_id
