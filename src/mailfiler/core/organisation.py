"""An organisation (the tenant, named by its Cloud ID) as every layer sees it: a value, read
from mailfiler's database by ``accounts`` and handed down to the connectors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailfiler.core.options import Options


@dataclass(frozen=True)
class CrmSettings:
    """Where an organisation's own CRM is, as its administrators set it: the site's address,
    the plug-in's mapping (its own names, checked by the plug-in: ``RemoteSettings``), and
    what the set-up check learnt of the site. Kept as JSON with the organisation."""

    url: str | None = None
    mapping: Mapping[str, Any] = field(default_factory=dict)
    site: Mapping[str, Any] | None = None

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> CrmSettings:
        """As kept; a value of the wrong shape (hand-edited JSON) is taken as unset."""
        stored = stored or {}
        url, mapping, site = stored.get("url"), stored.get("mapping"), stored.get("site")
        return cls(
            url=url if isinstance(url, str) and url else None,
            mapping=dict(mapping) if isinstance(mapping, Mapping) else {},
            site=dict(site) if isinstance(site, Mapping) else None,
        )

    def to_stored(self) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        if self.url is not None:
            kept["url"] = self.url
        if self.mapping:
            kept["mapping"] = dict(self.mapping)
        if self.site is not None:
            kept["site"] = dict(self.site)
        return kept


@dataclass(frozen=True)
class Tenant:
    """An organisation as the rest of mailfiler sees it."""

    id: int
    cloud_id: str
    name: str
    background_account: str
    options: Options
    crm: str = "builtin"  # which connector files for it (connectors/registry.py)
    crm_settings: CrmSettings = field(default_factory=CrmSettings)
    # The background account's password for a remote CRM, encrypted; never shown.
    background_secret: str | None = field(default=None, repr=False)
