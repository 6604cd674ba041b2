"""Callback data for deals, invoices and payments."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class DealCD(CallbackData, prefix="d"):
    """action: open, stages, won, lost, reopen, inv (invoices), newinv."""

    id: int
    action: str


class StageCD(CallbackData, prefix="ds"):
    deal_id: int
    stage_id: int


class LossCD(CallbackData, prefix="dl"):
    deal_id: int
    reason_id: int


class InvoiceCD(CallbackData, prefix="i"):
    """action: open, pay (record a payment), payfull (the whole rest in one tap)."""

    id: int
    action: str
