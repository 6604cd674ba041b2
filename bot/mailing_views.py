"""Texts of broadcasts: the message as a client gets it (with «Отписаться»), the wizard's
review, the progress message, the report and its spreadsheet."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.keyboards.mailings import progress_buttons, unsubscribe_kb
from bot.xlsx import Column, Fmt, Table, workbook
from crm.mailings import (
    ATTEMPT,
    CANCELLED,
    CAPTION_MAX,
    DONE,
    EMAIL,
    EXCLUDED_BLOCKED,
    EXCLUDED_BOUNCED,
    EXCLUDED_CLIENT_UNSUBSCRIBED,
    EXCLUDED_EMAIL_UNSUBSCRIBED,
    EXCLUDED_NO_EMAIL,
    EXCLUDED_NO_TELEGRAM,
    EXCLUDED_UNSUBSCRIBED,
    FAILED,
    PAUSED,
    PENDING,
    REPLY_DAYS,
    SCHEDULED,
    SENDING,
    SENT,
    SKIPPED,
    TELEGRAM,
    UNKNOWN,
    AudiencePreview,
    MailingReport,
    MailingView,
    Progress,
)

e = html.escape


@dataclass(frozen=True, slots=True)
class Part:
    """One Telegram message of a broadcast; the last one carries «Отписаться»."""

    text: str | None = None
    media: tuple[str, str] | None = None  # (photo | document, file id)
    caption: str | None = None
    markup: InlineKeyboardMarkup | None = None


def message_parts(mailing_id: int, text: str, kind: str | None,
                  file_id: str | None) -> list[Part]:
    """In the recipient's locale (the button's language)."""
    markup = unsubscribe_kb(mailing_id)
    if kind is not None and file_id is not None:
        if len(text) <= CAPTION_MAX:
            return [Part(media=(kind, file_id), caption=text, markup=markup)]
        return [Part(media=(kind, file_id)), Part(text=text, markup=markup)]
    return [Part(text=text, markup=markup)]


def mailing_messages(view: MailingView) -> list[Part]:
    return message_parts(view.mailing_id, view.text, view.attachment_kind, view.attachment_ref)


_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r'<a\s+href="([^"]*)"[^>]*>(.*?)</a>', re.S)


def plain_text(telegram_html: str) -> str:
    """A message's Telegram HTML as plain text (links keep their address)."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})"
                     if m.group(1) and m.group(1) != m.group(2) else m.group(2), telegram_html)
    return html.unescape(_TAG.sub("", text))


def html_body(telegram_html: str) -> str:
    """Telegram's HTML (b, i, u, s, a, code, pre, blockquote) as an e-mail's HTML body."""
    body = telegram_html.replace("<tg-spoiler>", "<span>").replace("</tg-spoiler>", "</span>")
    return body.replace("\n", "<br>\n")


def email_preview(subject: str, text: str, attachment: str | None) -> str:
    """The e-mail as an e-mail recipient gets it (in the preview and the test)."""
    lines = [_("✉️ <b>The e-mail</b>"), _("Subject: {subject}").format(subject=e(subject))]
    if attachment:
        lines.append(_("Attachment: {name}").format(name=e(attachment)))
    lines += ["", e(plain_text(text)), "", "— " + _("with an unsubscribe line and the "
                                                   "List-Unsubscribe header")]
    return "\n".join(lines)


def channel_name(channel: str) -> str:
    return {TELEGRAM: "Telegram", EMAIL: _("E-mail")}.get(channel, channel)


def excluded_name(reason: str) -> str:
    return {
        EXCLUDED_CLIENT_UNSUBSCRIBED: _("the client is marked «no mailings»"),
        EXCLUDED_UNSUBSCRIBED: _("unsubscribed"),
        EXCLUDED_BLOCKED: _("blocked the bot"),
        EXCLUDED_NO_TELEGRAM: _("no linked Telegram"),
        EXCLUDED_NO_EMAIL: _("no e-mail address"),
        EXCLUDED_BOUNCED: _("e-mail address refused"),
        EXCLUDED_EMAIL_UNSUBSCRIBED: _("unsubscribed from e-mail"),
    }.get(reason, reason)


def status_name(status: str) -> str:
    return {
        SCHEDULED: _("scheduled"), SENDING: _("sending"), PAUSED: _("paused"),
        DONE: _("done"), CANCELLED: _("cancelled"),
    }.get(status, status)


def recipient_status_name(status: str) -> str:
    return {
        PENDING: _("waiting"), SENT: _("delivered"), FAILED: _("failed"),
        SKIPPED: _("skipped"), CANCELLED: _("cancelled"), ATTEMPT: _("sending"),
        UNKNOWN: _("unknown: the bot restarted while sending"),
    }.get(status, status)


def _excluded_lines(excluded: dict[str, int]) -> list[str]:
    found = [(k, n) for k, n in excluded.items() if n and k != "error"]
    if not found:
        return []
    return [_("Left out:")] + [f"  • {excluded_name(k)}: {n}" for k, n in
                               sorted(found, key=lambda x: -x[1])]


