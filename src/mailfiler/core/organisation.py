"""An organisation (the tenant, named by its Cloud ID) as every layer sees it: a value, read
from mailfiler's database by ``accounts`` and handed down to the connectors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailfiler.core.options import Options


@dataclass(frozen=True)
class Tenant:
    """An organisation as the rest of mailfiler sees it."""

    id: int
    cloud_id: str
    name: str
    background_account: str
    options: Options
    crm: str = "builtin"  # which connector files for it (connectors/registry.py)
    crm_settings: Mapping[str, Any] = field(default_factory=dict)
    # The background account's password for a remote CRM, encrypted; never shown.
    background_secret: str | None = field(default=None, repr=False)
