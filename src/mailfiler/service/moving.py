"""Attachment contents kept in a folder moved into the database (``mailfiler move-files``),
for an installation that now keeps them there (``Settings.files_in``): servers on other
machines then read them too."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailfiler.connectors.plugin import Units
from mailfiler.storage.blobs import DatabaseBlobs, FolderBlobs, sha256_of


@dataclass
class Moved:
    folder: Path
    moved: int = 0  # files copied into the database and removed from the folder
    size: int = 0  # their bytes
    there_already: int = 0  # in the database before: removed from the folder
    damaged: list[str] = field(default_factory=list)  # content not its name: left in the folder


def move_into_database(units: Units, folder: FolderBlobs, store: DatabaseBlobs) -> Moved:
    """Each file in its own short unit, removed from the folder once the unit has committed:
    stopped at any moment, a rerun goes on where it stopped and loses nothing."""
    done = Moved(folder.root)
    for sha256, path in folder.stored():
        data = path.read_bytes()
        if sha256_of(data) != sha256:
            done.damaged.append(sha256)
            continue
        with units() as session:
            if store.has(session, sha256):
                done.there_already += 1
            else:
                store.put(session, data, sha256)
                done.moved += 1
                done.size += len(data)
        path.unlink()
    return done
