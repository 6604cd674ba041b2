"""What the domain needs to know of the deployment (no pydantic, no aiogram here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CRMConfig:
    admin_ids: frozenset[int] = frozenset()
    default_timezone: str = "Europe/Moscow"
    default_locale: str = "ru"
    currency: str = "RUB"
    invite_ttl_days: int = 7
