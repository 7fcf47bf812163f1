"""The product page's rules for each participant, as named steps run in order (a pipeline
as data, in the manner of GNU Mailman's rules).

A participant passes ``WHO`` first, one step at a time: the first step that
has a verdict decides, with the sentence the user reads; a participant no
step stops would be saved. Those who would be saved then pass ``MAY``:
whether this user may save this kind, whether the save is within Max Total
Emails, and whether the message is filed for the contact already.

    line chosen? -> is it you? -> removed? -> contact found? -> one contact?
    -> kept? -> (would be saved) -> allowed to save this kind?
    -> under Max Total Emails? -> filed already?

Each step is a small function of a participant and the save's context, and
is tested alone (tests/core/test_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from mailfiler.core.match import Contact, Match
from mailfiler.core.options import Action, Options
from mailfiler.core.people import Line

Status = Literal[
    "would_save", "saved", "no_contact", "ambiguous", "duplicate", "excluded",
    "not_permitted", "over_limit", "failed", "unsure", "partial",
]  # fmt: skip
Kind = Literal["interaction", "activity"]
# Where a participant comes from: a line of the message, or added by the user.
Role = Line | Literal["added"]
LINE_NAMES: Final[dict[Role, str]] = {
    "from": "From", "to": "To", "cc": "Cc", "bcc": "Bcc", "added": "added",
}  # fmt: skip


def listed(role: Role, is_self: bool) -> bool:
    """Whether a line is shown in the review and its results: yourself only when listed
    explicitly on To or Cc (the product page)."""
    return not (is_self and role in ("from", "bcc"))


UNSURE_BEFORE: Final = (
    "an earlier save of this message for this contact may have been written (the CRM did not "
    "answer): it is not sent again until someone checks the CRM and settles it "
    "(mailfiler settle, or Records to check on the staff site)"
)


@dataclass(frozen=True)
class Filed:
    """What the filing ledger holds for a message and a contact, as the rules need it."""

    state: Literal["saved", "partial", "unsure"]
    record_id: str  # "" when unsure and never confirmed
    missing_files: tuple[str, ...] = ()  # partial: the files that did not land, by saved name
    reason: str = ""  # what the ledger says of it (unsure: why it is not known)


@dataclass(frozen=True)
class Verdict:
    """What a step decided for a participant, and the sentence the user reads."""

    status: Status
    reason: str
    contact: Contact | None = None  # the contact the line is filed to, when one is


@dataclass(frozen=True)
class Who:
    """What ``WHO``'s steps need: the user's choices (``core.plan.Choices``)."""

    lines: frozenset[Line] | None
    removed: frozenset[str]
    contact_ids: frozenset[str] | None
    picks: Mapping[str, str]


WhoStep = Callable[[Match, Who], Verdict | None]


def line_chosen(match: Match, who: Who) -> Verdict | None:
    """The From/To/Cc filter at the top of the pane."""
    line = match.participant.line
    if who.lines is not None and line not in who.lines:
        return Verdict("excluded", f"the {LINE_NAMES[line]} line is filtered out")
    return None


def not_you(match: Match, who: Who) -> Verdict | None:
    """The filing user is filed only when listed on To or Cc (the product page)."""
    p = match.participant
    if p.is_self and p.line in ("from", "bcc"):
        return Verdict(
            "excluded", "this is you: you are filed only when listed explicitly on To or Cc"
        )
    return None


def not_removed(match: Match, who: Who) -> Verdict | None:
    """The entry's "X"."""
    if match.participant.key in who.removed:
        return Verdict("excluded", "removed from this save")
    return None


def contact_found(match: Match, who: Who) -> Verdict | None:
    if not match.contacts:
        return Verdict("no_contact", match.reason)
    return None


def one_contact(match: Match, who: Who) -> Verdict | None:
    """A shared address files to the contact the user picked, or chose by name."""
    if len(match.contacts) < 2 or chosen(match, who)[0] is not None:
        return None
    picked = who.picks.get(match.participant.key)
    reason = match.reason
    if picked:
        reason = f"the picked contact {picked} does not hold this address; " + reason
    return Verdict("ambiguous", reason)


def kept(match: Match, who: Who) -> Verdict | None:
    """Contacts not kept for this save (the pane's list of contacts chosen)."""
    contact = chosen(match, who)[0]
    if contact is not None and who.contact_ids is not None and contact.id not in who.contact_ids:
        return Verdict("excluded", f"{contact.full_name} ({contact.id}) was not kept for this save")
    return None


