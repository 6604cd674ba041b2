"""The composition of domain services handed to the bot and the scheduler."""

from __future__ import annotations

from crm.billing import BillingService
from crm.channel import ChannelService
from crm.classifiers import ClassifierService
from crm.client_admin import ClientAdminService
from crm.clients import ClientService
from crm.clock import Clock, SystemClock
from crm.config import CRMConfig
from crm.deals import DealService
from crm.digest import DigestService
from crm.documents import DocumentService
from crm.export import ExportService
from crm.history import HistoryService, PlanningService
from crm.importer import ImportService
from crm.leads import LeadService
from crm.lists import ClientLists
from crm.mail import MailService, mail_configured
from crm.mailings import MailingService
from crm.notifications import NotificationService
from crm.outbox import OutboxService
from crm.people import PeopleService
from crm.reminders import ReminderService
from crm.reports.service import Reports
from crm.settings import SettingsService
from crm.visits import VisitService
from storage.db import Database


class CRM:
    def __init__(self, db: Database, config: CRMConfig, clock: Clock | None = None) -> None:
        self.db = db
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.people = PeopleService(db, self.clock, config)
        self.classifiers = ClassifierService(db, self.clock)
        self.clients = ClientService(db, self.clock, config.currency, self.classifiers)
        self.deals = DealService(db, self.clock, config.currency)
        self.billing = BillingService(db, self.clock)
        self.history = HistoryService(db, self.clock, self.classifiers)
        self.planning = PlanningService(db, self.clock)
        self.notifications = NotificationService(db, self.clock, config.notify)
        self.outbox = OutboxService(db, self.clock)
        self.reminders = ReminderService(db, self.clock, config, self.history, self.planning)
        self.digest = DigestService(db, self.clock, config)
        self.settings = SettingsService(db, self.clock, config)
        self.visits = VisitService(db, self.clock, config.visit_far_km)
        self.reports = Reports(db, self.clock, config)
        self.client_admin = ClientAdminService(db, self.clock)
        self.leads = LeadService(db, self.clock, config.notify, self.client_admin,
                                 config.default_locale)
        self.clients.distribute = self.leads.distribute
        self.lists = ClientLists(db, self.clock)
        self.imports = ImportService(db, self.clock)
        self.imports.distribute_team = self.leads.distribute_waiting
        self.exports = ExportService(db, self.clock)
        self.channel = ChannelService(db, self.clock, config)
        self.mail = MailService(db, self.clock, config.mail)
        self.documents = DocumentService(db, self.clock, self.mail)
        self.mailings = MailingService(db, self.clock, config, self.lists)
        self.mailings.email_enabled = mail_configured(config.mail)
