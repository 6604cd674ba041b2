"""Routing without trying every handler: an index of what each handler can possibly take.

aiogram finds the handler of an update by walking the routers in order and, in each, checking
every handler's filters until one passes: a card button went through ~25 filter checks in a
dozen routers, a typed answer to a form through ~90. Most of those filters can be seen, before
any update comes, to need one exact thing of the update:

* a callback-data filter (``SomeCD.filter(...)``) needs the data's prefix to be its prefix;
* a state (``SomeForm.step``, ``StateFilter(...)``) needs the chat's raw state to be one of its
  states;
* a command (``Command("today")``, ``CommandStart()``) needs the text to be that command;
* ``F.text == BTN_X`` (a menu button) needs the text to be one of BTN_X's translations;
* a filter with ``passes_without_actor_only = True`` (the stranger's and the linked client's
  routers) needs no ``actor`` in the data.

An update is reduced to its *key* — (data prefix, raw state, command, text, no actor), each
kept only when some handler asks for that value (else a sentinel no filter takes) — and, per
key, the index remembers which handlers of an observer can pass (their guards admit the key)
and which routers hold any such handler. An observer then checks only those handlers, in
their order, with all their filters as before; a router with none is passed over. The guards
only ever rule out handlers whose filters would certainly fail, so the first handler whose
filters pass is the same one aiogram would have chosen: the stale-button handler, the forms'
guards and the access filters work as they did. Filters that are not recognised constrain
nothing (the handler is always checked).

Assumes what holds in this bot: routers' own filters (``router.callback_query.filter(...)``)
have no side effects, since a router with no possible handler is passed over without checking
them; and routers with an outer middleware of their own are always entered. Handlers and routers
registered after ``install`` are seen: registering clears the index.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.bases import UNHANDLED, SkipHandler
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n
from magic_filter.operations.comparator import ComparatorOperation
from magic_filter.operations.getattr import GetAttributeOperation

INDEXED = ("message", "callback_query")
PREFIX, STATE, COMMAND, TEXT, NO_ACTOR = range(5)


class _Other:
    """A key part that no guard asks for."""

    def __repr__(self) -> str:
        return "OTHER"


OTHER: Any = _Other()
ANY = None  # a guard part that takes everything

Key = tuple[Any, Any, Any, Any, bool]
Guard = tuple[tuple[int, frozenset[Any]], ...]  # (key part, values it may have), all must hold


def _state_names(state: Any) -> frozenset[Any] | None:
    """The raw states a state filter passes; None: it passes any (or it is not understood)."""
    if state is None:
        return frozenset({None})
    if isinstance(state, str):
        return None if state == "*" else frozenset({state})
    if isinstance(state, State):
        return None if state.state == "*" else frozenset({state.state})
    if isinstance(state, type) and issubclass(state, StatesGroup):
        return frozenset(state.__all_states_names__)
    return None


def _text_values(right: Any, i18n: I18n | None) -> frozenset[str] | None:
    """Every text `F.text == right` can be equal to: a string, or a lazy translation."""
    if isinstance(right, str):
        return frozenset({right})
    args, kwargs = getattr(right, "_args", None), getattr(right, "_kwargs", None)
    if i18n is None or not isinstance(args, tuple) or len(args) != 1 or kwargs \
            or not isinstance(args[0], str):
        return None
    msgid = args[0]
    # Outside the catalogue's locales gettext answers the msgid itself.
    return frozenset({msgid, *(i18n.gettext(msgid, locale=loc) for loc in i18n.locales)})


def _filter_guard(flt: FilterObject, i18n: I18n | None) -> tuple[int, frozenset[Any]] | None:
    cb = getattr(flt, "sync_callback", flt.callback)
    if isinstance(cb, CallbackQueryFilter):
        cls = cb.callback_data
        if cls.__separator__ == ":":
            return PREFIX, frozenset({cls.__prefix__})
        return None
    if isinstance(cb, State):
        names = _state_names(cb)
        return (STATE, names) if names is not None else None
    if isinstance(cb, StateFilter):
        allowed: set[Any] = set()
        for state in cb.states:
            names = _state_names(state)
            if names is None:
                return None
            allowed |= names
        return STATE, frozenset(allowed)
    if isinstance(cb, Command):
        if cb.prefix != "/" or cb.ignore_case \
                or not all(isinstance(c, str) for c in cb.commands):
            return None
        return COMMAND, frozenset(cb.commands)
    if getattr(cb, "passes_without_actor_only", False):
        # IsStranger, IsLinkedClient: nothing for a registered user.
        return NO_ACTOR, frozenset({True})
    magic = flt.magic
    if magic is not None:
        ops = magic._operations
        if (len(ops) == 2 and isinstance(ops[0], GetAttributeOperation)
                and ops[0].name == "text" and isinstance(ops[1], ComparatorOperation)
                and ops[1].comparator is operator.eq):
            texts = _text_values(ops[1].right, i18n)
            if texts is not None:
                return TEXT, texts
    return None


def filters_guard(filters: list[FilterObject] | None, i18n: I18n | None) -> Guard:
    parts = (_filter_guard(f, i18n) for f in filters or ())
    return tuple(p for p in parts if p is not None)


def handler_guard(handler: HandlerObject, i18n: I18n | None) -> Guard:
    return filters_guard(handler.filters, i18n)


def admits(guard: Guard, key: Key) -> bool:
    return all(key[part] in values for part, values in guard)


def command_of(text: str | None) -> str | None:
    """The command aiogram's Command filter would read in this text (None: not a command)."""
    if not text:
        return None
    words = text.split(maxsplit=1)
    if not words or words[0][0] != "/":
        return None
    return words[0][1:].partition("@")[0]


