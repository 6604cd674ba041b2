"""Domain errors. They carry a code and parameters, never text: the bot translates them."""

from __future__ import annotations

from typing import Any


class CRMError(Exception):
    code = "error"

    def __init__(self, code: str | None = None, **params: Any) -> None:
        self.code = code or type(self).code
        self.params = params
        super().__init__(self.code, params)


class NotAvailable(CRMError):
    """Not found, or not the actor's to see: the two are deliberately indistinguishable."""

    code = "not_available"


class Forbidden(CRMError):
    code = "forbidden"


class InvalidInput(CRMError):
    code = "invalid_input"


class Conflict(CRMError):
    """The thing changed since the button was drawn (a closed deal, a used invite)."""

    code = "conflict"


MAX_ID = 2**31 - 1  # ids are INTEGER on PostgreSQL


def valid_id(value: int) -> int:
    """An id from outside (a button, a form) that cannot exist is simply not available;
    it must not reach the database, where PostgreSQL would refuse it with an error."""
    if not 0 < value <= MAX_ID:
        raise NotAvailable()
    return value
