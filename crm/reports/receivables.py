"""Receivables: what clients still owe on invoices, by how long it is overdue, per manager
and per client, as of today in the user's time zone (a snapshot, not a period)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.scope import Audience, audience
from storage.db import Database
from storage.repo import reports as repo

# Upper bounds (days overdue) of the buckets: not due, 1–30, 31–60, 61–90, over 90.
BUCKET_LIMITS = (0, 30, 60, 90)
BUCKETS = len(BUCKET_LIMITS) + 1


def bucket_of(days_overdue: int) -> int:
    for i, limit in enumerate(BUCKET_LIMITS):
        if days_overdue <= limit:
            return i
    return len(BUCKET_LIMITS)


@dataclass(frozen=True, slots=True)
class AgingRow:
    id: int  # a manager's or a client's id; 0 for the total
    name: str
    buckets: tuple[Decimal, ...]  # BUCKETS amounts, not due first

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, Decimal(0))

    @property
    def overdue(self) -> Decimal:
        return sum(self.buckets[1:], Decimal(0))


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    invoice_id: int
    number: str | None
    client_id: int
    client_name: str
    manager: str
    due_on: date
    days_overdue: int  # ≤ 0: not due yet
    owed: Decimal


@dataclass(frozen=True, slots=True)
class ReceivablesReport:
    audience: Audience
    as_of: date
    currency: str
    total: AgingRow
    by_manager: tuple[AgingRow, ...]  # the audience's order
    by_client: tuple[AgingRow, ...]  # most overdue first
    invoices: tuple[OpenInvoice, ...]  # longest overdue first


def _row(id_: int, name: str, amounts: list[Decimal]) -> AgingRow:
    return AgingRow(id_, name, tuple(amounts))


class ReceivablesService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def receivables(self, actor: Actor, team_id: int | None = None) -> ReceivablesReport:
        today = self.clock.now().astimezone(actor.tz).date()
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            rows = await repo.open_invoices(s, who.ids)
        names = {m.id: m.name for m in who.members}
        total = [Decimal(0)] * BUCKETS
        per_owner: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * BUCKETS)
        per_client: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * BUCKETS)
        client_names: dict[int, str] = {}
        invoices = []
        for inv_id, number, due_on, owed, _currency, owner, client_id, client_name in rows:
            days = (today - due_on).days
            b = bucket_of(days)
            total[b] += owed
            per_owner[owner][b] += owed
            per_client[client_id][b] += owed
            client_names[client_id] = client_name
            invoices.append(OpenInvoice(inv_id, number, client_id, client_name,
                                        names.get(owner, ""), due_on, days, owed))
        clients = sorted(
            (_row(cid, client_names[cid], amounts) for cid, amounts in per_client.items()),
            key=lambda r: (-r.overdue, -r.total, r.name, r.id),
        )
        return ReceivablesReport(
            audience=who, as_of=today, currency=self.config.currency,
            total=_row(0, who.team_name or "", total),
            by_manager=tuple(_row(m.id, m.name, per_owner[m.id]) for m in who.members),
            by_client=tuple(clients),
            invoices=tuple(sorted(invoices, key=lambda i: (-i.days_overdue, i.invoice_id))),
        )