class RoutingIndex:
    def __init__(self, dp: Dispatcher) -> None:
        self.dp = dp
        self._patched: set[int] = set()
        self.clear()

    def clear(self) -> None:
        filters_on_loop(self.dp)
        i18n = self.dp.workflow_data.get("i18n_core")
        self.guards: dict[int, list[tuple[HandlerObject, Guard]]] = {}
        known: list[set[Any]] = [set(), set(), set(), set(), {True, False}]
        for router in self.dp.chain_tail:
            for name in INDEXED:
                observer = router.observers[name]
                # A handler is reached only through the filters of its router and of the
                # routers above it.
                gate = tuple(part for r in router.chain_head
                             for part in filters_guard(r.observers[name]._handler.filters, i18n))
                guarded = [(h, gate + handler_guard(h, i18n)) for h in observer.handlers]
                self.guards[id(observer)] = guarded
                for _h, guard in guarded:
                    for part, values in guard:
                        known[part] |= values
        self.known = [frozenset(k) for k in known]
        self.candidates: dict[tuple[int, Key], tuple[HandlerObject, ...]] = {}
        self.enters: dict[tuple[int, str, Key], bool] = {}
        self._last: tuple[Any, Any, Key] | None = None
        for router in self.dp.chain_tail:
            self._patch(router)

    # -- the key of an update ------------------------------------------------------------
    def key(self, event: TelegramObject, data: dict[str, Any]) -> Key:
        raw_state = data.get("raw_state")
        no_actor = data.get("actor") is None
        last = self._last
        if last is not None and last[0] is event and last[1] == (raw_state, no_actor):
            return last[2]
        known = self.known
        prefix = command = text = OTHER
        if isinstance(event, CallbackQuery):
            payload = event.data
            if payload:
                prefix = payload.split(":", 1)[0]
                if prefix not in known[PREFIX]:
                    prefix = OTHER
        elif isinstance(event, Message):
            command = command_of(event.text or event.caption)
            if command not in known[COMMAND]:
                command = OTHER
            text = event.text
            if text not in known[TEXT]:
                text = OTHER
        state = raw_state if raw_state in known[STATE] else OTHER
        found = (prefix, state, command, text, no_actor)
        self._last = (event, (raw_state, no_actor), found)
        return found

    # -- what may take it ------------------------------------------------------------------
    def handlers_for(self, observer: TelegramEventObserver, key: Key) -> tuple[HandlerObject, ...]:
        memo = (id(observer), key)
        found = self.candidates.get(memo)
        if found is None:
            guarded = self.guards.get(id(observer))
            if guarded is None or len(guarded) != len(observer.handlers):
                self.clear()
                guarded = self.guards[id(observer)]
            found = tuple(h for h, guard in guarded if admits(guard, key))
            self.candidates[memo] = found
        return found

    def enters_router(self, router: Router, update_type: str, key: Key) -> bool:
        memo = (id(router), update_type, key)
        found = self.enters.get(memo)
        if found is None:
            found = any(
                bool(r.observers[update_type].outer_middleware._middlewares)
                or bool(self.handlers_for(r.observers[update_type], key))
                for r in router.chain_tail
            )
            self.enters[memo] = found
        return found

    # -- wiring ----------------------------------------------------------------------------
    def _patch(self, router: Router) -> None:
        if id(router) in self._patched:
            return
        self._patched.add(id(router))
        index = self
        for name in INDEXED:
            observer = router.observers[name]
            observer.trigger = _indexed_trigger(index, observer)  # type: ignore[method-assign,assignment]
            register = observer.register

            def registering(*args: Any, _register: Callable[..., Any] = register,
                            **kwargs: Any) -> Any:
                result = _register(*args, **kwargs)
                index.clear()
                return result

            observer.register = registering  # type: ignore[method-assign]
        include = router.include_router

        def including(sub: Router, _include: Callable[[Router], Router] = include) -> Router:
            result = _include(sub)
            index.clear()
            return result

        router.include_router = including  # type: ignore[method-assign,assignment]
        if router is self.dp:
            return
        propagate = router.propagate_event

        async def propagate_event(update_type: str, event: TelegramObject,
                                  _router: Router = router,
                                  _propagate: Callable[..., Awaitable[Any]] = propagate,
                                  **kwargs: Any) -> Any:
            if update_type in INDEXED and not index.enters_router(
                _router, update_type, index.key(event, kwargs)
            ):
                return UNHANDLED
            return await _propagate(update_type=update_type, event=event, **kwargs)

        router.propagate_event = propagate_event  # type: ignore[method-assign]


