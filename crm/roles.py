"""Roles and what each may do. The one place where authorization is decided."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    HEAD = "head"
    MANAGER = "manager"
    MARKETER = "marketer"
    SERVICE = "service"


ALL_ROLES = tuple(Role)


def can_invite(role: Role) -> bool:
    return role in (Role.ADMIN, Role.HEAD)


def invitable_roles(role: Role) -> tuple[Role, ...]:
    """A head builds a sales team; only an admin can make admins and heads."""
    if role is Role.ADMIN:
        return ALL_ROLES
    if role is Role.HEAD:
        return (Role.MANAGER, Role.SERVICE, Role.MARKETER)
    return ()


def can_manage_people(role: Role) -> bool:
    return role is Role.ADMIN


def can_list_people(role: Role) -> bool:
    return role in (Role.ADMIN, Role.HEAD)