WHO: Final[tuple[WhoStep, ...]] = (
    line_chosen, not_you, not_removed, contact_found, one_contact, kept,
)  # fmt: skip


def chosen(match: Match, who: Who) -> tuple[Contact | None, str]:
    """The contact a line files to, and how it was found (None: the user must pick)."""
    if len(match.contacts) == 1:
        return match.contacts[0], "matched by email address"
    picked = who.picks.get(match.participant.key)
    contact = next((c for c in match.contacts if c.id == picked), None)
    if contact is not None:
        return contact, "picked"
    if who.contact_ids is not None:
        # A contact the user chose by name (added by search) is the one meant.
        contact = next((c for c in match.contacts if c.id in who.contact_ids), None)
        if contact is not None:
            return contact, "chosen by you"
    return None, ""


def who_decides(match: Match, who: Who) -> Verdict:
    """The first verdict of ``WHO``'s steps; none: the participant would be saved."""
    for step in WHO:
        verdict = step(match, who)
        if verdict is not None:
            return verdict
    contact, how = chosen(match, who)
    assert contact is not None  # contact_found and one_contact have passed
    return Verdict("would_save", f"{contact.full_name} ({contact.id}), {how}", contact)


# -- may they be saved -----------------------------------------------------------------


@dataclass(frozen=True)
class May:
    """What ``MAY``'s steps need: the user's right, the options, the ledger."""

    permission: Action
    options: Options
    contacts: int  # how many distinct contacts this save would file to
    filed: Mapping[str, Filed]
    kind: Kind
    future: bool  # the review (what would happen) rather than the save (what happened)
    addresses: Mapping[str, str] = field(default_factory=dict)  # contact ID -> sent to
    crm: str = "the CRM"  # its name, in the sentences the user reads
    address_max: int | None = None  # the longest To the CRM keeps with an interaction


MayStep = Callable[[str, May], Verdict | None]  # (contact ID, context)


def allowed_kind(contact_id: str, may: May) -> Verdict | None:
    """The role options, the Hide switch and the edition."""
    if may.permission.state != "allowed":
        return Verdict("not_permitted", may.permission.reason)
    return None


def within_max_total(contact_id: str, may: May) -> Verdict | None:
    """Max Total Emails: over it, nothing is saved at all."""
    most = may.options.max_total_emails
    if may.contacts <= most:
        return None
    nothing = "nothing would be saved" if may.future else "nothing was saved"
    return Verdict(
        "over_limit",
        f"this save would file to {may.contacts} contacts; your organisation allows at most "
        f"{most} per save (Max Total Emails): {nothing}",
    )


def not_filed_before(contact_id: str, may: May) -> Verdict | None:
    """Filed once: a duplicate, unless the organisation allows them; never sent again while
    unsure; a partial record gets only its missing files (the reason says so)."""
    earlier = may.filed.get(contact_id)
    if earlier is None or may.options.allow_duplicates:
        return None
    record = earlier.record_id or None
    if earlier.state == "unsure":
        why = f"{earlier.reason}; " if earlier.reason else ""
        return Verdict("unsure", why + UNSURE_BEFORE)
    if earlier.state == "partial":
        missing = ", ".join(earlier.missing_files)
        return Verdict(
            "would_save",
            f"already saved as {may.kind} {record} without {missing}: only those are sent",
        )
    return Verdict(
        "duplicate", f"this message is already saved as {may.kind} {record} for this contact"
    )


def crm_keeps_the_address(contact_id: str, may: May) -> Verdict | None:
    """What the CRM keeps as an interaction's To: an address longer than it takes is said
    in the review, not refused by the write."""
    address = may.addresses.get(contact_id, "").strip()
    if may.kind != "interaction" or may.address_max is None or len(address) <= may.address_max:
        return None
    return Verdict(
        "failed",
        f"{may.crm} keeps at most {may.address_max} characters as the address an interaction "
        f"is sent to, and {address[:40]}… has {len(address)}: it can be saved as an Activity",
    )


MAY: Final[tuple[MayStep, ...]] = (
    allowed_kind, within_max_total, not_filed_before, crm_keeps_the_address,
)  # fmt: skip


def may_decides(contact_id: str, may: May) -> Verdict | None:
    """The first verdict of ``MAY``'s steps; None: saved as ``WHO`` said."""
    for step in MAY:
        verdict = step(contact_id, may)
        if verdict is not None:
            return verdict
    return None
