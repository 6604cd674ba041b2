"""A living demo CRM for a fresh database, so a new user sees a working pipeline at once.

One team with its people, ~30 clients with contacts, deals in every stage, won and lost
deals, a typed history, today's agenda, invoices and payments. Everything is derived from
`clock.now()` and one `random.Random(seed)`: the same seed on the same day gives the same
data, and a demo seeded on any day looks current on that day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm.clock import Clock
from crm.config import CRMConfig
from crm.errors import Conflict, InvalidInput
from crm.roles import Role
from crm.search_norm import normalize_text
from storage.db import Database
from storage.models import (
    Activity,
    ClassifierItem,
    Client,
    ContactPerson,
    Deal,
    Invoice,
    Payment,
    PlannedContact,
    Stage,
    Team,
    User,
)
from storage.repo.people import audit

DEMO_TEAM = "Демо-отдел"
# Telegram user ids have at most 52 significant bits, so no real person can ever own an id
# above 2**52: a stranger can never log in as a demo user.
DEMO_TG_BASE = 9_000_000_000_000_000
HISTORY_DAYS = 90

STAFF: tuple[tuple[Role, str, str], ...] = (
    (Role.HEAD, "Ольга Белова", "demo_belova"),
    (Role.MANAGER, "Алексей Петров", "demo_petrov"),
    (Role.MANAGER, "Мария Кузнецова", "demo_kuznetsova"),
    (Role.MANAGER, "Дмитрий Соколов", "demo_sokolov"),
    (Role.SERVICE, "Елена Волкова", "demo_volkova"),
    (Role.MARKETER, "Игорь Морозов", "demo_morozov"),
)

# name, latin slug for e-mails, industry code, city (None: anywhere)
COMPANIES: tuple[tuple[str, str, str, str | None], ...] = (
    ("ООО «Ромашка»", "romashka-trade", "retail", None),
    ("ООО «СтройМонтаж»", "stroymontazh", "construction", None),
    ("АО «Уралхиммаш»", "uralhimmash", "manufacturing", "Екатеринбург"),
    ("ИП Иванов Сергей Петрович", "ivanov.sp", "services", None),
    ("ООО «ТехноСервис»", "tehnoservis", "it", None),
    ("ООО «Северный ветер»", "sevveter", "logistics", "Санкт-Петербург"),
    ("АО «Волжская логистика»", "volgalog", "logistics", "Самара"),
    ("ООО «Кофейня на Садовой»", "kofe-sadovaya", "horeca", "Москва"),
    ("ИП Смирнова Анна Викторовна", "smirnova.av", "retail", None),
    ("ООО «Агроснаб»", "agrosnab", "wholesale", "Краснодар"),
    ("ООО «Хлебный дом»", "hlebdom", "manufacturing", None),
    ("ООО «МФ Вектор»", "mf-vector", "manufacturing", None),
    ("ГБУЗ «Городская поликлиника № 12»", "gp12", "services", "Москва"),
    ("ООО «Сибирский лес»", "siblec", "wholesale", "Новосибирск"),
    ("ООО «Альфа-Принт»", "alfaprint", "services", None),
    ("ООО «ДВ-Рыбпром»", "dvrybprom", "manufacturing", "Владивосток"),
    ("ИП Кузнецов Олег Игоревич", "kuznetsov.oi", "construction", None),
    ("ООО «Отель Волна»", "hotel-volna", "horeca", "Казань"),
    ("ООО «ИнфоСофт»", "infosoft", "it", "Москва"),
    ("АО «Тверьстекло»", "tverglass", "manufacturing", "Тверь"),
    ("ООО «Медтехника-Юг»", "medteh-yug", "wholesale", "Ростов-на-Дону"),
    ("ООО «Автодеталь»", "avtodetal", "retail", None),
    ("ООО «Бетон-Строй»", "beton-stroy", "construction", None),
    ("МБОУ «Школа № 57»", "school57", "services", "Пермь"),
    ("ООО «Транзит-Авто»", "tranzit-avto", "logistics", None),
    ("ИП Петрова Елена Николаевна", "petrova.en", "horeca", None),
    ("ООО «Уют-Маркет»", "uyut-market", "retail", None),
    ("ООО «КлинингПро»", "cleaningpro", "services", None),
    ("ООО «ЭкоФерма»", "ecoferma", "wholesale", None),
    ("ООО «Цифровые решения»", "digital-resh", "it", "Санкт-Петербург"),
)

# city, region code, phone area code; Moscow twice because half the market is there
CITIES: tuple[tuple[str, str, str], ...] = (
    ("Москва", "moscow", "495"), ("Москва", "moscow", "499"),
    ("Санкт-Петербург", "spb", "812"), ("Тверь", "central", "4822"),
    ("Ярославль", "central", "4852"), ("Великий Новгород", "northwest", "8162"),
    ("Краснодар", "south", "861"), ("Ростов-на-Дону", "south", "863"),
    ("Казань", "volga", "843"), ("Самара", "volga", "846"),
    ("Екатеринбург", "urals", "343"), ("Пермь", "urals", "342"),
    ("Новосибирск", "siberia", "383"), ("Владивосток", "fareast", "423"),
)  # fmt: skip
STREETS = ("Ленина", "Садовая", "Мира", "Советская", "Гагарина", "Промышленная", "Заводская",
           "Пушкина", "Лесная", "Центральная", "Молодёжная", "Строителей")  # fmt: skip
MALE = (("Андрей", "andrey"), ("Сергей", "sergey"), ("Дмитрий", "dmitry"), ("Павел", "pavel"),
        ("Михаил", "mikhail"), ("Николай", "nikolay"), ("Виктор", "viktor"), ("Олег", "oleg"),
        ("Игорь", "igor"), ("Алексей", "alexey"))  # fmt: skip
FEMALE = (("Анна", "anna"), ("Елена", "elena"), ("Ольга", "olga"), ("Татьяна", "tatiana"),
          ("Наталья", "natalia"), ("Ирина", "irina"), ("Светлана", "svetlana"),
          ("Марина", "marina"))  # fmt: skip
SURNAMES = (("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Попов", "popov"),
            ("Васильев", "vasiliev"), ("Новиков", "novikov"), ("Фёдоров", "fedorov"),
            ("Лебедев", "lebedev"), ("Семёнов", "semenov"), ("Егоров", "egorov"),
            ("Павлов", "pavlov"), ("Козлов", "kozlov"), ("Степанов", "stepanov"),
            ("Орлов", "orlov"), ("Андреев", "andreev"), ("Макаров", "makarov"),
            ("Захаров", "zakharov"))  # fmt: skip
PATRONYMICS = (("Сергеевич", "Сергеевна"), ("Александрович", "Александровна"),
               ("Викторович", "Викторовна"), ("Николаевич", "Николаевна"),
               ("Петрович", "Петровна"), ("Игоревич", "Игоревна"))  # fmt: skip
POSITIONS = ("Генеральный директор", "Коммерческий директор", "Главный бухгалтер",
             "Менеджер по закупкам", "Руководитель отдела снабжения", "Главный инженер",
             "Офис-менеджер")  # fmt: skip
TRIGGERS = ("Открытие нового филиала", "Недовольны текущим поставщиком",
            "Рост объёма заказов", "Прочитали статью в отраслевом журнале",
            "Готовятся к тендеру", "Переезд в новый офис", "Замена устаревшего оборудования",
            "Новый руководитель закупок", "Запуск нового направления",
            "Сезонный рост продаж")  # fmt: skip
PRODUCTS = ("Поставка оборудования", "Внедрение CRM-системы", "Годовое сервисное обслуживание",
            "Лицензии на 25 рабочих мест", "Пилотный проект", "Поставка расходных материалов",
            "Модернизация склада", "Обучение персонала", "Расширение лицензии",
            "Комплексное оснащение офиса")  # fmt: skip
AMOUNTS = {"small": (40_000, 300_000), "medium": (200_000, 1_500_000),
           "enterprise": (800_000, 6_000_000), "government": (300_000, 2_500_000)}  # fmt: skip

# The contact that moved a deal into a stage: activity type, outcome, texts.
STAGE_CONTACTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "new": ("call", "interested", ("Входящий звонок: интересуются «{product}»",
                                   "Заявка с сайта, перезвонил, рассказал о компании")),
    "qualified": ("call", "reached", ("Выяснили потребность и сроки, бюджет есть",
                                      "Уточнили объём, решение принимает директор")),
    "meeting": ("demo", "agreed", ("Провели демонстрацию у клиента, вопросы по интеграции",
                                   "Встреча в офисе клиента, интерес высокий")),
    "proposal": ("proposal", "sent", ("Отправил КП на {amount}",
                                      "Направлено КП «{product}», срок действия 14 дней")),
    "negotiation": ("call", "call_back", ("Обсуждали скидку и условия оплаты",
                                          "Сравнивают с конкурентом, просят снизить цену")),
    "contract": ("email", "agreed", ("Согласовали договор, выставлен счёт на {amount}",
                                     "Отправлены договор на подпись и счёт")),
}  # fmt: skip
Spec = tuple[str, str | None, str]  # activity type, outcome, text
FOLLOW_UPS: tuple[Spec, ...] = (("call", "reached", "Обсудили следующий шаг, всё в силе"),
              ("call", "no_answer", "Не дозвонился, наберу позже"),
              ("email", "sent", "Отправил дополнительные материалы и кейсы"),
              ("message", "reached", "Ответили в мессенджере, ждут согласования"),
              ("call", "call_back", "Просили перезвонить после совещания"))  # fmt: skip
FILLERS: tuple[Spec, ...] = (("email", "sent", "Отправил презентацию компании"),
           ("note", None, "Контактное лицо в отпуске до конца недели"),
           ("call", "reached", "Уточнили реквизиты и адрес доставки"),
           ("message", "reached", "Переписка по срокам поставки"),
           ("call", "no_answer", "Не ответили, оставил сообщение секретарю"))  # fmt: skip
LOSS_REASONS = {  # code: (weight, notes the manager may leave)
    "no_benefit": (8, ("Не увидели разницы с текущим решением",)),
    "competitor": (4, ("Ушли к поставщику, с которым давно работают",)),
    "price": (2, ("Конкурент дал скидку 15 %",)),
    "no_budget": (4, ("Бюджет перенесён на следующий год",)),
    "no_need": (2, ("Задачу решили своими силами",)),
    "no_response": (4, ("Три недели не отвечают на звонки и письма",)),
    "timing": (2, ("Вернуться к разговору после Нового года",)),
    "other": (1, ("Компания на реорганизации",)),
}
SATISFACTION = ("Клиент доволен, замечаний нет", "Проверка удовлетворённости: оценка 9 из 10",
                "Есть вопрос по закрывающим документам, передал менеджеру")  # fmt: skip
CAMPAIGN_TOUCHES = {"expo_spring": "Приглашение на стенд на весенней выставке",
                    "newsletter": "Отправлена рассылка о новинках",
                    "webinar": "Приглашение на вебинар по автоматизации продаж"}  # fmt: skip
AGENDA = {  # what the next planned contact is about, by stage: type, note
    "new": ("call", "Квалифицировать: потребность, бюджет, кто решает"),
    "qualified": ("meeting", "Договориться о встрече и демонстрации"),
    "meeting": ("demo", "Демонстрация для технических специалистов"),
    "proposal": ("call", "Обсудить КП, снять возражения"),
    "negotiation": ("meeting", "Переговоры по условиям и скидке"),
    "contract": ("call", "Проверить подписание договора и оплату счёта"),
}
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}
# Invoice scenarios of won deals: days since closing, payment terms in days.
WON_SCENARIOS = {"paid": ((12, 60), (5, 7, 10)), "paid2": ((20, 60), (10, 14)),
                 "overdue": ((20, 50), (5, 7, 10)), "overdue_partial": ((20, 50), (5, 7, 10)),
                 "partial": ((1, 6), (14,)), "fresh": ((1, 6), (10, 14))}  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    teams: int
    users: int
    clients: int
    deals: int
    activities: int
    planned: int
    invoices: int
    payments: int

    def __str__(self) -> str:
        counts = (
            (self.teams, "team", "teams"),
            (self.users, "person", "people"),
            (self.clients, "client", "clients"),
            (self.deals, "deal", "deals"),
            (self.activities, "history record", "history records"),
            (self.planned, "planned contact", "planned contacts"),
            (self.invoices, "invoice", "invoices"),
            (self.payments, "payment", "payments"),
        )
        return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts)


@dataclass(eq=False)
class _Note:
    """A history record before the rows it points to have ids."""

    at: datetime
    author: User
    deal: _DealPlan | None = None
    type_code: str | None = None
    outcome: str | None = None
    text: str | None = None
    event: str | None = None
    details: dict[str, Any] | None = None
    invoice: Invoice | None = None  # its id goes into `details` once it has one


@dataclass(eq=False)
class _ClientPlan:
    row: Client
    owner: User
    segment: str
    persons: list[ContactPerson]
    deals: list[_DealPlan] = field(default_factory=list)
    notes: list[_Note] = field(default_factory=list)


@dataclass(eq=False)
class _DealPlan:
    client: _ClientPlan
    row: Deal
    stage: Stage
    stalled: bool = False
    scenario: str = ""


@dataclass
class _Order:
    kind: str  # open | won | lost
    stage: int = 0
    stalled: bool = False
    scenario: str = ""


def _inn(rng: random.Random, length: int) -> str:
    """A tax number (ИНН) with valid check digits: 10 for companies, 12 for individuals."""

    def check(ds: list[int], coeffs: tuple[int, ...]) -> int:
        return sum(d * c for d, c in zip(ds, coeffs, strict=True)) % 11 % 10

    base = 9 if length == 10 else 10
    ds = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(base - 1)]
    if length == 10:
        ds.append(check(ds, (2, 4, 10, 3, 5, 9, 4, 6, 8)))
    else:
        ds.append(check(ds, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)))
        ds.append(check(ds, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)))
    return "".join(map(str, ds))


_CENT = Decimal("0.01")


def _moscow_place(slug: str) -> tuple[float, float]:
    """A point within about 12 km of the Kremlin, for «Nearby» and check-ins. Its own random
    stream (seeded by the client): the rest of the demo stays as it was."""
    rng = random.Random(slug)
    return (round(55.7558 + rng.uniform(-0.11, 0.11), 6),
            round(37.6173 + rng.uniform(-0.19, 0.19), 6))


def _share(amount: Decimal, percent: int) -> Decimal:
    return (amount * percent / 100).quantize(_CENT, rounding=ROUND_HALF_UP)


class _Builder:
    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        config: CRMConfig,
        stages: list[Stage],
        items: dict[tuple[str, str], int],
    ) -> None:
        self.rng = rng
        self.now = now
        self.tz = ZoneInfo(config.default_timezone)
        self.today = now.astimezone(self.tz).date()
        self.currency = config.currency
        self.stages = stages
        self.items = items
        self.clients: list[_ClientPlan] = []
        self.planned: list[tuple[_ClientPlan, _DealPlan | None, PlannedContact]] = []
        self.invoices: list[tuple[_DealPlan, Invoice, list[Payment]]] = []

    # -- time ------------------------------------------------------------------------------
    def local(self, day: date, minute: int) -> datetime:
        return datetime.combine(day, time(minute // 60, minute % 60), self.tz).astimezone(UTC)

    def past(self, at: datetime) -> datetime:
        return min(at, self.now - timedelta(minutes=self.rng.randint(2, 30)))

    def past_min(self, at: datetime, minutes: int) -> datetime:
        """`minutes` after `at`, but never later than a minute ago."""
        return min(at + timedelta(minutes=minutes), self.now - timedelta(minutes=1))

    def moment(self, days_ago: int) -> datetime:
        """A working-hours moment `days_ago` local days back, never in the future."""
        day = self.today - timedelta(days=days_ago)
        return self.past(self.local(day, self.rng.randint(9 * 60 + 30, 18 * 60)))

    def days_ago(self, at: datetime) -> int:
        return (self.today - at.astimezone(self.tz).date()).days

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    # -- people and clients -----------------------------------------------------------------
    def item(self, kind: str, code: str | None) -> int | None:
        return self.items.get((kind, code)) if code else None

    def phone(self, area: str | None = None) -> str:
        prefix = "7" + (area or f"9{self.rng.randint(0, 9)}{self.rng.randint(0, 9)}")
        return prefix + "".join(str(self.rng.randint(0, 9)) for _ in range(11 - len(prefix)))

    def person(self, domain: str | None) -> ContactPerson:
        rng = self.rng
        female = rng.random() < 0.45
        first, first_lat = rng.choice(FEMALE if female else MALE)
        last, last_lat = rng.choice(SURNAMES)
        patronymic = rng.choice(PATRONYMICS)[1 if female else 0]
        if female:
            last, last_lat = last + "а", last_lat + "a"
        return ContactPerson(
            name=f"{last} {first} {patronymic}",
            position=rng.choice(POSITIONS),
            phone=self.phone(),
            email=f"{first_lat[0]}.{last_lat}@{domain}" if domain else None,
        )

    def client(self, entry: tuple[str, str, str, str | None], owner: User) -> _ClientPlan:
        rng = self.rng
        name, slug, industry, city_name = entry
        city, region, area = rng.choice([c for c in CITIES if c[0] == city_name] or CITIES)
        address = f"г. {city}, ул. {rng.choice(STREETS)}, д. {rng.randint(1, 120)}"
        if rng.random() < 0.5:
            address += f", оф. {rng.randint(1, 400)}"
        individual = name.startswith("ИП ")
        if individual:
            domain = None
            emails = [f"{slug}@{rng.choice(('mail.ru', 'yandex.ru', 'gmail.com'))}"]
            owner_name = name.removeprefix("ИП ")
            persons = [
                ContactPerson(
                    name=owner_name,
                    position="Индивидуальный предприниматель",
                    phone=self.phone(),
                    email=emails[0],
                )
            ]
            segment = "small"
        else:
            domain = f"{slug}.ru"
            emails = ["info@" + domain] + (["sales@" + domain] if rng.random() < 0.3 else [])
            persons = [self.person(domain) for _ in range(rng.randint(1, 2))]
            if name.startswith(("ГБУЗ", "МБОУ")):
                segment = "government"
            elif name.startswith("АО"):
                segment = "enterprise"
            else:
                segment = rng.choices(("small", "medium", "enterprise"), (5, 4, 1))[0]
        phones = [self.phone(area) for _ in range(rng.choices((1, 2), (3, 1))[0])]
        all_phones = list(dict.fromkeys(phones + [p.phone for p in persons if p.phone]))
        all_emails = list(dict.fromkeys(emails + [p.email for p in persons if p.email]))
        tax = _inn(rng, 12 if individual else 10)
        source = rng.choice(
            ("article", "exhibition", "referral", "website", "cold_call", "ads", "social")
        )
        campaign = None
        if source == "exhibition":
            campaign = "expo_spring"
        elif source in ("ads", "social", "website") and rng.random() < 0.6:
            campaign = rng.choice(("newsletter", "webinar"))
        searchable = [name, *(p.name for p in persons), *all_emails, tax]
        row = Client(
            name=name,
            name_norm=normalize_text(name),
            search_text=normalize_text(" ".join(searchable)),
            phone_digits=" ".join(all_phones),
            address=address,
            phones=",".join(phones),
            emails=",".join(emails),
            tax_number=tax,
            region_id=self.item("region", region),
            industry_id=self.item("industry", industry),
            segment_id=self.item("segment", segment),
            source_id=self.item("source", source),
            campaign_id=self.item("campaign", campaign),
            trigger_event=rng.choice(TRIGGERS),
            owner_id=owner.id,
        )
        if city == "Москва":
            row.lat, row.lon = _moscow_place(slug)
        plan = _ClientPlan(row=row, owner=owner, segment=segment, persons=persons)
        self.clients.append(plan)
        return plan

    # -- deals and their history -------------------------------------------------------------
    def money(self, amount: Decimal) -> str:
        whole = f"{amount:,.0f}".replace(",", " ")
        return f"{whole} {CURRENCY_SIGNS.get(self.currency, self.currency)}"

    def contact(self, plan: _DealPlan, at: datetime, spec: Spec) -> None:
        type_code, outcome, text = spec
        text = text.format(product=plan.row.title, amount=self.money(plan.row.amount))
        at = min(at, self.now - timedelta(minutes=1))
        plan.client.notes.append(_Note(at, plan.client.owner, plan, type_code, outcome, text))

    def event(
        self,
        plan: _DealPlan,
        at: datetime,
        event: str,
        details: dict[str, Any],
        *,
        text: str | None = None,
        invoice: Invoice | None = None,
    ) -> None:
        # The same event names and details as crm.deals and crm.billing write.
        plan.client.notes.append(
            _Note(at, plan.client.owner, plan, None, None, text, event, details, invoice)
        )

    def deal(self, cp: _ClientPlan, order: _Order) -> _DealPlan:
        rng, stages = self.rng, self.stages
        minutes = timedelta(minutes=rng.randint(5, 40))
        closed_days = 0
        if order.kind == "open":
            stage = stages[order.stage]
            if order.stalled:
                last = stage.stall_days + rng.randint(2, 20)
            else:
                last = rng.randint(1 if order.stage == 0 else 0, max(1, stage.stall_days - 1))
            path_stages, gap = stages[: order.stage + 1], 12
        elif order.kind == "won":
            stage = stages[-1]
            closed_days = rng.randint(*WON_SCENARIOS[order.scenario][0])
            last, path_stages, gap = closed_days + rng.randint(1, 8), stages, 8
        else:
            stage = stages[min(rng.randrange(len(stages)), rng.randrange(len(stages)))]
            closed_days = rng.randint(1, 60)
            path_stages = stages[: stages.index(stage) + 1]
            last, gap = closed_days + rng.randint(1, 15), 8
        # Entries into each stage on distinct days, oldest first, the last `last` days ago.
        days = [last]
        for _ in path_stages[1:]:
            days.append(days[-1] + rng.randint(1, gap))
        path = list(zip(path_stages, [self.moment(d) for d in reversed(days)], strict=True))
        lo, hi = AMOUNTS[cp.segment]
        amount = Decimal(rng.randrange(lo, hi, 500 if hi < 1_000_000 else 10_000)).quantize(_CENT)
        row = Deal(
            title=rng.choice(PRODUCTS),
            amount=amount,
            currency=self.currency,
            stage_id=stage.id,
            status=order.kind,
            owner_id=cp.owner.id,
            opened_at=path[0][1],
            stage_changed_at=path[-1][1],
        )
        plan = _DealPlan(cp, row, stage, order.stalled, order.scenario)
        cp.deals.append(plan)
        for i, (st, at) in enumerate(path):
            spec = STAGE_CONTACTS.get(st.code, ("call", "reached", ("Рабочий контакт",)))
            if i == 0:
                self.event(plan, at, "deal_created", {"to": st.code, "amount": str(amount)})
                self.contact(plan, at + minutes, (spec[0], spec[1], rng.choice(spec[2])))
                continue
            self.contact(plan, at - minutes, (spec[0], spec[1], rng.choice(spec[2])))
            self.event(plan, at, "stage_changed", {"from": path[i - 1][0].code, "to": st.code})
        stage_at = path[-1][1]
        if order.kind == "open":
            row.probability = stage.probability
            row.expected_close = self.today + timedelta(days=rng.randint(3, 90))
            if not order.stalled:
                at = max(self.moment(rng.randint(0, last)), stage_at + timedelta(minutes=30))
                self.contact(plan, at, rng.choice(FOLLOW_UPS))
            elif rng.random() < 0.5:
                at = self.moment(rng.randint(stage.stall_days + 1, last - 1))
                self.contact(
                    plan,
                    at,
                    ("call", "no_answer", "Не дозвонился, секретарь просит перезвонить позже"),
                )
        elif order.kind == "won":
            closed_at = self.moment(closed_days)
            row.closed_at, row.probability = closed_at, 100
            row.expected_close = self.local_date(closed_at)
            self.contact(
                plan,
                closed_at - minutes,
                ("call", "agreed", "Договор подписан, клиент подтвердил заказ"),
            )
            self.event(plan, closed_at, "deal_won", {"stage": stage.code, "amount": str(amount)})
        else:
            closed_at = self.moment(closed_days)
            codes = [c for c in LOSS_REASONS if ("loss_reason", c) in self.items]
            reason = rng.choices(codes, [LOSS_REASONS[c][0] for c in codes])[0] if codes else ""
            notes = LOSS_REASONS.get(reason, (0, ("",)))[1]
            row.closed_at, row.probability, row.lost_stage_id = closed_at, 0, stage.id
            row.loss_reason_id = self.item("loss_reason", reason)
            row.loss_note = rng.choice(notes) if notes[0] and rng.random() < 0.6 else None
            row.expected_close = self.local_date(closed_at) + timedelta(days=rng.randint(7, 40))
            self.contact(
                plan,
                closed_at - minutes,
                ("call", "not_interested", row.loss_note or "Клиент отказался"),
            )
            details = {"reason": reason or None, "stage": stage.code, "amount": str(amount)}
            self.event(plan, closed_at, "deal_lost", details, text=row.loss_note)
        return plan

    def settle_history(self, cp: _ClientPlan, service: User, marketer: User) -> None:
        """3–10 contacts per client: drop or add the manager's routine ones.

        The latest contact of each deal stays, so stalled deals stay stalled.
        """
        rng = self.rng
        first = min(p.row.opened_at for p in cp.deals)
        if cp.row.campaign_id is not None:
            code = next(
                c
                for (k, c), v in self.items.items()
                if k == "campaign" and v == cp.row.campaign_id
            )
            cp.notes.append(
                _Note(
                    self.moment(self.days_ago(first) + rng.randint(3, 25)),
                    marketer,
                    None,
                    "campaign_touch",
                    "sent",
                    CAMPAIGN_TOUCHES.get(code, "Маркетинговое касание"),
                )
            )
        for plan in cp.deals:
            after = self.days_ago(plan.row.closed_at or self.now) - rng.randint(5, 20)
            if plan.scenario.startswith("paid") and after > 0 and rng.random() < 0.7:
                cp.notes.append(
                    _Note(
                        self.moment(after),
                        service,
                        None,
                        "satisfaction",
                        "reached",
                        rng.choice(SATISFACTION),
                    )
                )
        contacts = [n for n in cp.notes if n.event is None]
        keep = {id(n) for n in contacts if n.author is not cp.owner}
        for plan in cp.deals:
            keep.add(id(max((n for n in contacts if n.deal is plan), key=lambda n: n.at)))
        horizon = self.now - timedelta(days=HISTORY_DAYS)
        target = rng.randint(3, 10)
        removable = [n for n in contacts if id(n) not in keep]
        rng.shuffle(removable)
        removable.sort(key=lambda n: n.at >= horizon)  # the oldest go first
        drop = {id(n) for n in removable[: max(0, len(contacts) - target)]}
        cp.notes = [n for n in cp.notes if id(n) not in drop]
        for _ in range(target - (len(contacts) - len(drop))):
            plan = rng.choice(cp.deals)
            start = plan.row.opened_at
            last = max(n.at for n in cp.notes if n.deal is plan and n.event is None)
            spec = rng.choice(FILLERS)
            if rng.random() < 0.3 or last - start < timedelta(hours=2):
                at = self.moment(self.days_ago(start) + rng.randint(1, 10))
                cp.notes.append(_Note(at, cp.owner, None, *spec))
            else:
                at = (start + (last - start) * rng.random()).replace(second=0, microsecond=0)
                self.contact(plan, at, spec)
        # The manager's estimate: the stage's odds while a deal is open, else by the outcome.
        statuses = {p.row.status: p.row.probability for p in cp.deals}
        cp.row.probability = statuses.get("open") or (70 if "won" in statuses else 10)

    def finish(self, cp: _ClientPlan) -> None:
        """Dates that follow from the history: a deal's last activity is its latest record of
        any kind, as crm.deals keeps it."""
        for plan in cp.deals:
            plan.row.last_activity_at = max(n.at for n in cp.notes if n.deal is plan)
        cp.row.created_at = min(n.at for n in cp.notes) - timedelta(days=self.rng.randint(1, 5))
        cp.row.updated_at = max(n.at for n in cp.notes)

    # -- agenda and money -----------------------------------------------------------------------
    def agenda(self, manager: User) -> None:
        rng = self.rng
        mine = [
            p
            for cp in self.clients
            if cp.owner is manager
            for p in cp.deals
            if p.row.status == "open"
        ]
        fresh = [p for p in mine if not p.stalled] or mine
        stale = [p for p in mine if p.stalled] + fresh
        local_now = self.now.astimezone(self.tz)
        start = local_now.hour * 60 + local_now.minute + 15
        start = max(9 * 60, start if start <= 19 * 60 + 30 else 9 * 60)
        slots = [
            self.local(self.today, rng.randrange(start, 20 * 60, 5))
            for _ in range(rng.randint(2, 3))
        ]
        overdue = [
            self.local(self.today - timedelta(days=d), rng.randrange(600, 1020, 15))
            for d in rng.sample((1, 1, 2), rng.randint(1, 2))
        ]
        workdays = [d for d in range(1, 15) if (self.today + timedelta(days=d)).isoweekday() <= 5]
        coming = [
            self.local(self.today + timedelta(days=d), rng.randrange(600, 1050, 15))
            for d in sorted(rng.sample(workdays, rng.randint(3, 4)))
        ]
        rng.shuffle(fresh)
        rng.shuffle(stale)
        for i, due in enumerate(sorted(slots) + overdue + coming):
            pool = stale if due < self.now else fresh
            plan = pool[i % len(pool)] if pool else None
            cp = (
                plan.client
                if plan
                else rng.choice([c for c in self.clients if c.owner is manager])
            )
            type_code, note = AGENDA.get(plan.stage.code if plan else "", ("call", "Связаться"))
            created = min(due, self.now) - timedelta(days=rng.randint(1, 5))
            self.planned.append(
                (
                    cp,
                    plan,
                    PlannedContact(
                        owner_id=manager.id,
                        type_id=self.item("activity_type", type_code),
                        due_at=due,
                        note=note,
                        status="planned",
                        created_at=created,
                    ),
                )
            )

    def bill(self) -> None:
        """Invoices on won deals (each with its payment story) and on open contracts (unpaid:
        a payment would count as activity and wake a stalled deal)."""
        rng, last_stage = self.rng, self.stages[-1]
        billable = [
            (p, self.past_min(p.row.closed_at or p.row.stage_changed_at, rng.randint(5, 20)))
            for cp in self.clients
            for p in cp.deals
            if p.row.status == "won" or (p.row.status == "open" and p.stage is last_stage)
        ]
        billable.sort(key=lambda pair: pair[1])
        for seq, (plan, at) in enumerate(billable, start=1):
            deal, amount, scenario = plan.row, plan.row.amount, plan.scenario
            issued = self.local_date(at)
            terms = rng.choice(WON_SCENARIOS[scenario][1] if scenario else (10, 14))
            due = issued + timedelta(days=terms)
            payments: list[tuple[Decimal, date]] = []
            if scenario == "paid":
                payments = [(amount, issued + timedelta(days=rng.randint(1, terms)))]
            elif scenario == "paid2":
                first = _share(amount, rng.choice((30, 50)))
                payments = [
                    (first, issued + timedelta(days=rng.randint(1, 3))),
                    (amount - first, issued + timedelta(days=rng.randint(terms - 3, terms + 5))),
                ]
            elif scenario in ("partial", "overdue_partial"):
                part = _share(amount, rng.choice((30, 40, 50, 60)))
                payments = [(part, issued + timedelta(days=rng.randint(1, 3)))]
            invoice = Invoice(
                number=f"{issued.year}/{seq:03d}",
                amount=amount,
                currency=self.currency,
                issued_on=issued,
                due_on=due,
                status="paid" if sum(a for a, _ in payments) == amount else "open",
                created_by_id=deal.owner_id,
                created_at=at,
            )
            details = {"amount": str(amount), "due_on": due.isoformat(), "number": invoice.number}
            self.event(plan, at, "invoice_added", details, invoice=invoice)
            rows, rest = [], amount
            for part, day in payments:
                paid_on = min(day, self.today)
                when = self.past_min(self.local(paid_on, rng.randint(11 * 60, 16 * 60)), 0)
                rest -= part
                rows.append(Payment(amount=part, paid_on=paid_on, created_by_id=deal.owner_id,
                                    created_at=when))  # fmt: skip
                details = {"amount": str(part), "paid_on": paid_on.isoformat(), "rest": str(rest)}
                self.event(plan, when, "payment_received", details, invoice=invoice)
            self.invoices.append((plan, invoice, rows))


def _orders(rng: random.Random, stages: int) -> list[_Order]:
    """Which deals to make: an open one in every stage (two in the last, for invoices),
    some stalled; won deals with a payment story each; lost ones."""
    n_open = max(20, stages + 2)
    early = [max(1, stages - i) for i in range(stages)]
    opened = [*range(stages), stages - 1]
    opened += rng.choices(range(stages), early, k=n_open - len(opened))
    stalled = [i < n_open * 3 // 10 for i in range(n_open)]
    rng.shuffle(stalled)
    won = ["paid", "paid2", "overdue", "overdue_partial", "partial"]
    won += rng.choices(("paid", "paid2", "fresh", "overdue"), (3, 2, 1, 1), k=4)
    return (
        [_Order("open", st, s) for st, s in zip(opened, stalled, strict=True)]
        + [_Order("won", scenario=w) for w in won]
        + [_Order("lost") for _ in range(7)]
    )


async def seed_demo(
    db: Database, config: CRMConfig, clock: Clock, *, seed: int = 7
) -> DemoSummary:
    """Fill a migrated database with the demo team's CRM in one transaction.

    Raises `Conflict("demo_exists")` and changes nothing if the demo is already there.
    """
    rng = random.Random(seed)
    now = clock.now().astimezone(UTC).replace(second=0, microsecond=0)
    tg_ids = [DEMO_TG_BASE + i for i in range(1, len(STAFF) + 1)]
    async with db.transaction() as s:
        if await s.scalar(select(Team.id).where(Team.name == DEMO_TEAM)) is not None or (
            await s.scalar(select(User.id).where(User.tg_id.in_(tg_ids)).limit(1)) is not None
        ):
            raise Conflict("demo_exists")
        stages = list(
            await s.scalars(select(Stage).where(Stage.is_active).order_by(Stage.sort_order))
        )
        if not stages:
            raise InvalidInput("no_stages")
        rows = (
            await s.execute(
                select(ClassifierItem.kind, ClassifierItem.code, ClassifierItem.id).where(
                    ClassifierItem.is_active
                )
            )
        ).all()
        items = {(kind, code): id_ for kind, code, id_ in rows}

        since = now - timedelta(days=180)
        team = Team(name=DEMO_TEAM, created_at=since)
        s.add(team)
        await s.flush()
        users = [
            User(
                tg_id=tg,
                name=name,
                username=username,
                role=role.value,
                team_id=team.id,
                timezone=config.default_timezone,
                locale=config.default_locale,
                created_at=since,
            )
            for tg, (role, name, username) in zip(tg_ids, STAFF, strict=True)
        ]
        s.add_all(users)
        await s.flush()
        by_role = {role: [u for u in users if u.role == role.value] for role in Role}
        managers = by_role[Role.MANAGER]

        b = _Builder(rng, now, config, stages, items)
        entries = list(COMPANIES)
        rng.shuffle(entries)
        clients = [b.client(e, managers[i % len(managers)]) for i, e in enumerate(entries)]
        orders = _orders(rng, len(stages))
        rng.shuffle(orders)
        extra = rng.sample(clients, max(0, len(orders) - len(clients)))
        for i, order in enumerate(orders):
            b.deal(clients[i] if i < len(clients) else extra[i - len(clients)], order)
        for cp in clients:
            b.settle_history(cp, by_role[Role.SERVICE][0], by_role[Role.MARKETER][0])
        for manager in managers:
            b.agenda(manager)
        b.bill()
        for cp in clients:
            b.finish(cp)

        # Insert parents first: the rows only learn their foreign keys from flushed ids.
        s.add_all([cp.row for cp in clients])
        await s.flush()
        for cp in clients:
            for person in cp.persons:
                person.client_id, person.created_at = cp.row.id, cp.row.created_at
            for plan in cp.deals:
                plan.row.client_id = cp.row.id
        deals = [p.row for cp in clients for p in cp.deals]
        s.add_all([p for cp in clients for p in cp.persons])
        s.add_all(deals)
        await s.flush()
        for plan, invoice, _ in b.invoices:
            invoice.deal_id = plan.row.id
        s.add_all([i for _, i, _ in b.invoices])
        await s.flush()
        payments = [p for _, invoice, rows_ in b.invoices for p in rows_]
        for _, invoice, rows_ in b.invoices:
            for payment in rows_:
                payment.invoice_id = invoice.id
        for cp, maybe, pc in b.planned:
            pc.client_id, pc.deal_id = cp.row.id, maybe.row.id if maybe else None
        activities = [
            Activity(
                client_id=cp.row.id,
                deal_id=n.deal.row.id if n.deal else None,
                author_id=n.author.id,
                type_id=b.item("activity_type", n.type_code),
                outcome_id=b.item("outcome", n.outcome),
                event=n.event,
                text=n.text,
                details={"invoice_id": n.invoice.id, **(n.details or {})}
                if n.invoice
                else n.details,
                occurred_at=n.at,
                created_at=n.at,
            )
            for cp in clients
            for n in sorted(cp.notes, key=lambda n: n.at)
        ]
        s.add_all(payments)
        s.add_all([pc for _, _, pc in b.planned])
        s.add_all(activities)
        audit(s, None, "demo.seeded", "team", team.id, {"seed": seed}, now)
        await s.flush()
    return DemoSummary(
        teams=1,
        users=len(users),
        clients=len(clients),
        deals=len(deals),
        activities=len(activities),
        planned=len(b.planned),
        invoices=len(b.invoices),
        payments=len(payments),
    )
