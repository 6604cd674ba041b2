"""The author of an invitation (and the admins) hear when it is used: enqueued once, with
the registration, and rendered in the recipient's language when the sender delivers it."""

from __future__ import annotations

from aiogram.methods import SendMessage

from bot.i18n import create_i18n
from crm.clock import FrozenClock
from crm.notifications import INVITE_USED
from crm.roles import Role
from crm.service import CRM
from scheduler.limiter import RateLimiter
from scheduler.sender import Sender
from tests.conftest import ADMIN_TG
from tests.factories import admin, person
from tests.harness import Harness, TgUser
from tests.notify_data import outbox

HELEN = TgUser(4004, "Helen", None, language_code="en")
MAX = TgUser(2002, "Max", "Sokolov", language_code="en")


async def test_author_and_admins_are_told_once(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    boss = await admin(crm)
    alpha = await crm.people.create_team(boss, "Alpha")
    helen = await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=alpha.id)
    # Helen's own registration (an admin's invitation) told the admin, who wrote it, once.
    before = await outbox(crm.db, INVITE_USED)
    assert [r.chat_id for r in before] == [ADMIN_TG]
    link = await crm.people.create_invite(helen, Role.MANAGER, alpha.id)
    calls = await harness.send(MAX, f"/start {link.token}")
    assert "Sales manager" in "\n".join(str(getattr(c, "text", "")) for c in calls)
    # The link is used up: a second /start with it enqueues nothing more.
    await harness.send(TgUser(3003, "Eve", None, language_code="en"), f"/start {link.token}")
    rows = (await outbox(crm.db, INVITE_USED))[len(before):]
    assert sorted(r.chat_id for r in rows) == sorted([HELEN.id, ADMIN_TG])
    assert len({r.idempotency_key for r in rows}) == 2
    # Delivered: Helen in English "with your invitation", the admin in Russian, with Helen.
    harness.clear()
    limiter = RateLimiter(25, 1)
    sender = Sender(crm, harness.bot, create_i18n("ru"), limiter)
    stats = await sender.deliver(await crm.outbox.claim())
    assert stats.sent == 3 and stats.failed == 0
    sent = {int(c.chat_id): c.text for c in harness.session.calls if isinstance(c, SendMessage)}
    assert sent[HELEN.id] == ("✅ «Max Sokolov» joined as Sales manager (team «Alpha») with "
                              "your invitation")
    assert "«Max Sokolov»" in sent[ADMIN_TG] and "«Helen Head»" in sent[ADMIN_TG]
