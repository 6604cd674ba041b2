"""Texts shared by several handlers: role names, domain error messages."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from crm.errors import CRMError
from crm.roles import Role


def role_name(role: Role | str) -> str:
    # One translation looked up, not five: a history page names a role on every record.
    role = Role(role)
    if role is Role.ADMIN:
        return _("Administrator")
    if role is Role.HEAD:
        return _("Head of sales")
    if role is Role.MANAGER:
        return _("Sales manager")
    if role is Role.MARKETER:
        return _("Marketer")
    if role is Role.SERVICE:
        return _("Service")
    raise KeyError(role)


def error_text(err: CRMError) -> str:
    texts = {
        "not_available": _("This is not available (it may have been removed or is not yours)."),
        "forbidden": _("Your role does not allow this."),
        "invite_invalid": _("This invitation link is not valid. Ask for a new one."),
        "invite_used": _("This invitation link has already been used. Ask for a new one."),
        "invite_expired": _("This invitation link has expired. Ask for a new one."),
        "self_change": _("You cannot change your own role or deactivate yourself."),
        "team_exists": _("A team with this name already exists."),
        "team_name": _("A team name is 1 to 100 characters."),
        "locale": _("Unknown language."),
        "deal_closed": _("This deal is already closed."),
        "deal_open": _("This deal is open: there is nothing to reopen."),
        "deal_lost": _("The deal is lost: invoices cannot be issued on it."),
        "deal_title": _("A deal title is 1 to 300 characters."),
        "amount": _("The amount must be a positive number, for example 150,000."),
        "amount_format": _("I could not read the amount. Type a number, for example 150,000 "
                           "or 1.5m."),
        "amount_too_large": _("That amount is too large: check the number of zeros."),
        "expected_close": _("The expected close date cannot be in the past."),
        "stage": _("This stage is not available any more."),
        "no_stages": _("No sales stages are configured. Ask the administrator."),
        "loss_reason": _("Pick a loss reason from the list."),
        "loss_note": _("For «Other», describe the reason in a few words."),
        "overpayment": _("That is more than is still due on the invoice."),
        "invoice_paid": _("This invoice is already paid in full."),
        "invoice_closed": _("This invoice is closed."),
        "invoice_number": _("An invoice number is at most 64 characters."),
        "paid_on": _("A payment date cannot be in the future."),
        "form_expired": _("This form has expired. Please start again."),
        "planned_closed": _("This planned contact is already done or cancelled."),
        "phone": _("That does not look like a phone number. Example: +7 916 123-45-67"),
        "email": _("That does not look like an e-mail. Example: name@company.com"),
        "client_name": _("A name is 2 to 300 characters."),
        "tax_number": _("A tax number (INN) has 10 or 12 digits."),
        "probability": _("A probability is a number from 0 to 100."),
        "contact_name": _("Write the contact's name (up to 200 characters)."),
        "too_many": _("The card has too many of these already; remove one first (send «-»)."),
        "when": _("I did not understand the date. Examples: {examples}.").format(
            examples=_("tomorrow 3pm, fri 11, in 3 days, 03.12 14:30")),
        "when_past": _("That time has already passed. Pick a time in the future."),
        "when_far": _("That is too far ahead: plan within two years."),
        "subject": _("A subject is 1 to 500 characters."),
        "entry_locked": _("A record can be corrected only within a day of writing it. Ask "
                          "your head of sales."),
        "entry_not_yours": _("Only the author of a record or a head of sales can correct it."),
        "comment": _("A comment is at most 3000 characters."),
        "position": _("A position is at most 200 characters."),
        "timezone": _("I do not know this time zone. Pick a city from the buttons or type a "
                      "name like Europe/Moscow or Asia/Novosibirsk."),
        "work_hours": _("I did not understand the hours. Examples: 9-18, 09:00–18:30; the start "
                        "must be before the end."),
        "time_of_day": _("I did not understand the time. Examples: 9:00, 08:30, 18:15."),
        "work_days": _("Unknown day of the week."),
        "work_days_empty": _("At least one working day must stay on."),
        "list_filter": _("This list's filter is not valid any more. Build it again."),
        "list_name": _("A list name is 1 to 100 characters."),
        "list_name_taken": _("You already have a list with this name."),
        "location": _("That location is not on the map. Share it again with the button."),
        # Classifiers and stages (bot/handlers/classifiers.py).
        "classifier_name": _("A name is 1 to 100 characters."),
        "classifier_exists": _("«{name}» is already on the list (perhaps hidden: then show "
                               "it again).").format(name=escape(str(err.params.get("name", "")))),
        "kind": _("Unknown classifier."),
        "stall_days": _("The number of days is a whole number from 1 to 365."),
        "last_stage": _("This is the last shown stage: the pipeline needs at least one."),
        "last_outcome": _("This is the last outcome offered after this kind of contact: it "
                          "needs at least one."),
        "stage_has_deals": _("This stage has open deals now. Open it again and choose where "
                             "they go."),
        "reassign_target": _("Clients can go only to an active manager or head (of your "
                             "team, for a head)."),
        "reassign_same": _("Pick someone else: these clients are already theirs."),
        "reassign_manual": _("The team's rule is manual now: pick a person to hand the "
                             "clients to."),
        "client_merged": _("This client has already been merged into another."),
        "client_archived": _("This client is archived. Restore it first."),
        "merge_self": _("Pick another client: a client cannot be merged with itself."),
        "owner": _("This person cannot get the imported clients."),
        # Standard documents (bot/handlers/documents.py).
        "document_name": _("A document name is 1 to 200 characters."),
        "document_size": _("The file is empty or larger than 20 MB."),
        "too_many_documents": _("The library is full (100 documents). Upload a new version "
                                "of one instead."),
        "caption": _("A comment to a document is at most 1000 characters."),
        "target_gone": _("This contact no longer takes documents (unsubscribed, blocked or "
                         "removed). Open the card again."),
        "already_sent": _("This has been sent already."),
        "import_value": _("This is not a value of that classifier. Pick one on the buttons."),
    }
    return texts.get(err.code) or _("Something is wrong with that input. Please try again.")


def stranger_text() -> str:
    return _(
        "Hello! This is a private CRM bot of a sales team. To use it you need an "
        "invitation: ask your administrator or head of sales for an invitation link."
    )
