"""Callback data of the client card and what hangs off it.

Every id in here is re-checked in `crm/` when pressed: these bytes come from the phone.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class ClientCD(CallbackData, prefix="c"):
    """A client-card action. action: open, hist, log, plan, deals, inv, edit, contacts,
    newdeal, nonext (no next step)."""

    id: int
    action: str


class HistCD(CallbackData, prefix="h"):
    client_id: int
    page: int
    type_id: int = 0  # 0: every type


class SearchCD(CallbackData, prefix="s"):
    """A page of search results; the query itself waits in the FSM data (64-byte limit)."""

    page: int


class PlanCD(CallbackData, prefix="p"):
    """Plan the next contact. when: 2h, tom10, 3d, nextw, cal (calendar), text."""

    client_id: int
    when: str
    deal_id: int = 0


class CalCD(CallbackData, prefix="cal"):
    """The calendar picker: a month page, a picked day, or a picked hour."""

    client_id: int
    action: str  # month, day, hour
    value: int  # yyyymm, yyyymmdd, or yyyymmddhh
    deal_id: int = 0
