"""Search through the trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL): what it finds,
what it never shows, and that the index follows every change of a client."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text, update
from sqlalchemy.engine import Connection

from crm.clients import PAGE
from crm.dto import Actor
from crm.roles import Role
from crm.search_norm import fuzzy_matches, typo_patterns
from crm.service import CRM
from storage.db import Database
from storage.migrate import alembic_config
from storage.models import Client
from tests.factories import admin, client, person


async def names(crm: CRM, actor: Actor, query: str) -> list[str]:
    return [ref.name for ref in (await crm.clients.search(actor, query)).items]


async def test_one_typo_finds_the_client_among_many(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    for i in range(30):
        await client(any_crm, max_, f"ООО Компания {i}")
    await client(any_crm, max_, 'АО "Меридиан Логистик"')
    # A wrong, a missing, an extra letter, two letters swapped; in one word or with another.
    for query in ("мередиан", "мридиан", "меридиаан", "меридаин", "логистик мередиан",
                  "МЕРЕДИАН", "меридиан лоигстик"):
        assert await names(any_crm, max_, query) == ['АО "Меридиан Логистик"'], query
    assert await names(any_crm, max_, "мередиан компания") == []


async def test_cyrillic_any_case_and_yo(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    await client(any_crm, max_, "ЗАО «ЁЛОЧКА-Снаб»")
    for query in ("ёлочка", "ЕЛОЧКА", "Елочка снаб", "лочка", "снаб"):
        assert await names(any_crm, max_, query) == ["ЗАО «ЁЛОЧКА-Снаб»"], query


async def test_phone_digits_in_any_format(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    await client(any_crm, max_, "Ромашка", "+7 916 555-44-33")
    await client(any_crm, max_, "Василёк", "+7 916 111-22-33")
    for query in ("89165554433", "+7 (916) 555-44-33", "555-44-33", "55544"):
        assert await names(any_crm, max_, query) == ["Ромашка"], query


async def test_a_phone_is_found_by_all_its_digits_not_its_last_ones_only(any_crm: CRM) -> None:
    """The index is asked for the last digits of a long number (crm search_phone): the rows
    holding them but not the whole number are still left out, in any of a client's phones."""
    max_ = await person(any_crm, 2002, "Max")
    await client(any_crm, max_, "Ромашка", "+7 916 555-44-33")
    await client(any_crm, max_, "Василёк", "+7 925 555-44-33")
    lily = await client(any_crm, max_, "Лилия", "+7 903 000-00-01")
    await any_crm.clients.add_contact(max_, lily.id, "Пётр", "+7 916 777-44-33", None)
    for query, expected in (("+7 916 555-44-33", ["Ромашка"]), ("925 555-44-33", ["Василёк"]),
                            ("555-44-33", ["Василёк", "Ромашка"]),
                            ("+7 916 777 44 33", ["Лилия"]), ("79164", []),
                            ("54433", ["Василёк", "Ромашка"]), ("74433", ["Лилия"]),
                            ("7916", []), ("+7 916 555-44-34", [])):
        assert await names(any_crm, max_, query) == expected, query
    assert (await any_crm.clients.find_by_phone(max_, "+7 925 555-44-33")) is not None
    assert (await any_crm.clients.find_by_phone(max_, "+7 926 555-44-33")) is None


