"""Importing a client table and exporting one.

An import is a form: «📥 Import clients» (under the reports) or /import asks for the file;
a CSV or XLSX sent then is read, columns it cannot recognise are asked about one by one,
so are classifier values nobody knows (create it, map it to an existing value on buttons,
leave it empty — or the same for all the rest at once), the new clients go to a
chosen manager or the leads queue, and a dry run shows what would happen before
«✅ Import» writes anything.

A document sent outside the import is an attachment for a client's history (the files
router of bot/handlers/log.py): guessing "this looks like a client table" would take away a
price list someone meant for a card. Starting the import first is one tap.

The file is never stored: each step downloads it again from Telegram (a small cache keeps
the last tables read in this process), so the form's draft stays small.
"""

from __future__ import annotations

import asyncio
import html
import io
import secrets
from collections import OrderedDict
from collections.abc import Sequence

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot import forms
from bot.filters import FormText
from bot.keyboards.imports import (
    ExchangeAction,
    ExchangeCD,
    ExportCD,
    ExportFormat,
    GoAction,
    ImportColumnCD,
    ImportGoCD,
    ImportMapCD,
    ImportOwnerCD,
    ImportValuesCD,
    ValuesChoice,
    column_kb,
    confirm_kb,
    export_kb,
    field_title,
    map_kb,
    owner_kb,
    values_kb,
)
from bot.render import clip, current_locale, fmt_decimal, plural_n
from crm.access import can_export_clients, can_import_clients, require
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.export import to_csv, to_xlsx
from crm.importer import (
    CREATE,
    EMPTY,
    MAX_BYTES,
    SKIP,
    DryRun,
    Field,
    FileError,
    Problem,
    Reason,
    RowError,
    Table,
    guess_mapping,
    read_table,
    value_key,
)
from crm.roles import Role
from crm.service import CRM

LISTED = 12  # rows named per group of the dry run; the rest are counted


class ImportForm(StatesGroup):
    file = State()  # waiting for the document
    column = State()  # which field an unrecognised column holds
    values = State()  # an unknown classifier value: create, map or leave empty
    map = State()  # the existing item an unknown value means
    owner = State()  # who gets the new clients
    confirm = State()  # the dry run, «✅ Import»


forms.register(ImportForm, lambda: _("client import"),
               buttons_only=(ImportForm.column, ImportForm.values, ImportForm.map,
                             ImportForm.owner, ImportForm.confirm))

# file_id → the table read from it: the steps of one import read the same file again.
_CACHE: OrderedDict[str, Table] = OrderedDict()
_CACHE_SIZE = 2  # a 50,000-row table is tens of megabytes


async def _table(bot: Bot, file_id: str) -> Table:
    found = _CACHE.get(file_id)
    if found is not None:
        _CACHE.move_to_end(file_id)
        return found
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    table = await asyncio.to_thread(read_table, buffer.getvalue())
    _CACHE[file_id] = table
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return table


def file_error_text(code: str) -> str:
    texts = {
        "too_big": _("The file is too large: a bot can take files up to 20 MB."),
        "unreadable": _("I could not read this file. Send a CSV or an XLSX (Excel) file."),
        "empty": _("The file is empty."),
        "too_many_rows": _("The file has too many rows: at most 50,000 per import."),
        "no_name": _("No column of the file holds client names, and a client cannot be "
                     "created without one. Add a «Name» column and send the file again."),
    }
    return texts.get(code, texts["unreadable"])


# --------------------------------------------------------------------------- start


async def start_import(target: Message | CallbackQuery, actor: Actor,
                       state: FSMContext) -> None:
    require(can_import_clients(actor))
    await forms.start(state, ImportForm.file)
    await forms.prompt(
        target, state, ImportForm.file,
        _("📥 <b>Import clients</b>\nSend a CSV or XLSX file as a document. The first row "
          "holds the column names, for example: Name, Phone, E-mail, Tax number, Address, "
          "Region, Industry, Segment, Source, Campaign, Contact person, Manager.\n"
          "Nothing is written until you see the check and press «Import». /cancel to stop."),
    )


