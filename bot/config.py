"""Settings from the environment and `.env` (pydantic-settings).

A missing or malformed setting must stop start-up with one line naming it, so
`load_settings()` turns pydantic's ValidationError into `SettingsError`.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LOCALES = ("ru", "en")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Only `salesbot run` talks to Telegram; migrate, seed-demo and backup need no token.
    bot_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///salesbot.db"
    telegram_api_url: str | None = None
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    default_timezone: ZoneInfo = ZoneInfo("Europe/Moscow")
    default_locale: str = "ru"
    currency: str = "RUB"
    # The company a linked client is told they are talking to (unset: the bot's name).
    company_name: str | None = None
    invite_ttl_days: int = Field(default=7, ge=1, le=365)
    # A deal or an invoice above this amount asks to be confirmed.
    amount_confirm_limit: Decimal = Field(default=Decimal(10_000_000), gt=0)
    # Percent of payments received that is the manager's commission (reports).
    commission_rate: Decimal = Field(default=Decimal(0), ge=0, le=100)
    redis_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Scheduler and Telegram limits.
    rate_limit_global: float = Field(default=25.0, gt=0)
    rate_limit_per_chat: float = Field(default=1.0, gt=0)
    tick_seconds: float = Field(default=5.0, gt=0)
    overdue_repeat_days: int = Field(default=3, ge=1)
    overdue_escalate_days: int = Field(default=7, ge=1)
    digest_time: time = time(9, 0)
    clients_in_work_min: int = Field(default=5, ge=0)
    clients_in_work_max: int = Field(default=60, ge=1)
    lead_alert_minutes: int = Field(default=60, ge=1)
    # A check-in farther than this from the client's known place says so in the record.
    visit_far_km: float = Field(default=1.0, gt=0, le=1000)
    # Webhook mode (`salesbot run --webhook`): Telegram posts updates to WEBHOOK_URL (the
    # public address, behind a proxy) with WEBHOOK_SECRET in a header; the server listens on
    # WEB_HOST:WEB_PORT and also answers /healthz and /metrics.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    # The heads' dashboard (a Telegram Mini App) at PUBLIC_URL/app/: Telegram opens Mini Apps
    # over HTTPS only; unset, the dashboard buttons are not shown. The web server then also
    # runs in polling mode. WEBAPP_AUTH_MAX_AGE: how old (seconds) Telegram's signed initData
    # may be.
    public_url: str | None = None
    webapp_auth_max_age: int = Field(default=86400, ge=60, le=30 * 86400)
    # E-mail (documents from the card, mailings): without SMTP_HOST and SMTP_FROM the bot says
    # e-mail is not configured and offers Telegram only. SMTP_TLS: none | starttls (port 587)
    # | ssl (implicit TLS, port 465). MAIL_RATE_PER_MINUTE: at most this many e-mails a
    # minute from one process. MAIL_UNSUBSCRIBE_TO: the List-Unsubscribe mailto address
    # (unset: SMTP_FROM's).
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_timeout: float = Field(default=30.0, gt=0, le=600)
    mail_rate_per_minute: float = Field(default=60.0, gt=0, le=100_000)
    mail_unsubscribe_to: str | None = None
    # A temporary SMTP failure is tried MAIL_ATTEMPTS times in all, waiting
    # MAIL_BACKOFF_SECONDS after the first, doubled after each next one.
    mail_attempts: int = Field(default=4, ge=1, le=10)
    mail_backoff_seconds: float = Field(default=2.0, ge=0, le=600)

    @field_validator("bot_token", "telegram_api_url", "redis_url", "webhook_url",
                     "webhook_secret", "public_url", "smtp_host", "smtp_user", "smtp_password",
                     "smtp_from", "smtp_port", "mail_unsubscribe_to", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `BOT_TOKEN=` as copied from .env.example means "not set", not "set to nothing".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        head, sep, tail = value.get_secret_value().partition(":")
        if not sep or not head.isdigit() or not tail:
            raise ValueError("expected the form 123456:ABC... from @BotFather")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected http://HOST:PORT of a Bot API server")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("expected the public https://HOST/PATH Telegram posts updates to")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("expected https://HOST (Telegram opens Mini Apps over HTTPS only)")
        return value.rstrip("/") if value is not None else None

    @field_validator("smtp_from", "mail_unsubscribe_to")
    @classmethod
    def _mail_address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("expected an e-mail address, e.g. Sales <sales@example.com>")
        return value

    @field_validator("smtp_tls", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def dashboard_url(self) -> str | None:
        """The Mini App's address, or None when PUBLIC_URL is not set."""
        return f"{self.public_url}/app/" if self.public_url else None

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
        secret = value.get_secret_value() if value is not None else ""
        if value is not None and (len(secret) > 256 or not re.fullmatch(r"[A-Za-z0-9_-]+",
                                                                         secret)):
            raise ValueError("1-256 characters: letters, digits, _ and -")
        return value

    def webhook(self) -> tuple[str, str]:
        """(url, secret) for webhook mode; a SettingsError names what is missing."""
        if self.webhook_url is None:
            raise SettingsError("WEBHOOK_URL is not set: webhook mode needs the public URL "
                                "Telegram posts updates to")
        if self.webhook_secret is None:
            raise SettingsError("WEBHOOK_SECRET is not set: webhook mode requires a secret "
                                "(letters, digits, _ and -)")
        return self.webhook_url, self.webhook_secret.get_secret_value()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def token(self) -> str:
        """The bot token, for the one place that talks to Telegram; `require_token=True`
        at load time guarantees it is there."""
        if self.bot_token is None:
            raise SettingsError("BOT_TOKEN is not set (see .env.example)")
        return self.bot_token.get_secret_value()

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, int):
            return (value,)
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            for part in parts:
                if not part.lstrip("-").isdigit():
                    raise ValueError(f"{part!r} is not a Telegram user id")
            return tuple(int(p) for p in parts)
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.upper()
        if len(value) != 3 or not value.isalpha():
            raise ValueError("expected an ISO 4217 code such as RUB")
        return value

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://...")
        return value


def load_settings(*, require_token: bool = False, **overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        if err["type"] == "missing":
            raise SettingsError(f"{name} is not set (see .env.example)") from None
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name} is invalid: {msg}") from None
    if require_token:
        settings.token()
    return settings
