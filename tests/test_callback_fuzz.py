"""Callback data comes from the phone and can be forged. For every *CD class of the bot,
generated data either fails to unpack (and falls through to the stale-button handler) or
carries only values a query can take: every integer within PostgreSQL's integer range.
Pressed through the real dispatcher, none of it ever ends in "Something went wrong"."""

from __future__ import annotations

import enum
import importlib
import logging
import pkgutil
import random
import typing
from typing import Any

import pytest
from aiogram.filters.callback_data import CallbackData
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.handlers
import bot.keyboards
from bot.keyboards.types import INT32_MAX
from crm.service import CRM
from tests.factories import client, person
from tests.harness import Harness, TgUser, alerts, texts

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")


def all_cd_classes() -> list[type[CallbackData]]:
    for package in (bot.keyboards, bot.handlers):
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
    found: list[type[CallbackData]] = []
    todo = list(CallbackData.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("bot."):
            found.append(cls)
    return sorted(found, key=lambda c: c.__prefix__)


CLASSES = all_cd_classes()

# What a forger puts into a field: mostly well-formed values of the field's own kind (so the
# rest of the data unpacks and the odd value gets through to the check), and junk.
JUNK = st.sampled_from(["", "None", "null", "nan", "1e9", "٣", "x" * 30, "🙂", "-"])
INTS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                 st.sampled_from([0, -1, 1, INT32_MAX, INT32_MAX + 1, 2**63, 2**64]))


def field_values(cls: type[CallbackData], name: str) -> st.SearchStrategy[str]:
    annotation = cls.model_fields[name].annotation
    options: list[st.SearchStrategy[str]] = [JUNK, INTS.map(str)]
    for arg in (*typing.get_args(annotation), annotation):
        if isinstance(arg, type) and issubclass(arg, enum.Enum):
            options.append(st.sampled_from([str(m.value) for m in arg]))
            options.append(st.sampled_from([str(m.value) for m in arg]))
        if arg is bool:
            options.append(st.sampled_from(["0", "1", "2"]))
    return st.one_of(*options)


def forged(cls: type[CallbackData]) -> st.SearchStrategy[str]:
    fields = [field_values(cls, name) for name in cls.model_fields]
    exact = st.tuples(*fields).map(lambda parts: ":".join([cls.__prefix__, *parts]))
    ragged = st.lists(st.one_of(JUNK, INTS.map(str)), max_size=len(fields) + 1).map(
        lambda parts: ":".join([cls.__prefix__, *parts]))
    return st.one_of(exact, exact, exact, ragged)


def ints_in(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    return []


def test_every_callback_class_is_found() -> None:
    prefixes = [c.__prefix__ for c in CLASSES]
    assert len(CLASSES) >= 40
    assert len(prefixes) == len(set(prefixes)), "two callback classes share a prefix"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_forged_data_unpacks_only_into_bounded_values(
    cls: type[CallbackData], data: st.DataObject
) -> None:
    raw = data.draw(forged(cls))
    try:
        cd = cls.unpack(raw)
    except (TypeError, ValueError):
        return  # the filter says no: the stale-button handler answers
    for name in cls.model_fields:
        for number in ints_in(getattr(cd, name)):
            low, high = int_bounds(cls, name)
            assert low <= number <= high, (raw, name, number)
            if name == "id" or name.endswith("_id"):  # a row id goes to a query as it is
                assert 1 <= number <= INT32_MAX, (raw, name, number)
    assert len(cd.pack().encode()) <= 64


def int_bounds(cls: type[CallbackData], name: str) -> tuple[int, int]:
    """Every integer a button carries is declared with both bounds (ids: DbId, pages: Page,
    the calendar's yyyymmddhh: its own), so none is unbounded."""
    field = cls.model_fields[name]
    metas: list[Any] = list(field.metadata)
    for arg in typing.get_args(field.annotation):  # DbId | None: the bounds are inside
        for meta in getattr(arg, "__metadata__", ()):
            metas += [meta, *getattr(meta, "metadata", [])]
    low = high = None
    for meta in metas:
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    assert low is not None and high is not None, f"{cls.__name__}.{name} has no bounds"
    return int(low), int(high)


@pytest.fixture
def quiet_errors(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.ERROR)
    return caplog


async def test_forged_buttons_pressed_through_the_dispatcher(
    harness: Harness, crm: CRM, quiet_errors: pytest.LogCaptureFixture
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    await client(crm, max_, "Acme")
    rnd = random.Random(20261202)
    extremes = ["0", "-1", str(INT32_MAX + 1), str(2**64), "-" + str(2**40), "", "x" * 30]
    examples: list[str] = []
    for cls in CLASSES:
        for _ in range(25):
            parts = []
            for name in cls.model_fields:
                annotation = cls.model_fields[name].annotation
                enums = [a for a in (*typing.get_args(annotation), annotation)
                         if isinstance(a, type) and issubclass(a, enum.Enum)]
                if enums and rnd.random() < 0.8:
                    parts.append(str(rnd.choice(list(enums[0])).value))
                else:
                    parts.append(rnd.choice([*extremes, "1", "2", "5"]))
            examples.append(":".join([cls.__prefix__, *parts]))
    for raw in examples:
        if len(raw.encode()) > 64:
            continue  # Telegram never delivers longer callback data
        calls = await harness.press(MAX, raw)
        said = texts(calls) + alerts(calls)
        assert not [s for s in said if "went wrong" in s], (raw, said)
    errors = [r for r in quiet_errors.records if r.levelno >= logging.ERROR]
    assert not errors, quiet_errors.text
