"""The CRM data model (SQLAlchemy 2, typed). Identical on SQLite and PostgreSQL.

Enumerated values are plain strings checked in `crm/`, not database enums, so adding a
role or status never needs a dialect-specific migration.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import CleanString, CleanText, Money, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(CleanString(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    tg_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(CleanString(200))
    username: Mapped[str | None] = mapped_column(CleanString(64))
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(8))
    # Working hours as minutes since local midnight, working days as ISO weekdays "12345".
    work_start_min: Mapped[int] = mapped_column(Integer, default=9 * 60)
    work_end_min: Mapped[int] = mapped_column(Integer, default=18 * 60)
    work_days: Mapped[str] = mapped_column(String(7), default="12345")
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Minutes since local midnight; None: the deployment's DIGEST_TIME.
    digest_time_min: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_vacation: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when Telegram answers 403: the user blocked the bot.
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team | None] = relationship(foreign_keys=[team_id], lazy="raise")


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only a hash of the token is stored: a leaked database does not leak live invitations.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Stage(Base):
    """A pipeline stage, configured to the business."""

    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_ru: Mapped[str] = mapped_column(CleanString(100))
    name_en: Mapped[str] = mapped_column(CleanString(100))
    sort_order: Mapped[int] = mapped_column(Integer)
    probability: Mapped[int] = mapped_column(Integer)
    stall_days: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ClassifierItem(Base):
    """One value of a classifier the business configures.

    kind: activity_type, outcome, loss_reason, source, region, industry, segment, campaign.
    """

    __tablename__ = "classifier_items"
    __table_args__ = (UniqueConstraint("kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name_ru: Mapped[str] = mapped_column(CleanString(100))
    name_en: Mapped[str] = mapped_column(CleanString(100))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class OutcomeLink(Base):
    """An outcome offered after a kind of contact (both classifier_items). A kind with no
    link (or none to a shown outcome) offers every outcome. Kept in the bot by marketers and
    administrators (crm/classifiers.py); seeded by migration 0016."""

    __tablename__ = "outcome_links"

    type_id: Mapped[int] = mapped_column(
        ForeignKey("classifier_items.id", ondelete="CASCADE"), primary_key=True)
    outcome_id: Mapped[int] = mapped_column(
        ForeignKey("classifier_items.id", ondelete="CASCADE"), primary_key=True)


class Client(Base):
    __tablename__ = "clients"
    # «Nearby» narrows by a latitude range first, then longitude (crm/geo.py).
    __table_args__ = (
        Index("ix_clients_lat_lon", "lat", "lon"),
        # Coverage of the base: per owner, contacted since when, from the index alone.
        Index("ix_clients_owner_last_contact", "owner_id", "is_deleted", "last_contact_at"),
        # The marketing report's new clients of a period by their classifiers.
        Index("ix_clients_created", "created_at", "is_deleted", "owner_id", "source_id",
              "segment_id", "region_id", "industry_id", "campaign_id"),
        Index("ix_clients_leads", "owner_id", "is_deleted", "lead_team_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(CleanString(300))
    # casefolded, ё→е, punctuation stripped: SQLite's lower() folds ASCII only.
    name_norm: Mapped[str] = mapped_column(CleanString(300), index=True)
    # Everything searchable in one normalised column: name, contacts, e-mails, tax number.
    # It and phone_digits have trigram indexes (migration 0005: FTS5 on SQLite, pg_trgm on
    # PostgreSQL), dialect-specific, hence not declared here.
    search_text: Mapped[str] = mapped_column(CleanText, default="")
    # Space-separated E.164 digits of every phone of the client and its contacts.
    phone_digits: Mapped[str] = mapped_column(CleanText, default="")
    address: Mapped[str | None] = mapped_column(CleanString(500))
    phones: Mapped[str | None] = mapped_column(CleanString(300))
    emails: Mapped[str | None] = mapped_column(CleanString(300))
    tax_number: Mapped[str | None] = mapped_column(CleanString(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    trigger_event: Mapped[str | None] = mapped_column(CleanString(500))
    probability: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    tg_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # Where the client is (WGS 84 degrees), set on the first check-in or by hand.
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when this client was merged into another (it is then archived: is_deleted).
    merged_into_id: Mapped[int | None] = mapped_column(Integer)
    # The latest typed history record by anyone; kept by database triggers on activities
    # (migration 0012), never written by the application.
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A lead (no owner) waits in this team's queue (None: the admins'); migration 0013.
    lead_team_id: Mapped[int | None] = mapped_column(Integer)
    # When the head was told nobody took this lead (once).
    lead_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ContactPerson(Base):
    __tablename__ = "contact_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(CleanString(200))
    position: Mapped[str | None] = mapped_column(CleanString(200))
    phone: Mapped[str | None] = mapped_column(CleanString(32))
    email: Mapped[str | None] = mapped_column(CleanString(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClientLink(Base):
    """A personal deep link (`/start <token>`) that connects a client's Telegram to one of
    its contact persons (or to the client itself: `contact_id` None). Only the token's hash
    is kept; a link is used once and may be revoked before."""

    __tablename__ = "client_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_persons.id", ondelete="CASCADE")
    )
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_tg_id: Mapped[int | None] = mapped_column(BigInteger)


class ClientChannel(Base):
    """A client's Telegram, linked through a ClientLink: whom it belongs to and whether they
    agree to hear from us. consent: subscribed | unsubscribed | blocked (the bot was blocked),
    since `consent_at`. Mailings read this; one Telegram user is one contact at a time."""

    __tablename__ = "client_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    tg_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_persons.id", ondelete="SET NULL"), index=True
    )
    tg_name: Mapped[str] = mapped_column(CleanString(200))
    tg_username: Mapped[str | None] = mapped_column(CleanString(64))
    locale: Mapped[str] = mapped_column(String(8))
    consent: Mapped[str] = mapped_column(String(16), default="subscribed")
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailConsent(Base):
    """Whether a contact person's e-mail address hears from us: subscribed | unsubscribed |
    bounced (the SMTP server refused it; `reason` says how), since `state_at`. The state is
    that of `email`: a contact whose address changed is subscribed again. `token` (random)
    is the contact's unsubscribe link, the same in every e-mail."""

    __tablename__ = "email_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact_persons.id", ondelete="CASCADE"), unique=True
    )
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(CleanString(200))
    state: Mapped[str] = mapped_column(String(16), default="subscribed")
    reason: Mapped[str | None] = mapped_column(CleanString(300))
    state_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    token: Mapped[str] = mapped_column(String(64), unique=True)


