"""default classifiers: pipeline stages, activity types, outcomes, loss reasons, sources,
regions, industries, segments, campaigns (labelled in Russian and English)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# code, ru, en, default probability %, stall threshold in days
STAGES = [
    ("new", "Новый лид", "New lead", 10, 3),
    ("qualified", "Квалификация", "Qualified", 20, 5),
    ("meeting", "Встреча / демо", "Meeting / demo", 40, 7),
    ("proposal", "КП отправлено", "Proposal sent", 60, 7),
    ("negotiation", "Переговоры", "Negotiation", 75, 10),
    ("contract", "Договор и счёт", "Contract & invoice", 90, 14),
]

CLASSIFIERS: dict[str, list[tuple[str, str, str]]] = {
    "activity_type": [
        ("call", "Звонок", "Call"),
        ("meeting", "Встреча", "Meeting"),
        ("demo", "Демонстрация", "Demo"),
        ("email", "E-mail", "E-mail"),
        ("proposal", "КП", "Proposal"),
        ("message", "Сообщение", "Message"),
        ("note", "Заметка", "Note"),
        ("satisfaction", "Проверка удовлетворённости", "Satisfaction check"),
        ("campaign_touch", "Маркетинговое касание", "Campaign touch"),
    ],
    "outcome": [
        ("reached", "Дозвонился", "Reached"),
        ("no_answer", "Не ответил", "No answer"),
        ("call_back", "Просил перезвонить", "Call back"),
        ("interested", "Заинтересован", "Interested"),
        ("agreed", "Договорились", "Agreed"),
        ("not_interested", "Не заинтересован", "Not interested"),
        ("sent", "Отправлено", "Sent"),
    ],
    "loss_reason": [
        ("price", "Цена", "Price"),
        ("no_benefit", "Не понял выгоды", "Did not see the benefit"),
        ("competitor", "Выбрал конкурента", "Chose a competitor"),
        ("no_budget", "Нет бюджета", "No budget"),
        ("no_need", "Нет потребности", "No need"),
        ("no_response", "Пропал, не отвечает", "Went silent"),
        ("timing", "Не время", "Bad timing"),
        ("other", "Другое", "Other"),
    ],
    "source": [
        ("article", "Статья", "Article"),
        ("exhibition", "Выставка", "Exhibition"),
        ("referral", "Рекомендация", "Referral"),
        ("website", "Сайт", "Website"),
        ("cold_call", "Холодный звонок", "Cold call"),
        ("ads", "Реклама", "Advertising"),
        ("social", "Соцсети", "Social media"),
    ],
    "region": [
        ("moscow", "Москва", "Moscow"),
        ("spb", "Санкт-Петербург", "Saint Petersburg"),
        ("central", "Центр", "Central"),
        ("northwest", "Северо-Запад", "North-West"),
        ("south", "Юг", "South"),
        ("volga", "Поволжье", "Volga"),
        ("urals", "Урал", "Urals"),
        ("siberia", "Сибирь", "Siberia"),
        ("fareast", "Дальний Восток", "Far East"),
    ],
    "industry": [
        ("retail", "Розница", "Retail"),
        ("wholesale", "Оптовая торговля", "Wholesale"),
        ("manufacturing", "Производство", "Manufacturing"),
        ("construction", "Строительство", "Construction"),
        ("it", "ИТ", "IT"),
        ("services", "Услуги", "Services"),
        ("logistics", "Логистика", "Logistics"),
        ("horeca", "HoReCa", "HoReCa"),
    ],
    "segment": [
        ("small", "Малый бизнес", "Small business"),
        ("medium", "Средний бизнес", "Mid-market"),
        ("enterprise", "Крупный бизнес", "Enterprise"),
        ("government", "Госсектор", "Public sector"),
    ],
    "campaign": [
        ("expo_spring", "Весенняя выставка", "Spring exhibition"),
        ("newsletter", "Рассылка", "Newsletter"),
        ("webinar", "Вебинар", "Webinar"),
    ],
}


# Where the defaults are referred to from (as of 0001); a downgrade keeps what is in use.
STAGE_REFS = [("deals", "stage_id"), ("deals", "lost_stage_id")]
ITEM_REFS = [
    ("clients", "region_id"),
    ("clients", "industry_id"),
    ("clients", "segment_id"),
    ("clients", "source_id"),
    ("clients", "campaign_id"),
    ("deals", "loss_reason_id"),
    ("activities", "type_id"),
    ("activities", "outcome_id"),
    ("planned_contacts", "type_id"),
]


def upgrade() -> None:
    """Add the defaults that are missing: after a downgrade that kept values still in use,
    upgrading again must not add them twice (they are unique by code)."""
    conn = op.get_bind()
    have_stages = set(conn.execute(sa.text("SELECT code FROM stages")).scalars())
    stages = sa.table(
        "stages",
        sa.column("code", sa.String),
        sa.column("name_ru", sa.String),
        sa.column("name_en", sa.String),
        sa.column("sort_order", sa.Integer),
        sa.column("probability", sa.Integer),
        sa.column("stall_days", sa.Integer),
        sa.column("is_active", sa.Boolean),
    )
    new_stages = [
        {
            "code": code,
            "name_ru": ru,
            "name_en": en,
            "sort_order": i * 10,
            "probability": prob,
            "stall_days": stall,
            "is_active": True,
        }
        for i, (code, ru, en, prob, stall) in enumerate(STAGES, start=1)
        if code not in have_stages
    ]
    if new_stages:
        op.bulk_insert(stages, new_stages)
    have_items = {
        (kind, code)
        for kind, code in conn.execute(sa.text("SELECT kind, code FROM classifier_items"))
    }
    items = sa.table(
        "classifier_items",
        sa.column("kind", sa.String),
        sa.column("code", sa.String),
        sa.column("name_ru", sa.String),
        sa.column("name_en", sa.String),
        sa.column("sort_order", sa.Integer),
        sa.column("is_active", sa.Boolean),
    )
    new_items = [
        {
            "kind": kind,
            "code": code,
            "name_ru": ru,
            "name_en": en,
            "sort_order": i * 10,
            "is_active": True,
        }
        for kind, values in CLASSIFIERS.items()
        for i, (code, ru, en) in enumerate(values, start=1)
        if (kind, code) not in have_items
    ]
    if new_items:
        op.bulk_insert(items, new_items)


def _unused(table: str, refs: list[tuple[str, str]]) -> str:
    return " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM {ref} WHERE {ref}.{column} = {table}.id)"
        for ref, column in refs
    )


def downgrade() -> None:
    """Remove the default stages and classifier values that nothing refers to.

    Values that clients, deals, history records or plans use stay, with their records: they
    are data now, and deleting them would break the references (or the records). Values a
    business added itself are not touched either.
    """
    conn = op.get_bind()
    for code, *_ in STAGES:
        conn.execute(
            sa.text(f"DELETE FROM stages WHERE code = :code AND {_unused('stages', STAGE_REFS)}"),
            {"code": code},
        )
    for kind, values in CLASSIFIERS.items():
        for code, *_ in values:
            conn.execute(
                sa.text(
                    "DELETE FROM classifier_items WHERE kind = :kind AND code = :code AND "
                    + _unused("classifier_items", ITEM_REFS)
                ),
                {"kind": kind, "code": code},
            )