async def cmd_import(message: Message, actor: Actor, state: FSMContext) -> None:
    await start_import(message, actor, state)


async def cb_exchange_import(query: CallbackQuery, actor: Actor, state: FSMContext) -> None:
    await start_import(query, actor, state)


async def msg_not_a_file(message: Message) -> None:
    await message.answer(_("Send the table as a file (📎 → File): CSV or XLSX."))


async def msg_file(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                   bot: Bot) -> None:
    require(can_import_clients(actor))
    doc = message.document
    assert doc is not None
    name = doc.file_name or "file"
    if not name.lower().endswith((".csv", ".xlsx", ".txt")):
        await message.answer(_("This is not a table I can read. Send a CSV or XLSX file."))
        return
    if doc.file_size is not None and doc.file_size > MAX_BYTES:
        await message.answer(file_error_text("too_big"))
        return
    try:
        table = await _table(bot, doc.file_id)
    except FileError as err:
        await message.answer(file_error_text(err.code))
        return
    if not table.rows:
        await message.answer(_("The file has a header but no rows."))
        return
    await forms.start(state, ImportForm.file)
    await forms.update(state, file=doc.file_id, name=name[:100],
                       mapping=guess_mapping(table.headers),
                       import_id=secrets.randbelow(2**31 - 2) + 1)
    await _next_column(message, actor, crm, state, bot)


# --------------------------------------------------------------------------- columns


def _samples(table: Table, col: int) -> list[str]:
    found: list[str] = []
    for _number, cells in table.rows:
        if col < len(cells) and cells[col] and cells[col] not in found:
            found.append(cells[col][:40])
            if len(found) == 3:
                break
    return found


async def _next_column(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                       state: FSMContext, bot: Bot) -> None:
    draft = await forms.values(state)
    mapping: list[str | None] = list(draft["mapping"])
    table = await _table(bot, draft["file"])
    col = next((i for i, m in enumerate(mapping) if m is None), None)
    if col is not None:
        samples = _samples(table, col)
        text = _("Column «{header}»: what is in it?").format(
            header=html.escape(table.headers[col]))
        if samples:
            text += "\n" + _("For example: {values}").format(
                values=html.escape(", ".join(samples)))
        used = [m for m in mapping if m]
        await forms.prompt(target, state, ImportForm.column, text,
                           lambda step: column_kb(step, col, used))
        return
    if Field.NAME.value not in mapping:
        await forms.finish(state)
        await forms.screen(target, file_error_text("no_name"))
        return
    await _values_step(target, actor, crm, state, bot)


async def cb_column(query: CallbackQuery, callback_data: ImportColumnCD, actor: Actor,
                    crm: CRM, state: FSMContext, bot: Bot) -> None:
    require(can_import_clients(actor))
    if await forms.take(query, state, callback_data.step, ImportForm.column) is None:
        return
    draft = await forms.values(state)
    mapping: list[str | None] = list(draft["mapping"])
    col = callback_data.col
    choice = str(callback_data.choice.value)
    if col >= len(mapping) or mapping[col] is not None or (
            choice != "skip" and choice in mapping):
        raise InvalidInput("form_expired")
    mapping[col] = SKIP if choice == "skip" else Field(choice).value
    await forms.update(state, mapping=mapping)
    await _next_column(query, actor, crm, state, bot)


# --------------------------------------------------------------------------- values


async def _dry_run(actor: Actor, crm: CRM, state: FSMContext, bot: Bot) -> DryRun:
    draft = await forms.values(state)
    table = await _table(bot, draft["file"])
    return await crm.imports.dry_run(actor, table, list(draft["mapping"]))