class Document(Base):
    """A standard document of the library (price list, presentation, demo …): its name
    points to its newest version; hidden ones are not offered any more."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(CleanString(200))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentVersion(Base):
    """One upload of a document: Telegram's file id (to send it in Telegram) and the bytes
    (to attach it to an e-mail). Old versions stay, for the history."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # document | photo
    tg_file_id: Mapped[str] = mapped_column(String(300))
    file_name: Mapped[str] = mapped_column(CleanString(255))
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        # The dynamics and the results count a manager's deals opened / closed per period.
        Index("ix_deals_owner_opened", "owner_id", "opened_at"),
        Index("ix_deals_owner_status_closed", "owner_id", "status", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    title: Mapped[str] = mapped_column(CleanString(300))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    loss_reason_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    loss_note: Mapped[str | None] = mapped_column(CleanString(500))
    lost_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    expected_close: Mapped[date | None] = mapped_column(Date)
    probability: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Activity(Base):
    """One typed record of the client's history.

    Contacts carry an activity type and an outcome; events the system writes (a stage
    change, a deal closed, a payment) carry `event` instead.
    """

    __tablename__ = "activities"
    __table_args__ = (
        # A client's history by time; with the type, "a contact since …" (client lists);
        # the id: a history page in its order (newest first) from the index alone (0022).
        Index("ix_activities_client_time", "client_id", "occurred_at", "id", "type_id"),
        # The digest and the reports count each manager's contacts of a period, by type.
        Index("ix_activities_author_time", "author_id", "occurred_at", "type_id"),
        # The funnel: a deal's stage events in time order; the deals that left a stage in a
        # period. Events only (0008): a deal's contacts are not in them.
        Index("ix_activities_deal_time", "deal_id", "occurred_at",
              postgresql_where=text("event IS NOT NULL"), sqlite_where=text("event IS NOT NULL")),
        Index("ix_activities_event_time", "event", "occurred_at",
              postgresql_where=text("event IS NOT NULL"), sqlite_where=text("event IS NOT NULL")),
        # The marketing report's campaign touches: one type over a period, by client, with
        # the touch's own campaign (0020) — the team figures read it from the index alone.
        Index("ix_activities_type_time", "type_id", "occurred_at", "client_id", "campaign_id"),
        # A client's Telegram message is written once, however often the update comes.
        Index("uq_activities_tg_message", "tg_chat_id", "tg_message_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    type_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    outcome_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    event: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(CleanText)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attachment_kind: Mapped[str | None] = mapped_column(String(16))
    attachment_ref: Mapped[str | None] = mapped_column(CleanString(300))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A message of the client's own Telegram (incoming or sent to them): its chat and id.
    tg_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # A campaign touch's own campaign (a broadcast's; one logged by hand: the client's of the
    # moment); NULL: it counts towards the client's campaign (migration 0020).
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))


class ActivityDaily(Base):
    """Typed history records per author, UTC day and type (pre-aggregated for the reports).

    Kept by database triggers on `activities` (migration 0012) on every insert,
    correction and deletion; never written by the application.
    """

    __tablename__ = "activity_daily"
    __table_args__ = ({"sqlite_with_rowid": False},)

    author_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    type_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ActivityMonthly(Base):
    """The same per UTC month (`day` is the month's first day), kept by the same triggers."""

    __tablename__ = "activity_monthly"
    __table_args__ = ({"sqlite_with_rowid": False},)

    author_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    type_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class MarketingDaily(Base):
    """Per client classifier (kind: source, segment, region, industry, campaign), value (0:
    not set) and UTC day: clients created (not deleted) and campaign touches logged on clients
    of that value — for the campaign, a touch's own campaign when it has one (0020). Kept by
    database triggers on `clients` and `activities` (migrations 0018, 0020); never written by
    the application."""

    __tablename__ = "marketing_daily"
    __table_args__ = ({"sqlite_with_rowid": False},)

    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    new_clients: Mapped[int] = mapped_column(Integer)
    touches: Mapped[int] = mapped_column(Integer)


class DealStageStay(Base):
    """A deal's stay in a stage that has ended (moved on, won or lost): the stage event that
    ended it, the stage's code, the deal's owner and the stay's length in milliseconds since
    the deal's stage event before (or its opening). Kept by database triggers on `activities`
    and `deals` (migration 0018); never written by the application."""

    __tablename__ = "deal_stage_stays"
    __table_args__ = (
        Index("ix_deal_stage_stays_owner_left", "owner_id", "left_at", "code", "ms"),
        Index("ix_deal_stage_stays_deal", "deal_id"),
    )

    activity_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deal_id: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(Integer)
    left_at: Mapped[datetime] = mapped_column(UTCDateTime)
    code: Mapped[str] = mapped_column(String(32))
    ms: Mapped[int] = mapped_column(BigInteger)


class PlannedContact(Base):
    __tablename__ = "planned_contacts"
    __table_args__ = (
        Index("ix_planned_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_planned_client_status", "client_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    type_id: Mapped[int | None] = mapped_column(ForeignKey("classifier_items.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(CleanString(500))
    status: Mapped[str] = mapped_column(String(12), default="planned")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    number: Mapped[str | None] = mapped_column(CleanString(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(Date, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """A notification to deliver. The scheduler claims due rows; the key makes it once-only."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → sending → sent | failed | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(CleanString(500))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadRule(Base):
    """How a team's leads are distributed: manual, round_robin, least_busy, region."""

    __tablename__ = "lead_rules"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(16))
    # Round-robin: the manager who got the last lead.
    cursor_user_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserTerritory(Base):
    """A region or an industry whose leads this manager takes under the "by region/industry"
    rule. The column keeps its first name, region_id (0015): it holds a classifier item of
    either kind, so industries needed no schema change."""

    __tablename__ = "user_territories"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        "region_id", ForeignKey("classifier_items.id"), primary_key=True)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CacheVersion(Base):
    """A number bumped (by triggers, migration 0013) whenever what it names changes:
    "classifiers" for classifier_items and stages."""

    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class SchedulerState(Base):
    """The scheduler's memory across restarts: since when it has been running without a
    gap, and when it last ran. A notification says "the bot was unavailable" only when the
    scheduler really was not running at its time."""

    __tablename__ = "scheduler_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    up_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_tick: Mapped[datetime] = mapped_column(UTCDateTime)


class SavedList(Base):
    """A named client filter (crm/lists.py), private to its owner or shared with their
    team; it keeps the filter, not the clients, and is run afresh whenever it is opened."""

    __tablename__ = "saved_lists"
    __table_args__ = (
        UniqueConstraint("owner_id", "name", name="uq_saved_lists_owner_id"),
        Index("ix_saved_lists_team_shared", "team_id", "shared"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The owner's team when it was saved: who a shared list is shared with.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(CleanString(100))
    filter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Mailing(Base):
    """A broadcast (crm/mailings.py): what goes to whom over which channels, and its state.
    status: scheduled → sending ⇄ paused → done | cancelled. The audience is resolved when it
    starts (consent as of then); each recipient is a MailingRecipient."""

    __tablename__ = "mailings"
    __table_args__ = (Index("ix_mailings_status_start", "status", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The wizard's own random token: a repeated «Send» creates one mailing.
    token: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(CleanString(200))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("classifier_items.id", ondelete="SET NULL"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # {"list_id": n} or {"filter": {...}} (crm.lists.ClientFilter.to_json)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(CleanText)
    attachment_kind: Mapped[str | None] = mapped_column(String(16))
    attachment_ref: Mapped[str | None] = mapped_column(CleanString(300))
    # The attachment's file name (an e-mail attaches it under it) and, for a document of
    # the library, its version (whose bytes an e-mail attaches; an uploaded file's are
    # downloaded from Telegram).
    attachment_name: Mapped[str | None] = mapped_column(CleanString(255))
    document_version_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who were left out when it started, and why: {"unsubscribed": n, …}.
    excluded: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The progress message, edited in place while it goes out.
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_shown: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailingRecipient(Base):
    """One recipient of a mailing over one channel: the idempotency key of a delivery is
    (mailing, channel, address) — a Telegram chat id or an e-mail address — unique.
    status: pending → sent | failed | skipped | cancelled."""

    __tablename__ = "mailing_recipients"
    __table_args__ = (
        UniqueConstraint("mailing_id", "channel", "address",
                         name="uq_mailing_recipients_mailing_id"),
        Index("ix_mailing_recipients_mailing_status", "mailing_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailing_id: Mapped[int] = mapped_column(ForeignKey("mailings.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"),
                                           index=True)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    client_channel_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(CleanString(300))
    manager: Mapped[str | None] = mapped_column(CleanString(200))
    locale: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    error: Mapped[str | None] = mapped_column(CleanString(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger)
