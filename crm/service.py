"""The composition of domain services handed to the bot and the scheduler."""

from __future__ import annotations

from crm.clock import Clock, SystemClock
from crm.config import CRMConfig
from crm.people import PeopleService
from storage.db import Database


class CRM:
    def __init__(self, db: Database, config: CRMConfig, clock: Clock | None = None) -> None:
        self.db = db
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.people = PeopleService(db, self.clock, config)
