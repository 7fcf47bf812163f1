"""What mailfiler writes into iMIS, and how a write whose answer never came is looked for.

From ../shared/spec/imis-notes.md, "What ASI's own libraries show":
- an Interaction is ``POST /api/CommunicationLogRecipient`` with the typed
  ``CommunicationLogRecipientData``: the recipient by ``PartyId``, ``Id`` and its
  ``UniformId``, the matched address in ``Address`` (the product's 100-character "To"),
  ``MessageType`` 0 (Email), and a nested ``CommunicationLogData`` with ``Subject`` (at most
  500) and ``Html``; its files in ``Attachments`` in the same write (``Name`` at most 50,
  the ``System.Byte[]`` wrapper), so an Interaction is never half-saved; where a site
  wants them one by one, ``POST /api/CommunicationLogRecipientAttachment`` after it. The
  new record's key is ``CommunicationLogRecipientId``; there is no ``Identity``.
- an Activity is a generic ``Activity`` entity (``UF_4``/``UF_5`` wrapped as
  ``System.Decimal``, dates on the site's clock); its files, where the site answers
  ``POST /api/LegacyActivityAttachment``, one by one with the activity's sequence number.
- after a write whose answer never came, ``GET /api/CommunicationLogRecipient?PartyId=…``
  lists the contact's entries: the subject and ``UpdateInformation.CreatedOn`` tell
  whether it landed (for an Activity, the contact's activities of that type and
  description).
"""

from __future__ import annotations

import base64
import email.utils
import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mailfiler.connectors.base import (
    Failed,
    Found,
    Landed,
    MissingFile,
    NotWritten,
    Saved,
    StillUnknown,
    Unsure,
    WriteOutcome,
    Written,
)
from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.client import ImisClient, WriteRefused, WriteUnsure
from mailfiler.connectors.imis.parties import Parties
from mailfiler.core.options import ActivityField, FieldType
from mailfiler.core.plan import PlannedFile, PlannedRecord
from mailfiler.errors import ConnectorUnavailable

SUBJECT_MAX: Final = 500  # CommunicationLog.Subject nvarchar(500)
ADDRESS_MAX: Final = 100  # CommunicationLogRecipient.Address nvarchar(100): the "To"
DESCRIPTION_MAX: Final = 255  # Activity.DESCRIPTION varchar(255)
# A site's clock and ours may differ: an entry created this long before the write was sent
# still counts as the write.
CLOCKS_DIFFER_BY: Final = timedelta(minutes=2)
# How long a write may go on in iMIS after it was sent: ASI's own client waits up to 5
# minutes per request (imis-notes.md, "What ASI's own libraries show").
IMIS_WRITES_FOR: Final = timedelta(minutes=5)
# How far a site's time zone set wrong moves what iMIS says of a write's time.
ZONES_DIFFER_BY: Final = timedelta(hours=15)


