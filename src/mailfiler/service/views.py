"""Plans and records as JSON-ready dicts: the contract other tools read (keep the names)."""

from __future__ import annotations

from typing import Any

from mailfiler.connectors.base import StoredRecord
from mailfiler.core.message import Message
from mailfiler.core.plan import FileOutcome, ParticipantOutcome, SavePlan
from mailfiler.core.words import said, said_to_check
from mailfiler.storage.ledger import ToCheck


def message_report(
    source: str,
    message: Message | None,
    outcome: SavePlan | None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "source": source,
        "message_id": message.message_id if message else None,
        "subject": message.subject if message else None,
        "date": message.date.isoformat() if message and message.date else None,
        "kind": outcome.kind if outcome else None,
        "error": error,
        "results": [participant_report(p, outcome.kind) for p in outcome.participants]
        if outcome
        else [],
        "attachments": [file_report(f) for f in outcome.files] if outcome else [],
        "eml": file_report(outcome.eml) if outcome and outcome.eml else None,
        "notes": list(outcome.notes) if outcome else [],
    }


def participant_report(p: ParticipantOutcome, kind: str | None = None) -> dict[str, Any]:
    return {
        "role": p.line,
        "address": p.address,
        "name": p.name,
        "self": p.is_self,
        "status": p.status,
        **said(p.status, kind),
        "contact_ids": [c.id for c in p.contacts],
        "contact_id": p.contact_id,
        "record_id": p.record_id,
        "reason": p.reason,
    }


def file_report(f: FileOutcome) -> dict[str, Any]:
    return {
        "name": f.name,
        "saved_as": f.saved_as,
        "size": f.size,
        "content_type": f.content_type,
        "status": f.status,
        **said(f.status),
        "reason": f.reason,
    }


def record_report(record: StoredRecord) -> dict[str, Any]:
    return {
        "kind": record.kind,
        "id": record.id,
        "status": record.status,
        "missing_files": [{"name": n, "reason": r} for n, r in record.missing_files],
        "contact_id": record.contact_id,
        "subject": record.subject,
        "to_line": record.to_line,
        "body": record.body,
        "activity_type": record.activity_type,
        "fields": dict(record.fields),
        "created_by": record.created_by,
        "saved_by": record.saved_by,
        "message_id": record.message_id,
        "saved_at": record.saved_at.isoformat(),
        "attachments": [
            {
                "id": f.id,
                "filename": f.filename,
                "size": f.size,
                "sha256": f.sha256,
                "content_type": f.content_type,
            }
            for f in record.attachments
        ],
    }


def to_check_report(entry: ToCheck) -> dict[str, Any]:
    """A record that needs someone (``mailfiler records --to-check --json``)."""
    return {
        "number": entry.number,
        "status": entry.state,
        **said_to_check(entry.state),
        "kind": entry.kind,
        "contact_id": entry.contact_id,
        "subject": entry.subject,
        "record_id": entry.record_id,
        "saved_by": entry.saved_by,
        "reserved_at": entry.reserved_at.isoformat(),
        "reason": entry.reason,
        "missing_files": [{"name": n, "reason": r} for n, r in entry.missing_files],
    }
