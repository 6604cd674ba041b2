"""Regressions on PostgreSQL, which (unlike SQLite) enforces VARCHAR lengths and id widths."""

from __future__ import annotations

import pytest

from crm.errors import InvalidInput, NotAvailable
from crm.service import CRM
from tests.factories import client, person


async def test_long_contact_name_is_refused_politely(any_crm: CRM) -> None:
    """crm/clients.py:374 add_contact has no length check; contact_person.name is
    VARCHAR(200): on PostgreSQL the insert raises a DBAPIError (not a CRMError), the
    handler (bot/handlers/clients.py:301-308) does not catch it, the user gets no answer."""
    max_ = await person(any_crm, 2002, "Max")
    ref = await client(any_crm, max_, "Acme")
    name = "Ivan Petrov, head of procurement, Acme Holding (North-West branch) " * 4
    with pytest.raises(InvalidInput):  # a polite refusal, not a database error
        await any_crm.clients.add_contact(max_, ref.id, name, None, None)


async def test_forged_id_beyond_int32_is_not_available(any_crm: CRM) -> None:
    """Ids are INTEGER (int32) on PostgreSQL: a forged «c:2147483648:open» reaches asyncpg
    and raises DataError instead of NotAvailable (SQLite: OverflowError beyond 2**63)."""
    max_ = await person(any_crm, 2002, "Max")
    with pytest.raises(NotAvailable):
        await any_crm.clients.card(max_, 2**31)
    with pytest.raises(NotAvailable):
        await any_crm.deals.deal(max_, 2**64)
