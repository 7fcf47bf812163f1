"""A demo organisation, for `make run`: contacts, a user, three messages filed, the result shown.

Run twice, it files nothing new: the second run reports every save as a duplicate.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from mailfiler.core.plan import Choices
from mailfiler.core.words import KIND_NAMES, status_words
from mailfiler.errors import NotFound
from mailfiler.service import ContactRow, Service
from mailfiler.service.contacts_csv import read_contacts
from mailfiler.service.organisations import CrmChange

HERE = Path(__file__).parent
CLOUD_ID = "DEMO"
USERNAME = "jdoe"
PASSWORD = "demo-password"  # noqa: S105 - the demo's published sign-in, printed by `make run`


def ensure_demo(service: Service) -> None:
    """Create the DEMO organisation, its user and its contacts unless they exist."""
    try:
        service.organisation(CLOUD_ID)
    except NotFound:
        service.create_organisation(CLOUD_ID, "Demo Association", "MANAGER", "enterprise")
        profile = "/staff/#/contacts/{id}"  # the staff site's own contact page
        service.change_settings(CLOUD_ID, {"profile_url": profile}, CrmChange())
        with service.context(CLOUD_ID) as context:
            email, roles = "jdoe@demo-association.org", ("Staff", "SysAdmin")
            service.add_user(context, USERNAME, email, roles, PASSWORD)
    service.import_contacts(CLOUD_ID, _contacts())


def _contacts() -> list[ContactRow]:
    rows, problems = read_contacts((HERE / "contacts.csv").read_text(encoding="utf-8"))
    assert not problems, problems  # the demo's own file
    return rows


def run_demo(service: Service, out: Console) -> None:
    ensure_demo(service)
    out.print(
        f"Database: {service.settings.database_url}   Cloud ID: {CLOUD_ID}   user: {USERNAME}"
    )
    for path in sorted((HERE / "messages").glob("*.eml")):
        message = service.read(path.read_bytes())
        outcome = service.file(CLOUD_ID, USERNAME, message, Choices(kind="interaction"))
        table = Table("line", "address", "status", "why", title=f"{path.name}: {message.subject}")
        for p in outcome.participants:
            table.add_row(p.line, p.address, status_words(p.status, outcome.kind)[0], p.reason)
        out.print(table)
    stored = service.run(CLOUD_ID, None, service.filed_records)
    table = Table("kind", "id", "contact", "subject", "to", "files", "created by", "saved by",
                  title="What the CRM now holds")  # fmt: skip
    for record in stored:
        files = ", ".join(f.filename for f in record.attachments)
        kind = KIND_NAMES[record.kind]
        if record.activity_type:
            kind += f" ({record.activity_type})"
        table.add_row(kind, record.id, record.contact_id, record.subject, record.to_line or "",
                      files, record.created_by, record.saved_by)  # fmt: skip
    out.print(table)
