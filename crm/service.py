"""The composition of domain services handed to the bot and the scheduler."""

from __future__ import annotations

from crm.clock import Clock, SystemClock
from crm.config import CRMConfig
from crm.classifiers import ClassifierService
from crm.billing import BillingService
from crm.clients import ClientService
from crm.deals import DealService
from crm.history import HistoryService, PlanningService
from crm.people import PeopleService
from storage.db import Database


class CRM:
    def __init__(self, db: Database, config: CRMConfig, clock: Clock | None = None) -> None:
        self.db = db
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.people = PeopleService(db, self.clock, config)
        self.classifiers = ClassifierService(db)
        self.clients = ClientService(db, self.clock, config.currency)
        self.deals = DealService(db, self.clock, config.currency)
        self.billing = BillingService(db, self.clock)
        self.history = HistoryService(db, self.clock)
        self.planning = PlanningService(db, self.clock)
