"""Settings from the environment and `.env` (pydantic-settings).

A missing or malformed setting must stop start-up with one line naming it, so
`load_settings()` turns pydantic's ValidationError into `SettingsError`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LOCALES = ("ru", "en")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = Field(min_length=1)
    database_url: str = "sqlite+aiosqlite:///salesbot.db"
    telegram_api_url: str | None = None
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    default_timezone: str = "Europe/Moscow"
    default_locale: str = "ru"
    currency: str = "RUB"
    invite_ttl_days: int = Field(default=7, ge=1, le=365)
    # A deal or an invoice above this amount asks to be confirmed.
    amount_confirm_limit: Decimal = Field(default=Decimal(10_000_000), gt=0)
    redis_url: str | None = None
    # Scheduler and Telegram limits.
    rate_limit_global: float = Field(default=25.0, gt=0)
    rate_limit_per_chat: float = Field(default=1.0, gt=0)
    tick_seconds: float = Field(default=5.0, gt=0)
    overdue_repeat_days: int = Field(default=3, ge=1)
    overdue_escalate_days: int = Field(default=7, ge=1)
    digest_time: str = "09:00"
    clients_in_work_min: int = Field(default=5, ge=0)
    clients_in_work_max: int = Field(default=60, ge=1)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: str) -> str:
        head, sep, tail = value.partition(":")
        if not sep or not head.isdigit() or not tail:
            raise ValueError("expected the form 123456:ABC... from @BotFather")
        return value

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

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
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

    @field_validator("digest_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        hh, sep, mm = value.partition(":")
        if not sep or not (hh.isdigit() and mm.isdigit()) or int(hh) > 23 or int(mm) > 59:
            raise ValueError("expected HH:MM")
        return f"{int(hh):02d}:{int(mm):02d}"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        if err["type"] == "missing":
            raise SettingsError(f"{name} is not set (see .env.example)") from None
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name} is invalid: {msg}") from None