async def test_deleted_and_invisible_clients_are_never_found(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    max_ = await person(any_crm, 2002, "Max")
    eve = await person(any_crm, 3003, "Eve")
    head = await person(any_crm, 4004, "Helen", Role.HEAD)
    mine = await client(any_crm, max_, "Гранит Север", "+7 916 000-00-01")
    await client(any_crm, eve, "Гранит Юг", "+7 916 000-00-02")
    for query in ("гранит", "гранид", "7916000000"):
        assert await names(any_crm, max_, query) == ["Гранит Север"], query
        assert await names(any_crm, head, query) == [], query
        assert sorted(await names(any_crm, boss, query)) == ["Гранит Север", "Гранит Юг"]
    async with any_crm.db.transaction() as s:
        await s.execute(update(Client).where(Client.id == mine.id).values(is_deleted=True))
    for query in ("гранит", "гранид", "7916000000"):
        assert await names(any_crm, max_, query) == [], query
        assert await names(any_crm, boss, query) == ["Гранит Юг"], query


async def test_the_index_follows_create_rename_edit_and_contacts(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    ref = await client(any_crm, max_, "Квазар")
    assert await names(any_crm, max_, "квазар") == ["Квазар"]
    await any_crm.clients.update_field(max_, ref.id, "name", "Пульсар")
    assert await names(any_crm, max_, "квазар") == []
    assert await names(any_crm, max_, "квозар") == []
    assert await names(any_crm, max_, "пульсар") == ["Пульсар"]
    await any_crm.clients.update_field(max_, ref.id, "phone", "+7 903 777-66-55")
    assert await names(any_crm, max_, "9037776655") == ["Пульсар"]
    await any_crm.clients.update_field(max_, ref.id, "phone", "-")
    assert await names(any_crm, max_, "9037776655") == []
    contact = await any_crm.clients.add_contact(max_, ref.id, "Аркадий Туманов", None, None)
    assert await names(any_crm, max_, "туманов") == ["Пульсар"]
    await any_crm.clients.remove_contact(max_, contact.id)
    assert await names(any_crm, max_, "туманов") == []


async def test_pages_and_total_come_from_one_query(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    for i in range(PAGE + 3):
        await client(any_crm, max_, f"Орбита {i:02d}")
    first = await any_crm.clients.search(max_, "орбита")
    second = await any_crm.clients.search(max_, "орбита", 1)
    assert (first.total, first.pages, second.total) == (PAGE + 3, 2, PAGE + 3)
    assert [r.name for r in second.items] == [f"Орбита {i:02d}" for i in range(PAGE, PAGE + 3)]
    typo = await any_crm.clients.search(max_, "орбитта", 1)
    assert (typo.total, len(typo.items)) == (PAGE + 3, 3)


async def migrate(db: Database, step: str) -> None:
    cfg = alembic_config(db.url)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        if step.startswith("-") or step == "0004":
            command.downgrade(cfg, step)
        else:
            command.upgrade(cfg, step)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def test_the_search_indexes_go_down_and_up_with_data(any_crm: CRM) -> None:
    max_ = await person(any_crm, 2002, "Max")
    await client(any_crm, max_, "Квазар Первый", "+7 916 000-00-01")
    # Below 0005 (0006, client locations, comes after it and goes first).
    await migrate(any_crm.db, "0004")
    # Written while the index is gone (as the pre-0006 schema has it): the upgrade indexes it.
    async with any_crm.db.transaction() as s:
        await s.execute(text(
            "INSERT INTO clients (name, name_norm, search_text, phone_digits, owner_id, "
            "unsubscribed, is_deleted, created_at, updated_at) VALUES ('Квазар Второй', "
            "'квазар второй', 'квазар второй', '79160000002', :owner, false, false, "
            ":now, :now)"), {"owner": max_.id, "now": datetime(2026, 11, 25)})
    await migrate(any_crm.db, "head")
    assert sorted(await names(any_crm, max_, "квазар")) == ["Квазар Второй", "Квазар Первый"]
    assert await names(any_crm, max_, "квозар второй") == ["Квазар Второй"]
    assert await names(any_crm, max_, "79160000001") == ["Квазар Первый"]
    await migrate(any_crm.db, "0004")
    await migrate(any_crm.db, "head")
    assert await names(any_crm, max_, "79160000002") == ["Квазар Второй"]


letters = st.text(alphabet="абвгдежзиклмнопрстуфхцчшэюя", min_size=1, max_size=12)


@given(word=letters, text=st.lists(letters, min_size=1, max_size=4).map(" ".join))
def test_typo_patterns_never_lose_a_match(word: str, text: str) -> None:
    """Whatever the fuzzy match accepts, the SQL patterns let through."""
    if not fuzzy_matches(word, text):
        return
    anchors, exact = typo_patterns(word)
    assert any(like(p, text) for p in exact)
    assert anchors is None or any(a in text for a in anchors)


@given(word=st.text(alphabet="абвгдежзик", min_size=4, max_size=10), data=st.data())
def test_typo_patterns_anchor_every_one_typo_variant(word: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(word) - 1))
    ch = data.draw(st.sampled_from("абвгдежзик"))
    kind = data.draw(st.sampled_from(["sub", "ins", "del", "swap"]))
    typed = {
        "sub": word[:i] + ch + word[i + 1:],
        "ins": word[:i] + ch + word[i:],
        "del": word[:i] + word[i + 1:],
        "swap": word[:i] + word[i + 1:i + 2] + word[i] + word[i + 2:],
    }[kind]
    if len(typed) < 4:
        return
    anchors, exact = typo_patterns(typed)
    assert any(like(p, f"ооо {word} плюс") for p in exact)
    assert anchors is None or any(a in f"ооо {word} плюс" for a in anchors)


def like(pattern: str, text: str) -> bool:
    """SQL LIKE with % and _ (no escapes), as the database evaluates the patterns."""
    import re

    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None
