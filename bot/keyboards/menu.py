"""The main menu (reply keyboard) and the command menu, both by role."""

from __future__ import annotations

from aiogram.types import BotCommand, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from crm.roles import Role, can_invite, can_list_people

# Lazy texts so that handlers can match a pressed menu button in whatever language it was.
BTN_TODAY = __("📅 Today")
BTN_MY_CLIENTS = __("👥 My clients")
BTN_FIND = __("🔎 Find")
BTN_NEW = __("➕ New client")
BTN_REPORTS = __("📊 Reports")
BTN_PEOPLE = __("👥 People")
BTN_INVITE = __("✉️ Invite")
BTN_HELP = __("❓ Help")
BTN_LANGUAGE = __("🌐 Language")  # no longer on the menu; older keyboards still send it
BTN_SETTINGS = __("⚙️ Settings")
BTN_NEARBY = __("🧭 Nearby")
BTN_DOCS = __("📎 Documents")
# The msgids, for recognising a menu button typed into a form (see bot.filters.FormText).
MENU_BUTTONS = tuple(
    str(b._args[0])  # babel's LazyProxy keeps the msgid as its first argument
    for b in (BTN_TODAY, BTN_MY_CLIENTS, BTN_FIND, BTN_NEW, BTN_REPORTS, BTN_PEOPLE, BTN_INVITE,
              BTN_HELP, BTN_LANGUAGE, BTN_SETTINGS, BTN_NEARBY, BTN_DOCS)
)


def main_menu(role: Role) -> ReplyKeyboardMarkup:
    rows: list[list[KeyboardButton]] = []
    day_row: list[KeyboardButton] = []
    if role in (Role.ADMIN, Role.HEAD, Role.MANAGER):
        day_row.append(KeyboardButton(text=str(BTN_TODAY)))
    if role is not Role.MARKETER:
        day_row.append(KeyboardButton(text=str(BTN_MY_CLIENTS)))
    if day_row:
        rows.append(day_row)
    work_row: list[KeyboardButton] = []
    work_row.append(KeyboardButton(text=str(BTN_FIND)))
    if role is not Role.SERVICE:
        work_row.append(KeyboardButton(text=str(BTN_NEW)))
    if role in (Role.HEAD, Role.MANAGER, Role.SERVICE):
        work_row.append(KeyboardButton(text=str(BTN_NEARBY)))
    rows.append(work_row)
    admin_row: list[KeyboardButton] = []
    if role in (Role.ADMIN, Role.HEAD, Role.MANAGER, Role.MARKETER):
        admin_row.append(KeyboardButton(text=str(BTN_REPORTS)))
    if can_list_people(role):
        admin_row.append(KeyboardButton(text=str(BTN_PEOPLE)))
    if can_invite(role):
        admin_row.append(KeyboardButton(text=str(BTN_INVITE)))
    if role in (Role.ADMIN, Role.MARKETER):
        admin_row.append(KeyboardButton(text=str(BTN_DOCS)))
    if admin_row:
        rows.append(admin_row)
    rows.append([KeyboardButton(text=str(BTN_HELP)), KeyboardButton(text=str(BTN_SETTINGS))])
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


def commands_for(role: Role | None) -> list[BotCommand]:
    """The `/` menu: what this role can actually run, in the current locale."""
    cmds = [BotCommand(command="start", description=_("Main menu"))]
    if role is not None:
        if role in (Role.ADMIN, Role.HEAD, Role.MANAGER):
            cmds.append(BotCommand(command="today", description=_("Today's plan")))
            cmds.append(BotCommand(command="digest", description=_("Digest now")))
        if role in (Role.ADMIN, Role.HEAD, Role.MANAGER, Role.MARKETER):
            cmds.append(BotCommand(command="reports", description=_("Reports")))
        cmds.append(BotCommand(command="find", description=_("Find a client")))
        if role is not Role.MARKETER:
            cmds.append(BotCommand(command="nearby", description=_("Clients near me")))
        if role is not Role.SERVICE:
            cmds.append(BotCommand(command="new", description=_("New client")))
        if can_invite(role):
            cmds.append(BotCommand(command="invite", description=_("Invite a person")))
        if can_list_people(role):
            cmds.append(BotCommand(command="people", description=_("People and roles")))
        if role in (Role.ADMIN, Role.HEAD):
            cmds.append(BotCommand(command="leads", description=_("Leads queue")))
        if role in (Role.ADMIN, Role.HEAD, Role.MARKETER):
            cmds.append(BotCommand(command="import", description=_("Import clients")))
            cmds.append(BotCommand(command="export", description=_("Export clients")))
            cmds.append(BotCommand(command="mailings", description=_("Mailings")))
        if role is Role.ADMIN:
            cmds.append(BotCommand(command="newteam", description=_("Create a team")))
        if role in (Role.ADMIN, Role.MARKETER):
            cmds.append(BotCommand(command="classifiers", description=_("Classifiers")))
            cmds.append(BotCommand(command="docs", description=_("Standard documents")))
        if role is Role.ADMIN:
            cmds.append(BotCommand(command="stages", description=_("Sales stages")))
        cmds.append(BotCommand(command="settings", description=_("Settings")))
        cmds.append(BotCommand(command="lang", description=_("Language")))
        cmds.append(BotCommand(command="cancel", description=_("Leave the current form")))
    cmds.append(BotCommand(command="help", description=_("Help")))
    return cmds