def _kind_title(kind: str) -> str:
    return field_title(Field(kind))


async def _values_step(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                       state: FSMContext, bot: Bot) -> None:
    """The dry run's unknown classifier values, kept in the draft: each is asked about in
    turn (create it, map it to an existing item, leave it empty)."""
    dry = await _dry_run(actor, crm, state, bot)
    unknown = [[kind, value] for kind, values in dry.unknown.items() for value in values]
    rows: dict[str, int] = {}
    for row in dry.new:
        for kind, value in row.classifiers.items():
            key = f"{kind}:{value_key(value)}"
            rows[key] = rows.get(key, 0) + 1
    await forms.update(state, create=False, unknown=unknown, decisions=[],
                       value_rows=[rows.get(f"{k}:{value_key(v)}", 0) for k, v in unknown])
    await _next_value(target, actor, crm, state)


async def _next_value(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    draft = await forms.values(state)
    unknown: list[list[str]] = draft["unknown"]
    at = len(draft["decisions"])
    if at >= len(unknown):
        await _owner_step(target, actor, crm, state)
        return
    kind, value = unknown[at]
    n = int(draft["value_rows"][at])
    text = "\n".join([
        ngettext("❓ {kind} «{value}» ({n} row) is not in the classifiers yet.",
                 "❓ {kind} «{value}» ({n} rows) is not in the classifiers yet.", n).format(
            kind=_kind_title(kind), value=html.escape(value), n=n),
        _("What to do with it? ({at} of {total})").format(at=at + 1, total=len(unknown)),
    ])
    more = len(unknown) - at - 1
    await forms.prompt(target, state, ImportForm.values, clip(text),
                       lambda step: values_kb(step, value, more))


async def _decide(state: FSMContext, what: str | int, rest: bool = False) -> None:
    draft = await forms.values(state)
    unknown: list[list[str]] = draft["unknown"]
    decisions: list[list[object]] = list(draft["decisions"])
    upto = len(unknown) if rest else len(decisions) + 1
    for kind, value in unknown[len(decisions):upto]:
        decisions.append([kind, value, what])
    await forms.update(state, decisions=decisions)


async def _items(crm: CRM, kind: str) -> list[tuple[int, str]]:
    loc = current_locale()
    return [(i.id, i.text(loc)) for i in await crm.classifiers.items(kind) if i.active]


async def cb_values(query: CallbackQuery, callback_data: ImportValuesCD, actor: Actor,
                    crm: CRM, state: FSMContext) -> None:
    require(can_import_clients(actor))
    choice = callback_data.choice
    at = ImportForm.map if choice is ValuesChoice.BACK else ImportForm.values
    if await forms.take(query, state, callback_data.step, at) is None:
        return
    if choice is ValuesChoice.MAP:
        draft = await forms.values(state)
        kind, value = draft["unknown"][len(draft["decisions"])]
        items = await _items(crm, kind)
        await forms.prompt(
            query, state, ImportForm.map,
            _("Which of the existing values is «{value}» ({kind})?").format(
                kind=_kind_title(kind), value=html.escape(value)),
            lambda step: map_kb(step, items))
        return
    if choice is not ValuesChoice.BACK:
        what = CREATE if choice in (ValuesChoice.CREATE, ValuesChoice.CREATE_REST) else EMPTY
        await _decide(state, what, rest=choice in (ValuesChoice.CREATE_REST,
                                                   ValuesChoice.EMPTY_REST))
    await _next_value(query, actor, crm, state)


async def cb_map(query: CallbackQuery, callback_data: ImportMapCD, actor: Actor, crm: CRM,
                 state: FSMContext) -> None:
    require(can_import_clients(actor))
    draft = await forms.values(state)
    unknown, decisions = draft["unknown"], draft["decisions"]
    if len(decisions) >= len(unknown):
        raise InvalidInput("form_expired")
    kind = unknown[len(decisions)][0]
    # Checked before the step is taken: a forged item leaves the question open.
    if callback_data.item not in {i for i, _name in await _items(crm, kind)}:
        raise InvalidInput("import_value")
    if await forms.take(query, state, callback_data.step, ImportForm.map) is None:
        return
    await _decide(state, callback_data.item)
    await _next_value(query, actor, crm, state)


# --------------------------------------------------------------------------- owner


def _may_own(actor: Actor) -> bool:
    return actor.role in (Role.ADMIN, Role.HEAD)


async def _owner_step(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    people = await crm.imports.assignees(actor)
    me = actor.id if _may_own(actor) else None
    await forms.prompt(target, state, ImportForm.owner,
                       _("Who gets the new clients?"),
                       lambda step: owner_kb(step, me, people))


async def cb_owner(query: CallbackQuery, callback_data: ImportOwnerCD, actor: Actor,
                   crm: CRM, state: FSMContext, bot: Bot) -> None:
    require(can_import_clients(actor))
    owner = None if callback_data.queue else callback_data.user
    if owner is None and not callback_data.queue:
        raise InvalidInput("owner")
    # Checked before the step is taken: a forged person leaves the question open.
    await crm.imports.check_owner(actor, owner)
    if await forms.take(query, state, callback_data.step, ImportForm.owner) is None:
        return
    owner_name = _("leads queue (no manager)")
    if owner is not None:
        names = {a.id: a.name for a in await crm.imports.assignees(actor)}
        owner_name = names.get(owner, actor.name)
    await forms.update(state, owner=owner, owner_name=owner_name)
    dry = await _dry_run(actor, crm, state, bot)
    draft = await forms.values(state)
    text = dry_run_text(dry, draft["name"], owner_name, bool(draft.get("create")),
                        draft.get("decisions"))
    await forms.prompt(query, state, ImportForm.confirm, text,
                       lambda step: confirm_kb(step, len(dry.new)))


# --------------------------------------------------------------------------- dry run text


def reason_text(reason: Reason) -> str:
    return {
        Reason.PHONE: _("phone"),
        Reason.EMAIL: _("e-mail"),
        Reason.TAX_NUMBER: _("tax number"),
        Reason.NAME: _("name"),
    }[reason]


def problem_text(err: RowError) -> str:
    value = html.escape(err.value)
    if err.problem is Problem.NO_NAME:
        return _("no name")
    if err.problem is Problem.NAME:
        return _("the name must be 2 to 300 characters")
    if err.problem is Problem.PHONE:
        return _("«{value}» is not a phone number").format(value=value)
    if err.problem is Problem.EMAIL:
        return _("«{value}» is not an e-mail").format(value=value)
    if err.problem is Problem.TAX_NUMBER:
        return _("tax number «{value}» must have 10 or 12 digits").format(value=value)
    if err.problem is Problem.PROBABILITY:
        return _("probability «{value}» is not a number from 0 to 100").format(value=value)
    return _("«{field}» is too long").format(field=field_title(Field(err.value)))


def _more(total: int) -> str:
    return _("… and {count} more").format(count=fmt_decimal(total - LISTED))


def _row_list(items: Sequence[str], total: int) -> str:
    text = ", ".join(items[:LISTED])
    if total > LISTED:
        text += " " + _more(total)
    return text


def dry_run_text(dry: DryRun, file_name: str, owner_name: str, create: bool,
                 decisions: Sequence[Sequence[object]] | None = None) -> str:
    """`decisions`: what becomes of each unknown classifier value (create, map, leave
    empty); without them, all are created (`create`) or left empty."""
    n = fmt_decimal
    lines = [_("📥 <b>Import check: {file}</b>").format(file=html.escape(file_name)),
             _("Rows in the file: {count}").format(count=n(dry.rows)),
             _("✅ New clients to create: {count}").format(count=n(len(dry.new)))]
    if dry.in_base:
        rows = [_("row {row} ({reason})").format(row=d.row, reason=reason_text(d.reason))
                for d in dry.in_base[:LISTED]]
        lines.append(_("🔁 Already in the base, skipped: {count} — {rows}").format(
            count=n(len(dry.in_base)), rows=_row_list(rows, len(dry.in_base))))
    if dry.in_file:
        rows = [_("row {row} (= row {first}, {reason})").format(
            row=d.row, first=d.first_row, reason=reason_text(d.reason))
            for d in dry.in_file[:LISTED]]
        lines.append(_("👯 Repeated within the file, skipped: {count} — {rows}").format(
            count=n(len(dry.in_file)), rows=_row_list(rows, len(dry.in_file))))
    if dry.bad:
        lines.append(_("⚠️ Rows with errors, skipped: {count}").format(count=n(len(dry.bad))))
        for bad in dry.bad[:LISTED]:
            lines.append("  • " + _("row {row}: {problems}").format(
                row=bad.row, problems="; ".join(problem_text(e) for e in bad.errors)))
        if len(dry.bad) > LISTED:
            lines.append("  " + _more(len(dry.bad)))
    lines.append(_("👤 New clients go to: {owner}").format(owner=html.escape(owner_name)))
    if dry.unknown_manager:
        lines.append(ngettext(
            "The «Manager» of {count} row is nobody you can give clients to: it goes there "
            "too (rows {rows}).",
            "The «Manager» of {count} rows is nobody you can give clients to: they go there "
            "too (rows {rows}).", plural_n(len(dry.unknown_manager)),
        ).format(count=n(len(dry.unknown_manager)),
                 rows=_row_list([str(r) for r in dry.unknown_manager],
                                len(dry.unknown_manager))))
    if dry.unknown and decisions is None:
        count = sum(len(v) for v in dry.unknown.values())
        lines.append((_("➕ New classifier values to create: {count}") if create else
                      _("∅ Unknown classifier values left empty: {count}")).format(
            count=n(count)))
    elif dry.unknown and decisions is not None:
        whats = [d[2] for d in decisions]
        made, empty = whats.count(CREATE), whats.count(EMPTY)
        mapped = len(whats) - made - empty
        if made:
            lines.append(_("➕ New classifier values to create: {count}").format(
                count=n(made)))
        if mapped:
            lines.append(_("🔗 Values mapped to existing ones: {count}").format(
                count=n(mapped)))
        if empty:
            lines.append(_("∅ Unknown classifier values left empty: {count}").format(
                count=n(empty)))
    if dry.new:
        lines.append(_("Nothing is written until you press «Import»."))
    else:
        lines.append(_("No changes: there is nothing new to import."))
    return clip("\n".join(lines))


# --------------------------------------------------------------------------- go


async def cb_go(query: CallbackQuery, callback_data: ImportGoCD, actor: Actor, crm: CRM,
                state: FSMContext, bot: Bot) -> None:
    require(can_import_clients(actor))
    cancel = callback_data.action is GoAction.CANCEL
    # «Cancel» is on every step's prompt; «Import» on the dry run's only.
    draft = await forms.take(query, state, callback_data.step,
                             None if cancel else ImportForm.confirm)
    if draft is None:
        return
    await forms.finish(state)
    if cancel:
        await forms.screen(query, _("Import cancelled: nothing was written."))
        return
    await forms.screen(query, _("⏳ Importing…"))
    table = await _table(bot, draft["file"])
    result = await crm.imports.run(
        actor, table, list(draft["mapping"]), owner_id=draft.get("owner"),
        create_values=bool(draft.get("create")), import_id=int(draft["import_id"]),
        file_name=str(draft["name"]), decisions=draft.get("decisions"),
    )
    n = fmt_decimal
    if result.again:
        text = _("This file was already imported: created {count} clients then.").format(
            count=n(result.created))
    else:
        text = _("✅ Import done: {created} clients created, {dups} duplicates and "
                 "{bad} rows with errors skipped.").format(
            created=n(result.created), dups=n(result.in_base + result.in_file),
            bad=n(result.bad))
        if result.values_created:
            text += "\n" + _("New classifier values: {count}").format(
                count=n(result.values_created))
        if result.values_mapped:
            text += "\n" + _("Values mapped to existing ones: {count}").format(
                count=n(result.values_mapped))
    await forms.screen(query, text)


# --------------------------------------------------------------------------- export


async def show_export(target: Message | CallbackQuery, actor: Actor) -> None:
    require(can_export_clients(actor))
    await forms.screen(target, _("📤 <b>Export clients</b>\nAll the clients you see, with "
                                 "their classifiers, manager, open deals and last and next "
                                 "contact. Which format?"), export_kb())


async def cmd_export(message: Message, actor: Actor, state: FSMContext) -> None:
    await forms.finish(state)
    await show_export(message, actor)


async def cb_exchange_export(query: CallbackQuery, actor: Actor) -> None:
    await show_export(query, actor)


async def send_export(target: Message | CallbackQuery, actor: Actor, crm: CRM, bot: Bot,
                      fmt: ExportFormat, client_ids: Sequence[int] | None = None) -> None:
    """Send the clients of the actor's scope (or only `client_ids`: a saved list) as a
    file the import reads back."""
    table = await crm.exports.table(actor, current_locale(), client_ids)
    if fmt is ExportFormat.XLSX:
        data = await asyncio.to_thread(to_xlsx, table, _("Clients"))
    else:
        data = await asyncio.to_thread(to_csv, table)
    stamp = crm.clock.now().astimezone(actor.tz).strftime("%Y-%m-%d")
    name = f"clients-{stamp}.{fmt.value}"
    if isinstance(target, CallbackQuery):
        await target.answer()
    caption = ngettext("{count} client", "{count} clients", plural_n(len(table.rows))).format(
        count=fmt_decimal(len(table.rows)))
    await bot.send_document(actor.tg_id, BufferedInputFile(data, filename=name),
                            caption=caption)


async def cb_export(query: CallbackQuery, callback_data: ExportCD, actor: Actor, crm: CRM,
                    bot: Bot) -> None:
    ids = None
    if callback_data.list_id is not None:  # a saved list the actor may open (crm checks)
        require(can_export_clients(actor))
        saved = await crm.lists.open(actor, callback_data.list_id)
        ids = await crm.lists.client_ids(actor, saved.filter)
    await send_export(query, actor, crm, bot, callback_data.fmt, ids)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_import, Command("import"))
    router.message.register(cmd_export, Command("export"))
    router.callback_query.register(
        cb_exchange_import, ExchangeCD.filter(F.action == ExchangeAction.IMPORT))
    router.callback_query.register(
        cb_exchange_export, ExchangeCD.filter(F.action == ExchangeAction.EXPORT))
    router.callback_query.register(cb_export, ExportCD.filter())
    # A file sent at any step of the import starts it over with that file.
    router.message.register(msg_file, ImportForm.file, F.document)
    router.message.register(msg_file, ImportForm.column, F.document)
    router.message.register(msg_file, ImportForm.values, F.document)
    router.message.register(msg_file, ImportForm.map, F.document)
    router.message.register(msg_file, ImportForm.owner, F.document)
    router.message.register(msg_file, ImportForm.confirm, F.document)
    router.message.register(msg_not_a_file, ImportForm.file, FormText())
    router.callback_query.register(cb_column, ImportColumnCD.filter())
    router.callback_query.register(cb_values, ImportValuesCD.filter())
    router.callback_query.register(cb_map, ImportMapCD.filter())
    router.callback_query.register(cb_owner, ImportOwnerCD.filter())
    router.callback_query.register(cb_go, ImportGoCD.filter())
    return router