class Writer:
    """One organisation's writes into its iMIS site."""

    def __init__(
        self,
        client: ImisClient,
        parties: Parties,
        *,
        activity_files: bool = False,
        described: Mapping[str, FieldType] | None = None,
    ) -> None:
        """``described``: what the site's metadata says each Activity property takes."""
        self.client = client
        self.parties = parties
        self.mapping = client.mapping
        self.activity_files = activity_files
        self.described = dict(described or {})

    # -- interactions ----------------------------------------------------------------

    def interaction(self, record: PlannedRecord) -> WriteOutcome:
        m = self.mapping
        address = record.address.strip()  # within ADDRESS_MAX: the plan saw to it
        party: dict[str, Any] = {
            "$type": wire.PARTY_REFERENCE,
            "PartyId": record.contact_id,
            "Id": record.contact_id,
        }
        uniform_id = self.parties.uniform_id(record.contact_id)
        if uniform_id:
            party["UniformId"] = uniform_id
        body: dict[str, Any] = {
            "$type": wire.RECIPIENT,
            "Party": party,
            "Address": address,
            "MessageType": wire.MESSAGE_TYPE_EMAIL,
            "CommunicationLog": {
                "$type": wire.COMMUNICATION_LOG,
                "Subject": _cut(record.subject, SUBJECT_MAX),
                "Html": interaction_html(record),
            },
        }
        alone = m.interaction_files_one_by_one
        if record.files and not alone:
            body["Attachments"] = {
                "$type": wire.RECIPIENT_FILES,
                "$values": [_nested_file(f) for f in record.files],
            }
        # With the files inside the record's own write, a record that landed has them all.
        unsent = tuple(f.filename for f in record.files) if alone else ()
        try:
            created = self.client.post(f"/api/{m.interaction_entity}", body)
        except WriteRefused as error:
            return Failed(str(error))
        except WriteUnsure as error:
            return Unsure(str(error), unsent)
        record_id = (
            created.get("CommunicationLogRecipientId") if isinstance(created, dict) else None
        )
        if not isinstance(record_id, str) or not record_id:
            return Unsure("iMIS answered without the new record's key", unsent)
        return self.attach(record_id, record.files if alone else ())

    def attach(self, record_id: str, files: Sequence[PlannedFile]) -> Saved:
        """Files added one by one to a communication-log entry that exists."""
        m = self.mapping
        missing = []
        for file in files:
            body = {
                "$type": wire.RECIPIENT_FILE,
                "CommunicationLogRecipientId": record_id,
                "Name": file.filename,
                "Attachment": wire.file_bytes(file.data),
            }
            if problem := self._sent(f"/api/{m.interaction_attachment_entity}", body, file):
                missing.append(problem)
        return Saved(record_id, tuple(missing))

    # -- activities --------------------------------------------------------------------

    def activity(self, record: PlannedRecord) -> WriteOutcome:
        m = self.mapping
        properties: dict[str, Any] = {
            "ACTIVITY_TYPE": record.activity_type or "",
            "PartyId": record.contact_id,
        }
        properties |= {
            name: self._typed(name, value) for name, value in record.fields.items() if value
        }
        entity = wire.generic_entity(m.activity_entity, properties)
        try:
            created = self.client.post(f"/api/{m.activity_entity}", entity)
        except WriteRefused as error:
            return Failed(str(error))
        except WriteUnsure as error:
            return Unsure(str(error), tuple(f.filename for f in record.files))
        record_id = wire.identity(created or {})
        if record_id is None:
            return Unsure("iMIS answered without the new activity's number")
        return self.attach_to_activity(record_id, record.files)

    def attach_to_activity(self, record_id: str, files: Sequence[PlannedFile]) -> Saved:
        """Files added to an activity that exists, where the site takes them."""
        missing = []
        for file in files:
            if not self.activity_files:
                missing.append(
                    MissingFile(file.filename, "this iMIS site takes no files on an Activity")
                )
                continue
            # LegacyActivityAttachmentData: its slot is typed byte[], so plain base64 (its
            # $type's namespace is not known: left out, the endpoint's own type applies).
            body = {
                "ActivityId": record_id,
                "FileName": file.filename,
                "Attachment": base64.b64encode(file.data).decode("ascii"),
            }
            if problem := self._sent("/api/LegacyActivityAttachment", body, file):
                missing.append(problem)
        return Saved(record_id, tuple(missing))

    def _typed(self, name: str, value: str) -> Any:
        """A field's value as iMIS takes it: a date on the site's clock without a zone, a
        number as a ``System.Decimal``, a text as it is."""
        takes = ActivityField(name, name).as_described(self.described).takes
        if takes == "date":
            moment = datetime.fromisoformat(value).astimezone(ZoneInfo(self.mapping.site_time_zone))
            return moment.strftime(wire.DATE_FORMAT)
        if takes == "number":
            number = float(value)
            return {"$type": wire.DECIMAL, "$value": int(number) if number.is_integer() else number}
        return value

    def _sent(self, path: str, body: Any, file: PlannedFile) -> MissingFile | None:
        try:
            self.client.post(path, body)
        except WriteRefused as error:
            return MissingFile(file.filename, f"iMIS did not take it ({error})")
        except WriteUnsure:
            return MissingFile(file.filename, "iMIS did not answer: it may not have been attached")
        except ConnectorUnavailable as error:
            return MissingFile(file.filename, str(error))
        return None

    # -- a write whose answer never came --------------------------------------------------

    def look_for(self, written: Written) -> Found:
        """Whether iMIS holds the record: its key, or that it surely does not. Anything
        like it that cannot be told apart from it is for someone to check."""
        if written.kind == "activity":
            matches, alike = self._activities_like(written)
        else:
            matches, alike = self._interactions_like(written)
        if len(matches) == 1:
            return matches[0]
        if matches:
            return StillUnknown(
                f"iMIS holds {len(matches)} records that could be this one: check them there"
            )
        if alike:
            return StillUnknown(
                f"iMIS holds {alike} record(s) like this one that it cannot tell apart from it "
                "(their time does not match the save's): check them there"
            )
        # Nothing, once the write is surely over: answered or given up by iMIS itself, which
        # takes as long as ASI's own client waits, whatever mailfiler's own time-out.
        waited = max(self.mapping.write_timeout_seconds, IMIS_WRITES_FOR.total_seconds())
        over = written.sent_at + timedelta(seconds=waited)
        if written.now > over + CLOCKS_DIFFER_BY:
            return NotWritten()
        return StillUnknown("iMIS may still be writing it: ask again in a few minutes")

    def _interactions_like(self, written: Written) -> tuple[list[Landed], int]:
        """The contact's entries with the record's subject, created since it was sent; and
        how many others with that subject are too close before it to be told apart (a site
        time zone set wrong moves them by hours)."""
        subject = _cut(written.subject, SUBJECT_MAX)
        zone = ZoneInfo(self.mapping.site_time_zone)
        found, alike = [], 0
        params = {"PartyId": written.contact_id}
        for entry in self.client.pages(f"/api/{self.mapping.interaction_entity}", params):
            log = entry.get("CommunicationLog") if isinstance(entry, dict) else None
            if not isinstance(log, dict) or log.get("Subject") != subject:
                continue
            created = _site_time((entry.get("UpdateInformation") or {}).get("CreatedOn"), zone)
            if created is None or created < written.sent_at - CLOCKS_DIFFER_BY:
                if created is None or created > written.sent_at - ZONES_DIFFER_BY:
                    alike += 1
                continue  # else an entry of another, earlier message with the same subject
            key = entry.get("CommunicationLogRecipientId")
            if isinstance(key, str) and key:
                files = tuple(
                    str(f.get("Name") or "") for f in wire.values(entry.get("Attachments"))
                    if isinstance(f, dict)
                )  # fmt: skip
                found.append(Landed(key, files))
        return found, alike

    def _activities_like(self, written: Written) -> tuple[list[Landed], int]:
        """The contact's activities of the record's type, description and date; and how many
        of that type and description cannot be told apart from it (no date sent, or iMIS
        gives none)."""
        description = _cut(written.subject, DESCRIPTION_MAX)
        date = (
            self._typed("TRANSACTION_DATE", written.activity_date)
            if written.activity_date
            else None
        )
        found, alike = [], 0
        params = {"PartyId": written.contact_id}
        for entity in self.client.pages(f"/api/{self.mapping.activity_entity}", params):
            values = wire.properties(entity) if isinstance(entity, dict) else {}
            if (
                values.get("ACTIVITY_TYPE") != written.activity_type
                or values.get("DESCRIPTION") != description
            ):
                continue
            held = str(values.get("TRANSACTION_DATE") or "")[:19]
            if date is None or not held:
                alike += 1
                continue
            key = wire.identity(entity)
            if held == date and key:
                found.append(Landed(key))  # its files are not listed with it
        return found, alike


def interaction_html(record: PlannedRecord) -> str:
    """The interaction's HTML: who sent the message, to whom and when, then its body. iMIS
    keeps one address as the interaction's To; the message's whole To and Cc are here."""
    lines = [("From", record.sender), ("To and Cc", record.recipients)]
    if record.sent_at is not None:
        lines.append(("Sent", email.utils.format_datetime(record.sent_at)))
    shown = "<br>".join(f"<b>{label}:</b> {html.escape(value)}" for label, value in lines if value)
    header = f'<div class="mailfiler-header"><p>{shown}</p></div><hr>' if shown else ""
    return header + record.body


def _nested_file(file: PlannedFile) -> dict[str, Any]:
    return {
        "$type": wire.RECIPIENT_FILE,
        "Name": file.filename,
        "Attachment": wire.file_bytes(file.data),
    }


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _site_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """A date iMIS wrote (Json.NET: no zone when it is the site's local time)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
