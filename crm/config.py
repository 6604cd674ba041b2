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
class MailConfig:
    """E-mail through SMTP (crm/mail.py). Attribute names match the settings' SMTP_*, so
    `mail_configured()` takes either."""

    smtp_host: str | None = None
    smtp_port: int | None = None  # None: 25, 587 with STARTTLS, 465 with SSL
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str | None = None
    smtp_tls: str = "starttls"  # none | starttls | ssl
    timeout: float = 30.0
    rate_per_minute: float = 60.0
    # A temporary failure is tried `attempts` times in all, waiting `backoff` seconds after
    # the first, doubled after each next one.
    attempts: int = 4
    backoff: float = 2.0
    # The List-Unsubscribe mailto (None: SMTP_FROM's address) and the bot's public https
    # address for the one-click link (None: mailto only).
    unsubscribe_to: str | None = None
    public_url: str | None = None


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
    mail: MailConfig = field(default_factory=MailConfig)
