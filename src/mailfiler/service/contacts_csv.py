"""The contacts CSV (columns id, full_name, emails, organization; emails separated by ';').

One reader for `mailfiler contacts import`, the demo and the test fixtures:
it returns every row and every problem found, so an import can refuse the
whole file and list all that needs fixing at once.
"""

from __future__ import annotations

import csv
import io

from mailfiler.connectors.base import ContactRow
from mailfiler.core.addresses import looks_like_address

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
    first_line: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        emails = tuple(e.strip() for e in row.get("emails", "").split(";") if e.strip())
        contact = ContactRow(
            row.get("id", ""), row.get("full_name", ""), emails, row.get("organization", "")
        )
        problem = _problem(contact, row, first_line)
        if problem:
            column, reason = problem
            problems.append(f"line {number}, column {column}: {reason}")
        first_line.setdefault(contact.contact_id, number)
        rows.append(contact)
    return rows, problems


def _problem(
    contact: ContactRow, row: dict[str, str], first_line: dict[str, int]
) -> tuple[str, str] | None:
    """What is wrong with a row, and in which column (None: nothing)."""
    for column, value in row.items():
        if "\x00" in value:
            return column, "holds a NUL character"
    if not contact.contact_id:
        return "id", "empty"
    if contact.contact_id in first_line:
        return "id", f"{contact.contact_id} is on line {first_line[contact.contact_id]} already"
    if not contact.full_name:
        return "full_name", "empty"
    bad = [e for e in contact.emails if not looks_like_address(e)]
    if bad:
        return "emails", f"not an email address: {', '.join(bad)}"
    return None
