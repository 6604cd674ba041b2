"""E-mail against a real SMTP server (aiosmtpd, started here): the MIME a client's mail
program sees (UTF-8 subject and names, the attachment's bytes and file name, the
unsubscribe headers of RFC 2369 and RFC 8058), retries with backoff when the server is down,
slow or says "try later", a refused address as permanent; the consent of an address
(unsubscribed through its token, bounced, a new address afresh) on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.config import SettingsError, load_settings
from bot.factory import mail_config
from crm.config import MailConfig
from crm.mail import (
    BOUNCED,
    SUBSCRIBED,
    UNSUBSCRIBED,
    MailFailed,
    MailSender,
    MailService,
    build_message,
    mail_configured,
)
from crm.service import CRM
from storage.models import AuditLog
from tests.factories import admin, client
from tests.smtp import Inbox, free_port
from web.server import create_web_app

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40  # binary, not text


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def ticking() -> Any:
    """A monotonic clock a minute on at every reading: the rate never makes anyone wait,
    so the sleeps a test sees are the backoff's."""
    ticks = itertools.count(0, 60)
    return lambda: float(next(ticks))


def config(port: int, **kw: Any) -> MailConfig:
    base = MailConfig(smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                      smtp_from="Отдел продаж <sales@example.com>", timeout=5,
                      rate_per_minute=60_000, attempts=3, backoff=0.5)
    return replace(base, **kw)


def price_list(to: str = "olga@client.ru", url: str | None = "https://bot.example.com/u/T"
               ) -> EmailMessage:
    return build_message(
        sender="Отдел продаж <sales@example.com>", to=to, to_name="Ольга Иванова",
        subject="Прайс-лист 2026 — «Рога и копыта»", text="Добрый день!\nПрайс во вложении.",
        attachment=("Прайс-лист 2026.pdf", PDF, "application/pdf"),
        unsubscribe_mailto="mailto:sales@example.com?subject=unsubscribe%20T",
        unsubscribe_url=url,
    )


