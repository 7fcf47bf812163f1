"""The contacts CSV (columns id, full_name, emails, organization; emails separated by ';').

One reader for `mailfiler contacts import`, the demo and the test fixtures:
it returns every row and every problem found, so an import can refuse the
whole file and list all that needs fixing at once.
"""

from __future__ import annotations

import csv
import io

from mailfiler.connectors.base import ContactRow

NEEDED = {"id", "full_name", "emails"}


def read_contacts(text: str) -> tuple[list[ContactRow], list[str]]:
    """The rows of a contacts CSV, and a sentence for each line that is wrong."""
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not columns >= NEEDED:
        has = ", ".join(sorted(columns)) or "none"
        return [], [f"the CSV needs the columns id, full_name, emails, organization; it has {has}"]
    rows: list[ContactRow] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        emails = tuple(e.strip() for e in row.get("emails", "").split(";") if e.strip())
        contact = ContactRow(
            row.get("id", ""), row.get("full_name", ""), emails, row.get("organization", "")
        )
        if not contact.contact_id:
            problems.append(f"line {number}: no id")
        elif contact.contact_id in seen:
            problems.append(f"line {number}: id {contact.contact_id} appears twice")
        elif not contact.full_name:
            problems.append(f"line {number}: no full_name")
        else:
            bad = [e for e in emails if "@" not in e or " " in e]
            if bad:
                problems.append(f"line {number}: not an email address: {', '.join(bad)}")
        seen.add(contact.contact_id)
        rows.append(contact)
    return rows, problems
