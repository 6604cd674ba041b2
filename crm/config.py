"""What the domain needs to know of the deployment (no pydantic, no aiogram here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Reminders, overdue-payment alerts and digests (see crm/notifications.py)."""

    overdue_repeat_days: int = 3
    overdue_escalate_days: int = 7
    digest_time_min: int = 9 * 60  # local time of day, minutes since midnight
    clients_in_work_min: int = 5
    clients_in_work_max: int = 60
    # A lead nobody took within this many minutes alerts its team's head (once).
    lead_alert_minutes: int = 60


@dataclass(frozen=True, slots=True)
class CRMConfig:
    admin_ids: frozenset[int] = frozenset()
    default_timezone: str = "Europe/Moscow"
    default_locale: str = "ru"
    currency: str = "RUB"
    invite_ttl_days: int = 7
    # A deal or an invoice above this asks to be confirmed (crm.deals.needs_confirmation).
    amount_confirm_limit: Decimal = Decimal(10_000_000)
    # Percent of payments received paid to the manager (one rate for everyone for now).
    commission_rate: Decimal = Decimal(0)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    # A check-in farther than this from the client's known place says so in the record.
    visit_far_km: float = 1.0
    # Whose company a linked client is told this is (None: the bot's own name).
    company_name: str | None = None
