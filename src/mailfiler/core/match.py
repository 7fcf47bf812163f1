"""Participants matched to CRM contacts by address, with the reason for each outcome.

Only the address decides (the product matches "the email address in
Outlook"); a display name never does, since anyone can write any name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from mailfiler.core.people import Participant


@dataclass(frozen=True)
class Contact:
    id: str
    full_name: str
    organization: str = ""
    emails: tuple[str, ...] = ()


MatchStatus = Literal["matched", "no_contact", "ambiguous"]


@dataclass(frozen=True)
class Match:
    participant: Participant
    contacts: tuple[Contact, ...]

    @property
    def status(self) -> MatchStatus:
        if not self.contacts:
            return "no_contact"
        return "matched" if len(self.contacts) == 1 else "ambiguous"

    @property
    def reason(self) -> str:
        if self.status == "no_contact":
            return "no contact in the CRM has this email address"
        if self.status == "ambiguous":
            names = ", ".join(f"{c.full_name} ({c.id})" for c in self.contacts)
            return (
                f"{len(self.contacts)} contacts share this email address: {names}; "
                "merge these contacts and try again, or pick one"
            )
        contact = self.contacts[0]
        return f"matched {contact.full_name} ({contact.id}) by email address"


def match(
    participants: Sequence[Participant], found: Mapping[str, Sequence[Contact]]
) -> tuple[Match, ...]:
    """Each participant with the contacts holding their address (``found``: address key ->
    contacts, as ``Connector.find_contacts`` answers)."""
    return tuple(Match(p, tuple(found.get(p.key, ()))) for p in participants)
