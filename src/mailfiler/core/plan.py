"""What a save will write, and why each contact and each file is in or out.

This is where the product page's rules live. ``plan`` only decides: it
returns a ``SavePlan`` that can be shown to the user (``mailfiler inspect``,
the task pane before "Save") and that a connector carries out unchanged.

Each participant passes the same named steps in order; the first step that
says no gives the status and the sentence the user sees:

    line chosen? -> is it you? -> removed? -> contact found? -> one contact?
    -> kept? -> same contact as an earlier line? -> allowed to save this kind?
    -> under Max Total Emails? -> already filed? -> would_save
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from mailfiler.core import limits
from mailfiler.core.body import activity_body, interaction_body
from mailfiler.core.compose import eml_bytes, eml_filename
from mailfiler.core.filenames import shorten, unique
from mailfiler.core.match import Contact, Match
from mailfiler.core.message import Address, Attachment, Message
from mailfiler.core.options import (
    Action,
    ActivityType,
    FieldType,
    Options,
    activity_action,
    interaction_action,
)
from mailfiler.core.people import Line
from mailfiler.core.rules import (
    LINE_NAMES,
    Filed,
    Kind,
    May,
    Role,
    Status,
    Who,
    may_decides,
    who_decides,
)
from mailfiler.errors import BadRequest

KINDS: tuple[Kind, ...] = ("interaction", "activity")
# "failed": the CRM did not take the record (the reason says why); saving the
# message again writes it, and only it.
# "unsure": the CRM never answered the write, so the record may exist: it is
# never sent again blindly; someone checks the CRM and settles it.
# "partial": the record was written, but not all its files: a later save of
# the message sends only the missing files.
FileStatus = Literal["would_save", "saved", "empty", "excluded", "in_eml", "failed"]


@dataclass(frozen=True)
class Choices:
    """What the user chose on the task pane (or on the command line)."""

    kind: Kind = "interaction"
    lines: frozenset[Line] | None = None  # the From/To/Cc filter; None = every line
    removed: frozenset[str] = frozenset()  # address keys removed with the entry's "X"
    contact_ids: frozenset[str] | None = None  # the contacts kept; None = every match
    picks: Mapping[str, str] = field(default_factory=dict)  # address key -> contact ID
    eml: bool = False
    skip_attachments: frozenset[str] = frozenset()  # original names left out
    keep_attachments: frozenset[int] | None = None  # attachment numbers kept; None = all
    activity_type: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Filer:
    """The user filing the message."""

    username: str
    roles: frozenset[str] = frozenset()
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capabilities:
    """What a CRM can take, so that the review says it before a save, not the write after."""

    crm: str = "the built-in CRM"  # its name, in the sentences the user reads
    activity_attachments: bool = True
    interaction_date: bool = True  # False: the CRM stamps an interaction with its own write time
    # The longest address the CRM keeps as an interaction's To (None: any).
    interaction_address_max: int | None = None
    # True: the CRM keeps each record's ``filing_key`` and answers a second write of the
    # same key with the record written first, so a reservation whose writer died may be
    # written again. False (the safe default): such a record becomes "unsure" and
    # someone checks the CRM.
    rewrite_abandoned: bool = False
    # What adding a contact cannot promise, said before it is added ("" when nothing).
    new_contact_note: str = ""
    # What the CRM says its Activity fields take (kind, longest text), by field name: a
    # value is checked against it in the review, not refused by the write.
    activity_field_types: Mapping[str, FieldType] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedFile:
    filename: str
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class PlannedRecord:
    kind: Kind
    contact_id: str
    subject: str
    to_line: str | None
    body: str
    activity_type: str | None
    fields: Mapping[str, str]
    files: tuple[PlannedFile, ...]
    message_key: str
    message_id: str | None
    created_by: str
    saved_by: str
    # True only when the organisation allows duplicates and this contact already
    # has this message: the save then writes another copy on purpose.
    another_copy: bool = False
    # Which copy this is (0 the first), given by the filing ledger when the save
    # reserves the record; the built-in CRM keeps it with the record.
    copy: int = 0
    # The filing ledger's key for this record, given when the save reserves it: the
    # same for every write of this record, whichever save sends it ("" outside a save).
    filing_key: str = ""
    sent_at: datetime | None = None  # the message's Date, for CRMs that date a record by it
    sender: str = ""  # "Ann Archer <ann@members.example>"
    recipients: str = ""  # every To and Cc address, "; "-separated
    # Set when the record exists already and only its missing ``files`` are sent
    # (an earlier save was partial).
    existing_record_id: str | None = None
    # The address the contact was found by on the message (or, added by the user, the
    # contact's first): iMIS keeps it as the interaction's "To".
    address: str = ""


@dataclass(frozen=True)
class ParticipantOutcome:
    line: Role
    address: str
    name: str
    is_self: bool
    status: Status
    contacts: tuple[Contact, ...]
    reason: str
    contact_id: str | None = None  # the contact whose record this line is filed to
    record_id: str | None = None


@dataclass(frozen=True)
class FileOutcome:
    number: int  # position in the message's attachment list, from 0
    name: str
    saved_as: str | None
    size: int
    content_type: str
    status: FileStatus
    reason: str
    chosen_out: bool = False  # the user left it out: no news in the save's results


@dataclass(frozen=True)
class SavePlan:
    kind: Kind
    message_key: str
    records: tuple[PlannedRecord, ...]
    participants: tuple[ParticipantOutcome, ...]
    files: tuple[FileOutcome, ...]
    eml: FileOutcome | None
    notes: tuple[str, ...] = ()


def plan(
    message: Message,
    matches: tuple[Match, ...],
    choices: Choices,
    *,
    options: Options,
    filer: Filer,
    background_account: str,
    already_filed: Mapping[str, Filed] | None = None,
    added: Sequence[Contact] = (),
    records_too: bool = True,
    capabilities: Capabilities = Capabilities(),
) -> SavePlan:
    """Decide everything one save would do.

    ``already_filed``: contact ID -> what the ledger holds of this message for them.
    ``added``: contacts the user added by searching, who are not on the message.
    ``records_too=False`` decides who and what only (the review screen), skipping
    the bodies and files that only a save needs.
    ``capabilities``: what the organisation's CRM can take; what it cannot is
    left out here, with the reason, so the review says it before the save.
    """
    filed = already_filed or {}
    activity_type = None
    if choices.kind == "activity":
        activity_type = options.activity_type(choices.activity_type)
    permission = (
        activity_action(options, filer.roles, activity_type)
        if activity_type is not None
        else interaction_action(options, filer.roles)
    )
    outcomes = _participants(
        matches, added, choices, permission, options, filed, capabilities,
        future=not records_too,
    )  # fmt: skip
    to_save = list(
        dict.fromkeys(o.contact_id for o in outcomes if o.status == "would_save" and o.contact_id)
    )
    if not records_too:
        to_save = []
    is_interaction = choices.kind == "interaction"
    # The review says what would become of each file were the message saved; a save, what
    # becomes of it in this save (nothing, when no record is written).
    files, eml, planned_files = _files(message, choices, saving=bool(to_save) or not records_too)
    if not is_interaction and not capabilities.activity_attachments:
        files, eml, planned_files = _no_files(files, eml, capabilities.crm)
    completing: dict[str, tuple[PlannedFile, ...]] = {}
    if records_too:  # the review has no files planned to compare with
        outcomes, completing = _completions(outcomes, filed, planned_files, options, choices.kind)
    if to_save and all(c in completing and not completing[c] for c in to_save):
        to_save = []  # only records whose missing files this save leaves out
        files, eml, planned_files = _files(message, choices, saving=False)
    to_save = [c for c in to_save if c not in completing or completing[c]]
    fields: dict[str, str] = {}
    if activity_type is not None:  # checked even when nothing is saved: a wrong field is an error
        fields = activity_fields(
            activity_type, message, choices.fields, tokens=bool(to_save),
            described=capabilities.activity_field_types,
        )  # fmt: skip
    people = message_tokens(message, with_body=False)
    template = PlannedRecord(
        kind=choices.kind, contact_id="", subject=message.subject,
        to_line=to_line(message.to) if is_interaction else None,
        body=_body(message, choices.kind) if to_save else "",
        activity_type=activity_type.code if activity_type else None, fields=fields,
        files=planned_files, message_key=message.key, message_id=message.message_id,
        created_by=background_account, saved_by=filer.username, sent_at=message.date,
        sender=people["sender"], recipients=people["recipients"],
    )  # fmt: skip
    return SavePlan(
        kind=choices.kind,
        message_key=message.key,
        records=_records(template, to_save, outcomes, filed, completing, options),
        participants=outcomes,
        files=files,
        eml=eml,
        notes=_notes(message, choices.kind, capabilities),
    )


def _notes(message: Message, kind: Kind, capabilities: Capabilities) -> tuple[str, ...]:
    """What the review says of the message as a whole."""
    notes = message.notes
    if not message.sender:
        notes += ("the message has no From line: there is no sender to file it for",)
    left_out = to_line_left_out(message.to) if kind == "interaction" else []
    if left_out:
        notes += (
            f"the To field holds {limits.TO_LINE_MAX} characters ({limits.TO_LINE_REASON_SHORT}): "
            f'{", ".join(left_out)} did not fit, and it says "… and {len(left_out)} more"',
        )
    if kind == "interaction" and not capabilities.interaction_date and message.date is not None:
        notes += (
            f"{capabilities.crm} dates an interaction by when it is saved, not by when the "
            "message was sent",
        )
    return notes


def _body(message: Message, kind: Kind) -> str:
    return interaction_body(message) if kind == "interaction" else activity_body(message)


def _records(
    template: PlannedRecord,
    to_save: Sequence[str],
    outcomes: tuple[ParticipantOutcome, ...],
    filed: Mapping[str, Filed],
    completing: Mapping[str, tuple[PlannedFile, ...]],
    options: Options,
) -> tuple[PlannedRecord, ...]:
    """One record per contact to save: the message's, with the contact's own address, and
    only the missing files for a record saved before without them."""
    addresses: dict[str, str] = {}
    for outcome in outcomes:
        if outcome.contact_id and outcome.address:
            addresses.setdefault(outcome.contact_id, outcome.address)
    return tuple(
        replace(
            template,
            contact_id=contact_id,
            files=completing.get(contact_id) or template.files,
            another_copy=contact_id in filed and options.allow_duplicates,
            existing_record_id=filed[contact_id].record_id if contact_id in completing else None,
            address=addresses.get(contact_id, ""),
        )
        for contact_id in to_save
    )


def _completions(
    outcomes: tuple[ParticipantOutcome, ...],
    filed: Mapping[str, Filed],
    planned: tuple[PlannedFile, ...],
    options: Options,
    kind: Kind,
) -> tuple[tuple[ParticipantOutcome, ...], dict[str, tuple[PlannedFile, ...]]]:
    """The records saved before without all their files: contact ID -> the missing files this
    save sends (empty: none of them is part of this save, and the outcome says so)."""
    completing: dict[str, tuple[PlannedFile, ...]] = {}
    if options.allow_duplicates:  # another whole copy is written instead
        return outcomes, completing
    result = []
    for outcome in outcomes:
        earlier = filed.get(outcome.contact_id or "")
        if outcome.status == "would_save" and earlier and earlier.state == "partial":
            assert outcome.contact_id is not None
            files = tuple(f for f in planned if f.filename in earlier.missing_files)
            completing.setdefault(outcome.contact_id, files)
            if not files:
                outcome = replace(
                    outcome,
                    status="partial",
                    reason=f"already saved as {kind} {earlier.record_id} without "
                    f"{', '.join(earlier.missing_files)}, which this save leaves out",
                )
        result.append(outcome)
    return tuple(result), completing


def _no_files(
    files: tuple[FileOutcome, ...], eml: FileOutcome | None, crm: str
) -> tuple[tuple[FileOutcome, ...], FileOutcome | None, tuple[PlannedFile, ...]]:
    """Every file left out of an Activity, for a CRM that cannot attach files to one."""
    reason = f"not saved: {crm} cannot attach files to an Activity"

    def left_out(outcome: FileOutcome) -> FileOutcome:
        if outcome.status == "empty" or outcome.reason == LEFT_OUT_BY_YOU:
            return outcome  # a reason of its own, which stays true
        return replace(outcome, status="excluded", saved_as=None, reason=reason)

    return tuple(left_out(f) for f in files), left_out(eml) if eml else None, ()


# -- participants ---------------------------------------------------------------


def _participants(
    matches: tuple[Match, ...],
    added: Sequence[Contact],
    choices: Choices,
    permission: Action,
    options: Options,
    filed: Mapping[str, Filed],
    capabilities: Capabilities,
    future: bool = False,
) -> tuple[ParticipantOutcome, ...]:
    """Each participant through ``rules.WHO``, then those who would be saved through
    ``rules.MAY``; one record per contact per save."""
    who = Who(choices.lines, choices.removed, choices.contact_ids, choices.picks)
    first_line: dict[str, Role] = {}
    outcomes: list[ParticipantOutcome] = []
    for match in matches:
        p = match.participant
        verdict = who_decides(match, who)
        contact, reason = verdict.contact, verdict.reason
        if contact is not None and contact.id in first_line:
            earlier = LINE_NAMES[first_line[contact.id]]
            reason = f"{contact.full_name} ({contact.id}) is also on the {earlier} line: one "
            reason += "record per save"
        elif contact is not None:
            first_line[contact.id] = p.line
        outcomes.append(
            ParticipantOutcome(
                line=p.line, address=p.address, name=p.name, is_self=p.is_self,
                status=verdict.status, contacts=match.contacts, reason=reason,
                contact_id=contact.id if contact else None,
            )
        )  # fmt: skip
    chosen_elsewhere = [
        c
        for m in matches
        if len(m.contacts) > 1
        for c in m.contacts
        if choices.contact_ids is not None and c.id in choices.contact_ids
    ]
    for contact in [*added, *chosen_elsewhere]:
        if contact.id in first_line:
            continue
        first_line[contact.id] = "added"
        outcomes.append(
            ParticipantOutcome(
                line="added", address=contact.emails[0] if contact.emails else "",
                name=contact.full_name, is_self=False, status="would_save", contacts=(contact,),
                reason=f"{contact.full_name} ({contact.id}), added by you", contact_id=contact.id,
            )
        )  # fmt: skip
    addresses: dict[str, str] = {}  # each contact's, as its record is sent to
    for o in outcomes:
        if o.status == "would_save" and o.contact_id:
            addresses.setdefault(o.contact_id, o.address)
    may = May(
        permission, options, len(addresses), filed, choices.kind, future,
        addresses=addresses, crm=capabilities.crm,
        address_max=capabilities.interaction_address_max,
    )  # fmt: skip
    return tuple(_may(o, may) if o.status == "would_save" else o for o in outcomes)


def _may(outcome: ParticipantOutcome, may: May) -> ParticipantOutcome:
    verdict = may_decides(outcome.contact_id or "", may)
    if verdict is None:
        return outcome
    earlier = may.filed.get(outcome.contact_id or "")
    record_id = (earlier.record_id or None) if earlier and verdict.status != "over_limit" else None
    if verdict.status in ("not_permitted", "over_limit"):
        record_id = None
    return replace(outcome, status=verdict.status, reason=verdict.reason, record_id=record_id)


# -- the To field ------------------------------------------------------------------


def to_line(addresses: tuple[Address, ...], limit: int = limits.TO_LINE_MAX) -> str:
    """The To field as iMIS holds it: whole addresses, "; "-separated, at most ``limit`` long,
    ending "… and 2 more" when some did not fit (so what is stored never looks complete
    when it is not)."""
    kept = _to_line_kept(addresses, limit)
    line = "; ".join(a.address for a in addresses[:kept])
    left = len(addresses) - kept
    return line + _more(left, bool(line)) if left else line


def to_line_left_out(addresses: tuple[Address, ...], limit: int = limits.TO_LINE_MAX) -> list[str]:
    """The addresses that do not fit in the To field."""
    return [a.address for a in addresses[_to_line_kept(addresses, limit) :]]


def _more(left: int, after: bool) -> str:
    return ("; " if after else "") + f"… and {left} more"


def _to_line_kept(addresses: tuple[Address, ...], limit: int) -> int:
    """How many addresses fit, leaving room for the "… and N more" that follows them."""
    length = 0
    for count, address in enumerate(addresses, start=1):
        length += len(address.address) + (2 if count > 1 else 0)
        left = len(addresses) - count
        room = len(_more(left, True)) if left else 0
        if length + room > limit:
            return count - 1
    return len(addresses)


# -- attachments ---------------------------------------------------------------------


LEFT_OUT_BY_YOU = "left out by you"


def _files(
    message: Message, choices: Choices, saving: bool
) -> tuple[tuple[FileOutcome, ...], FileOutcome | None, tuple[PlannedFile, ...]]:
    if choices.eml:
        return _as_eml(message, saving)
    outcomes: list[FileOutcome] = []
    kept: list[tuple[int, Attachment]] = []
    for number, attachment in enumerate(message.attachments):
        status: FileStatus = "would_save"
        reason = ""
        chosen_out = False
        if attachment.size == 0:
            status, reason = "empty", limits.EMPTY_ATTACHMENT_REASON
        elif attachment.filename in choices.skip_attachments or (
            choices.keep_attachments is not None and number not in choices.keep_attachments
        ):
            status, reason, chosen_out = "excluded", LEFT_OUT_BY_YOU, True
        elif not saving:
            status, reason = "excluded", "not saved: no record is written for this message"
        if status == "would_save":
            kept.append((number, attachment))
        outcomes.append(
            FileOutcome(number, attachment.filename, None, attachment.size,
                        attachment.content_type, status, reason, chosen_out)
        )  # fmt: skip
    names = unique([shorten(a.filename) for _, a in kept])
    planned = []
    for (number, attachment), name in zip(kept, names, strict=True):
        reason = ""
        if name != attachment.filename:
            reason = f"saved as {name!r}: {limits.ATTACHMENT_NAME_REASON}"
            if len(attachment.filename) <= limits.ATTACHMENT_NAME_MAX:
                reason = f"saved as {name!r}: another file of this message has the same name"
        outcomes[number] = replace(outcomes[number], saved_as=name, reason=reason)
        planned.append(
            PlannedFile(name, attachment.content_type, attachment.data, attachment.content_id)
        )
    return tuple(outcomes), None, tuple(planned)


def _as_eml(
    message: Message, saving: bool
) -> tuple[tuple[FileOutcome, ...], FileOutcome | None, tuple[PlannedFile, ...]]:
    outcomes = tuple(
        FileOutcome(number, a.filename, None, a.size, a.content_type, "in_eml",
                    "kept inside the .eml file: an .eml file cannot leave attachments out")
        for number, a in enumerate(message.attachments)
    )  # fmt: skip
    data = eml_bytes(message)
    name = eml_filename(message)
    status: FileStatus = "would_save" if saving else "excluded"
    reason = "the whole message as an .eml file" if saving else "not saved: no record is written"
    eml = FileOutcome(
        -1, name, name if saving else None, len(data), "message/rfc822", status, reason
    )
    planned = (PlannedFile(name, "message/rfc822", data),) if saving else ()
    return outcomes, eml, planned


# -- activity fields ---------------------------------------------------------------


def message_tokens(message: Message, with_body: bool = True) -> dict[str, str]:
    """What the field mapping can put into an Activity (options.TOKENS)."""
    sender = message.sender[0] if message.sender else None
    return {
        "subject": message.subject,
        "body": activity_body(message) if with_body else "",
        "sender": (f"{sender.name} <{sender.address}>" if sender and sender.name
                   else sender.address if sender else ""),
        "recipients": "; ".join(a.address for a in (*message.to, *message.cc)),
        "sent_on": message.date.isoformat() if message.date else "",  # with its zone
    }  # fmt: skip


def activity_fields(
    activity_type: ActivityType,
    message: Message,
    overrides: Mapping[str, str],
    tokens: bool = True,
    described: Mapping[str, FieldType] | None = None,
) -> dict[str, str]:
    """The fields' values for a save of this type: its defaults, what the message gives as
    its mapping says, what the user typed; each checked against what the field takes (as
    the CRM ``described`` it, where it did)."""
    names = activity_type.field_names()
    unknown = [name for name in overrides if name not in names]
    if unknown:
        raise BadRequest(
            f"activity type {activity_type.code} has no field {', '.join(unknown)}; "
            f"its fields: {', '.join(names)}"
        )
    values = {name: activity_type.defaults.get(name, "") for name in names}
    if tokens:
        found = message_tokens(message)
        for token, target in activity_type.mapping.items():
            values[target] = found.get(token, "")
    values.update(overrides)
    return {
        f.name: f.as_described(described or {}).checked(
            values.get(f.name, ""), typed=f.name in overrides
        )
        for f in activity_type.fields
    }


# -- one answer per contact (what the API's save returns) ------------------------------


@dataclass(frozen=True)
class ContactResult:
    contact_id: str
    status: Status
    record_id: str | None
    reason: str


def results_by_contact(outcome: SavePlan, contact_ids: Sequence[str]) -> list[ContactResult]:
    """For each contact the user kept, what happened to it (in the order they were given)."""
    results = []
    for contact_id in dict.fromkeys(contact_ids):
        found = next((p for p in outcome.participants if p.contact_id == contact_id), None)
        if found is None:  # kept, but its address is shared and no one was picked
            found = next(
                (p for p in outcome.participants if contact_id in {c.id for c in p.contacts}), None
            )
        if found is None:
            results.append(
                ContactResult(contact_id, "no_contact", None, f"no contact {contact_id} was found")
            )
        else:
            results.append(ContactResult(contact_id, found.status, found.record_id, found.reason))
    return results


def why_not_save(outcome: SavePlan) -> str | None:
    """Why a save with these choices would write nothing (its button is disabled with this
    sentence); None when it would write something."""
    statuses = [p.status for p in outcome.participants]
    over = next((p.reason for p in outcome.participants if p.status == "over_limit"), None)
    if over:
        return over
    if "would_save" in statuses:
        return None
    refused = next((p.reason for p in outcome.participants if p.status == "not_permitted"), None)
    if refused:
        return refused
    if "duplicate" in statuses:
        return "this message is already saved for every contact chosen"
    return "no contact is chosen: nothing would be saved"