async def test_a_real_server_receives_the_mime_a_client_reads(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    await MailSender(config(port)).send(price_list())
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert inbox.envelopes == [("sales@example.com", ["olga@client.ru"])]
    assert msg["Subject"] == "Прайс-лист 2026 — «Рога и копыта»"
    assert msg["From"].addresses[0].display_name == "Отдел продаж"
    assert msg["To"].addresses[0].display_name == "Ольга Иванова"
    assert msg["To"].addresses[0].addr_spec == "olga@client.ru"
    assert msg["Message-ID"].endswith("@example.com>")
    raw = msg.as_bytes()
    assert "Прайс".encode() not in raw.split(b"\n\n", 1)[0]  # headers are 7-bit encoded
    assert msg["List-Unsubscribe"] == ("<mailto:sales@example.com?subject=unsubscribe%20T>, "
                                       "<https://bot.example.com/u/T>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = msg.get_body(("plain",))
    assert body is not None
    content = body.get_content()
    assert "Прайс во вложении." in content
    assert "Отписаться от рассылки / Unsubscribe: https://bot.example.com/u/T" in content
    files = list(msg.iter_attachments())
    assert len(files) == 1
    assert files[0].get_filename() == "Прайс-лист 2026.pdf"
    assert files[0].get_content_type() == "application/pdf"
    assert files[0].get_content() == PDF


async def test_mailto_only_has_no_one_click_header_and_html_keeps_the_footer(
    smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    msg = build_message(sender="sales@example.com", to="x@client.ru", to_name=None,
                        subject="Hi", text="Plain", html="<p>Rich</p>",
                        unsubscribe_mailto="sales@example.com")
    await MailSender(config(port)).send(msg)
    got = inbox.messages[0]
    assert got["List-Unsubscribe"] == "<mailto:sales@example.com>"
    assert got["List-Unsubscribe-Post"] is None
    html = got.get_body(("html",))
    assert html is not None and "<p>Rich</p>" in html.get_content()
    assert "Unsubscribe: mailto:sales@example.com" in html.get_content()


async def test_a_refused_address_is_permanent_at_once(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.refuse.add("gone@client.ru")
    sleeps = Sleeps()
    with pytest.raises(MailFailed) as err:
        await MailSender(config(port), sleep=sleeps,
                         monotonic=ticking()).send(price_list("gone@client.ru"))
    assert err.value.permanent and err.value.refused
    assert "550" in err.value.reason and "user unknown" in err.value.reason
    assert sleeps.waits == []  # not tried again
    assert inbox.messages == []


async def test_try_later_is_tried_again_with_backoff_and_arrives_once(
    smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.busy = 2
    sleeps = Sleeps()
    await MailSender(config(port), sleep=sleeps,
                         monotonic=ticking()).send(price_list())
    assert sleeps.waits == [0.5, 1.0]
    assert len(inbox.messages) == 1


async def test_a_server_that_stays_busy_fails_temporarily_with_its_reason(
    smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.busy = 10
    sleeps = Sleeps()
    with pytest.raises(MailFailed) as err:
        await MailSender(config(port, attempts=4), sleep=sleeps,
                         monotonic=ticking()).send(price_list())
    assert not err.value.permanent and not err.value.refused
    assert "451" in err.value.reason
    assert sleeps.waits == [0.5, 1.0, 2.0]
    assert inbox.messages == []


async def test_fewer_attempts_when_someone_waits(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.busy = 10
    sleeps = Sleeps()
    with pytest.raises(MailFailed) as err:
        await MailSender(config(port, attempts=4), sleep=sleeps,
                         monotonic=ticking()).send(price_list(), attempts=1)
    assert not err.value.permanent and sleeps.waits == []


async def test_server_down_retries_then_fails_with_the_reason() -> None:
    sleeps = Sleeps()
    with pytest.raises(MailFailed) as err:
        await MailSender(config(free_port()), sleep=sleeps,
                         monotonic=ticking()).send(price_list())
    assert not err.value.permanent
    assert err.value.reason  # e.g. "Error connecting to 127.0.0.1 on port …"
    assert sleeps.waits == [0.5, 1.0]


async def test_a_slow_server_times_out_and_is_tried_again(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.delay = 1.0
    sleeps = Sleeps()
    with pytest.raises(MailFailed) as err:
        await MailSender(config(port, timeout=0.2, attempts=2), sleep=sleeps,
                         monotonic=ticking()).send(price_list())
    assert not err.value.permanent
    assert "timed out" in err.value.reason.lower() or "timeout" in err.value.reason.lower()
    assert sleeps.waits == [0.5]


async def test_the_rate_setting_spaces_the_mails(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    sleeps = Sleeps()
    sender = MailSender(config(port, rate_per_minute=120), sleep=sleeps, monotonic=lambda: 0.0)
    for _ in range(3):
        await sender.send(price_list())
    assert sleeps.waits == [0.5, 1.0]  # 120 a minute: one every half second
    assert len(inbox.messages) == 3


async def test_not_configured() -> None:
    assert not mail_configured(MailConfig())
    assert not mail_configured(MailConfig(smtp_host="smtp.example.com"))
    assert mail_configured(MailConfig(smtp_host="smtp.example.com", smtp_from="a@b.c"))
    with pytest.raises(MailFailed) as err:
        await MailSender(MailConfig()).send(price_list())
    assert err.value.permanent


async def test_consent_unsubscribe_by_token_bounce_and_a_new_address(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    ref = await client(any_crm, boss, "Рога и копыта")
    olga = await any_crm.clients.add_contact(boss, ref.id, "Ольга", None, "olga@client.ru")
    service = MailService(any_crm.db, any_crm.clock, MailConfig(
        smtp_host="h", smtp_from="Sales <sales@example.com>",
        public_url="https://bot.example.com"))
    mailto, url = await service.unsubscribe_links(olga.id)
    assert mailto is not None and url is not None
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 32 and mailto == f"mailto:sales@example.com?subject=unsubscribe%20{token}"
    assert await service.unsubscribe_links(olga.id) == (mailto, url)  # one token per contact
    assert [t.state for t in await service.targets(ref.id)] == [SUBSCRIBED]

    assert await service.email_unsubscribe(token[:-1] + ("A" if token[-1] != "A" else "B")) \
        is None
    done = await service.email_unsubscribe(token)
    assert done is not None and done.email == "olga@client.ru" and not done.already
    again = await service.email_unsubscribe(token)
    assert again is not None and again.already
    assert [t.state for t in await service.targets(ref.id)] == [UNSUBSCRIBED]

    # A bounce of another contact; then its address changes: it is subscribed again.
    ivan = await any_crm.clients.add_contact(boss, ref.id, "Иван", None, "ivan@client.ru")
    await service.mark_bounced(ivan.id, "IVAN@client.ru", "550 user unknown")
    target = await service.target(ivan.id)
    assert target is not None and target.state == BOUNCED
    await any_crm.clients.update_contact(boss, ivan.id, "email", "ivan2@client.ru")
    target = await service.target(ivan.id)
    assert target is not None and target.state == SUBSCRIBED
    # Many at once, for a mailing's audience; each change is in the audit log.
    states = await service.states([olga.id, ivan.id, 2_000_000])
    assert {k: (v.email, v.state) for k, v in states.items()} == {
        olga.id: ("olga@client.ru", UNSUBSCRIBED), ivan.id: ("ivan2@client.ru", SUBSCRIBED)}
    async with any_crm.db.transaction() as s:
        actions = (await s.scalars(select(AuditLog.action).where(
            AuditLog.action.like("email.%")).order_by(AuditLog.id))).all()
    assert actions == ["email.unsubscribe", "email.bounced"]
    # No public URL: mailto only.
    plain = MailService(any_crm.db, any_crm.clock, MailConfig(smtp_from="sales@example.com"))
    mailto2, url2 = await plain.unsubscribe_links(olga.id)
    assert url2 is None and mailto2 == mailto


async def test_one_click_unsubscribe_over_http_refuses_a_forged_token(any_crm: CRM) -> None:
    crm = CRM(any_crm.db, replace(any_crm.config, mail=MailConfig(
        smtp_host="h", smtp_from="sales@example.com", public_url="https://bot.example.com")),
        any_crm.clock)
    boss = await admin(crm)
    ref = await client(crm, boss, "Рога и копыта")
    olga = await crm.clients.add_contact(boss, ref.id, "Ольга", None, "olga@client.ru")
    _mailto, url = await crm.mail.unsubscribe_links(olga.id)
    assert url is not None and url.startswith("https://bot.example.com/mail/unsubscribe/")
    path = url.removeprefix("https://bot.example.com")
    app = create_web_app(crm, mail_unsubscribe=True)
    async with TestClient(TestServer(app)) as http:
        forged = path[:-4] + "AAAA" if not path.endswith("AAAA") else path[:-4] + "BBBB"
        for resp in (await http.get(forged),
                     await http.post(forged, data="List-Unsubscribe=One-Click")):
            assert resp.status == 404
        # Opening the link (a person, or a mail scanner) changes nothing: a page asks.
        resp = await http.get(path)
        assert resp.status == 200
        page = await resp.text()
        assert "olga@client.ru" in page and 'method="post"' in page
        assert [t.state for t in await crm.mail.targets(ref.id)] == [SUBSCRIBED]
        # The mail program's one-click POST (RFC 8058).
        resp = await http.post(path, data="List-Unsubscribe=One-Click",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert resp.status == 200
        assert "Вы отписались" in await resp.text()
        assert [t.state for t in await crm.mail.targets(ref.id)] == [UNSUBSCRIBED]
        assert (await http.post(path)).status == 200  # again: still fine, still unsubscribed
    # Without PUBLIC_URL there is no such route.
    async with TestClient(TestServer(create_web_app(crm))) as http:
        assert (await http.post(path, data="List-Unsubscribe=One-Click")).status == 404


def test_smtp_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMTP_HOST", "SMTP_FROM", "SMTP_PORT", "SMTP_PASSWORD", "SMTP_TLS"):
        monkeypatch.delenv(name, raising=False)
    off = load_settings(_env_file=None)
    assert not mail_configured(off) and not mail_configured(mail_config(off))
    on = load_settings(_env_file=None, smtp_host="smtp.example.com", smtp_port="",
                       smtp_from="Продажи <sales@example.com>", smtp_password="hunter2",
                       smtp_tls="SSL")
    assert mail_configured(on) and on.smtp_tls == "ssl" and on.smtp_port is None
    assert "hunter2" not in repr(on) and "hunter2" not in repr(mail_config(on))
    assert mail_config(on).smtp_password == "hunter2"
    assert (mail_config(on).attempts, mail_config(on).backoff) == (4, 2.0)
    tuned = load_settings(_env_file=None, mail_attempts="2", mail_backoff_seconds="0.5")
    assert (mail_config(tuned).attempts, mail_config(tuned).backoff) == (2, 0.5)
    with pytest.raises(SettingsError, match="SMTP_FROM is invalid"):
        load_settings(_env_file=None, smtp_from="sales")
    with pytest.raises(SettingsError, match="SMTP_TLS is invalid"):
        load_settings(_env_file=None, smtp_tls="tls13")