def _indexed_trigger(
    index: RoutingIndex, observer: TelegramEventObserver
) -> Callable[..., Awaitable[Any]]:
    """TelegramEventObserver.trigger over the handlers the update's key admits."""

    async def trigger(event: TelegramObject, **kwargs: Any) -> Any:
        key = index.key(event, kwargs)
        for handler in index.handlers_for(observer, key):
            kwargs["handler"] = handler
            result, data = await handler.check(event, **kwargs)
            if result:
                kwargs.update(data)
                try:
                    wrapped_inner = observer.outer_middleware.wrap_middlewares(
                        observer._resolve_middlewares(),
                        handler.call,
                    )
                    return await wrapped_inner(event, kwargs)
                except SkipHandler:
                    continue
        return UNHANDLED

    return trigger


def _on_loop(flt: FilterObject) -> None:
    """aiogram runs a filter that is not a coroutine function (a State, an ``F`` rule) in a
    worker thread (asyncio.to_thread): a thread hop of ~0.1–0.4 ms for a check of a
    microsecond. These filters are plain computations on the update: call them on the loop.
    The arguments they are given stay those of the original (its `params`)."""
    if flt.awaitable:
        return
    sync = flt.callback

    async def check(*args: Any, **kwargs: Any) -> Any:
        return sync(*args, **kwargs)

    flt.callback = check
    flt.awaitable = True
    flt.sync_callback = sync  # type: ignore[attr-defined]  # what the index reads


def filters_on_loop(dp: Dispatcher) -> None:
    for router in dp.chain_tail:
        for observer in router.observers.values():
            for flt in (*(observer._handler.filters or ()),
                        *(f for h in observer.handlers for f in h.filters or ())):
                _on_loop(flt)


_INDEXES: weakref.WeakKeyDictionary[Dispatcher, RoutingIndex] = weakref.WeakKeyDictionary()


def install(dp: Dispatcher) -> RoutingIndex:
    """Route `dp`'s messages and callback queries through an index, with every filter run on
    the event loop (after every router, handler and middleware is in place)."""
    index = _INDEXES[dp] = RoutingIndex(dp)
    return index


def index_of(dp: Dispatcher) -> RoutingIndex | None:
    return _INDEXES.get(dp)
