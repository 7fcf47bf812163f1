"""Every corpus message that reads can be filed, on both databases, in every way a user can.

The reader's own tests show each file reads or gives a reason; this one takes
each message that reads all the way into storage (as an Interaction and as an
Activity, with its attachments and as an .eml), where a database can refuse
what SQLite took (a NUL in a text column, a value too long).
"""

from __future__ import annotations

from mailfiler.core.mbox import is_mbox, split_mbox
from mailfiler.core.plan import Choices
from mailfiler.errors import InvalidMessage
from tests.conftest import Org, corpus_path


def test_every_corpus_message_that_reads_is_filed_every_way(org: Org) -> None:
    corpus = corpus_path()
    filed = 0
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "oom.tnef"):
        data = path.read_bytes()
        for entry in split_mbox(data) if is_mbox(data) else [data]:
            try:
                message = org.service.read(entry)
            except InvalidMessage:
                continue  # its reason is checked by tests/core/test_read.py
            for kind in ("interaction", "activity"):
                for eml in (False, True):
                    # Contact 101 is on none of them: added by search, as the pane allows.
                    choices = Choices(kind=kind, contact_ids=frozenset({"101"}), eml=eml)
                    outcome = org.service.file(org.cloud_id, org.user, message, choices)
                    [status] = [p.status for p in outcome.participants if p.contact_id == "101"]
                    assert status in ("saved", "duplicate"), (path.name, kind, eml, status)
                    filed += status == "saved"
    assert filed > 200  # over a hundred distinct messages, each as both kinds of record
