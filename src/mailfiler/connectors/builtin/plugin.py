"""mailfiler's own CRM as a plug-in (``connectors.plugin``): in mailfiler's database,
its contacts imported from a file, the detail of its records shown by the staff site itself."""

from __future__ import annotations

from mailfiler.connectors.builtin.connector import BuiltinCRM
from mailfiler.connectors.plugin import CrmPlugin, Needs
from mailfiler.core.organisation import Tenant


def _connect(tenant: Tenant, needs: Needs) -> BuiltinCRM:
    return BuiltinCRM(needs.units, tenant.id, needs.blobs, clock=needs.clock)


BUILTIN = CrmPlugin(
    name="builtin",
    label="the built-in CRM",
    connect=_connect,
    details=_connect,
    contacts=_connect,
)