def review_text(name: str, campaign: str | None, audience: str | None,
                preview: AudiencePreview) -> str:
    lines = [_("📣 <b>Mailing «{name}»</b>").format(name=e(name)),
             _("Campaign: {campaign}").format(campaign=e(campaign) if campaign else "—"),
             _("Audience: {audience} — clients: {n}").format(
                 audience=e(audience) if audience else _("the filter"), n=preview.clients),
             ""]
    for ch in preview.channels:
        if ch.configured:
            lines.append(_("{channel}: {n} recipients").format(
                channel=channel_name(ch.channel), n=ch.recipients))
        else:
            lines.append(_("{channel}: not configured").format(
                channel=channel_name(ch.channel)))
    extra = _excluded_lines(preview.excluded)
    if extra:
        lines += ["", *extra]
    lines.append("")
    if preview.total:
        lines.append(_("👁 Preview shows the message as the first recipient will see it; "
                       "🧪 sends it to you."))
    else:
        lines.append(_("Nobody on this list can get it now."))
    return "\n".join(lines)


def _eta(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return _("under a minute")
    if minutes < 60:
        return _("~{m} min").format(m=minutes)
    return _("~{h} h {m} min").format(h=minutes // 60, m=minutes % 60)


def local(moment: datetime | None, tz: str) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")


def progress_text(p: Progress) -> str:
    lines = [_("📣 <b>Mailing «{name}»</b> — {status}").format(
        name=e(p.name), status=status_name(p.status))]
    if p.status == SCHEDULED:
        lines.append(_("Goes out at {when}.").format(when=local(p.start_at, p.timezone)))
        return "\n".join(lines)
    lines.append(_("✅ sent: {sent} · ❌ failed: {failed} · ⏳ left: {left}").format(
        sent=p.sent, failed=p.failed, left=p.left))
    if p.skipped:
        lines.append(_("⏭ not sent (unsubscribed meanwhile or cancelled): {n}").format(
            n=p.skipped))
    if p.unknown:
        lines.append(_("❔ unknown (the bot restarted while sending them; they may have "
                       "arrived): {n}").format(n=p.unknown))
    if p.status == SENDING and p.left:
        lines.append(_("Time left: {eta}").format(
            eta=_eta(p.eta_seconds) if p.eta_seconds is not None else "…"))
    if p.status in (DONE, CANCELLED) and p.finished_at is not None:
        lines.append(_("Finished at {when}.").format(when=local(p.finished_at, p.timezone)))
    return "\n".join(lines)


def progress_kb(p: Progress) -> InlineKeyboardMarkup:
    return progress_buttons(p.id, p.status)


def report_text(r: MailingReport, locale: str) -> str:
    p = r.progress
    campaign = (r.campaign.ru if locale == "ru" else r.campaign.en) if r.campaign else "—"
    lines = [_("📊 <b>Mailing «{name}»</b> — {status}").format(
                 name=e(p.name), status=status_name(p.status)),
             _("Campaign: {campaign}").format(campaign=e(campaign)),
             _("Started: {when}").format(when=local(p.started_at, p.timezone)),
             _("Channels: {channels}").format(
                 channels=", ".join(channel_name(c) for c in r.channels)),
             "",
             _("Recipients: {n}").format(n=p.total),
             _("✅ delivered: {n}").format(n=p.sent),
             _("❌ failed: {n}").format(n=p.failed)]
    for reason, n in sorted(r.reasons.items(), key=lambda x: -x[1])[:10]:
        lines.append(f"  • {e(reason)}: {n}")
    if len({x.channel for x in r.lines}) > 1:
        for channel in (TELEGRAM, EMAIL):
            mine = [x for x in r.lines if x.channel == channel]
            if mine:
                lines.append(_("{channel}: ✅ {sent} · ❌ {failed} · 🚫 unsubscribed since: "
                               "{unsub}").format(
                    channel=channel_name(channel),
                    sent=sum(1 for x in mine if x.status == SENT),
                    failed=sum(1 for x in mine if x.status == FAILED),
                    unsub=sum(1 for x in mine if x.unsubscribed)))
    if p.skipped:
        lines.append(_("⏭ not sent: {n}").format(n=p.skipped))
    if p.unknown:
        lines.append(_("❔ unknown (the bot restarted while sending them): {n}").format(
            n=p.unknown))
    if p.left:
        lines.append(_("⏳ left: {n}").format(n=p.left))
    lines.append(_("🚫 unsubscribed since: {n}").format(n=r.unsubscribed))
    lines.append(_("💬 replied within {days} days: {n}").format(days=REPLY_DAYS, n=r.replied))
    extra = _excluded_lines(r.excluded)
    if extra:
        lines += ["", *extra]
    return "\n".join(lines)


def report_xlsx(r: MailingReport) -> bytes:
    tz = ZoneInfo(r.progress.timezone)
    columns = [Column(_("Client id"), Fmt.INT), Column(_("Recipient")),
               Column(_("Channel")), Column(_("Address")), Column(_("Status")),
               Column(_("Reason")), Column(_("Sent at"), Fmt.DATETIME),
               Column(_("Unsubscribed since")), Column(_("Replied"))]
    rows: list[Sequence[object]] = []
    for x in r.lines:
        sent = x.sent_at.astimezone(tz).replace(tzinfo=None) if x.sent_at else None
        status = recipient_status_name(x.status)
        if x.status == FAILED and (x.error or "").startswith("bounced:"):
            status = _("address refused (bounced)")
        rows.append([x.client_id, x.name, channel_name(x.channel), x.address,
                     status, x.error or "", sent,
                     _("yes") if x.unsubscribed else "", _("yes") if x.replied else ""])
    return workbook([Table(_("Recipients"), columns, rows)])  # type: ignore[arg-type]
