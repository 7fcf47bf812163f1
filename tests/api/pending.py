"""Messages kept between review and save, wherever the service keeps them (a folder, or the
database where files live there), as the tests of a day's keeping and of damage see them."""

from __future__ import annotations

import os

from sqlalchemy import select, update

from mailfiler.service import Service, uploads
from mailfiler.storage.tables import PendingMessage


def _row(upload: uploads.Upload) -> tuple[object, ...]:
    return (
        PendingMessage.organisation_id == upload.organisation_id,
        PendingMessage.user_id == upload.user_id,
        PendingMessage.sha256 == upload.sha256,
    )


def in_database(service: Service) -> bool:
    return service.incoming.units is not None


def last_read(service: Service, upload: uploads.Upload) -> float | None:
    """When it was last read, or None when it is no longer kept."""
    if in_database(service):
        with service.unit(reading=True) as session:
            found = session.scalar(select(PendingMessage.last_read).where(*_row(upload)))
        return None if found is None else found.timestamp()
    path = service.incoming.path(upload)
    return os.stat(path).st_mtime if os.path.exists(path) else None


def age(service: Service, upload: uploads.Upload, moment: float) -> None:
    """Say it was last read at ``moment``."""
    if in_database(service):
        uploads.age(service.unit, upload, moment)
    else:
        os.utime(service.incoming.path(upload), (moment, moment))


def damage(service: Service, upload: uploads.Upload) -> None:
    """Empty it, as a crash before the disk would."""
    if in_database(service):
        with service.unit() as session:
            session.execute(update(PendingMessage).where(*_row(upload)).values(data=b""))
    else:
        with open(service.incoming.path(upload), "wb"):
            pass
