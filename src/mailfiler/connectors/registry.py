"""The table of the CRMs mailfiler files into, one plug-in each (``connectors.plugin``), by
name.

The service asks here, with the organisation's setting (``Tenant.crm``), for its CRM's
plug-in, and sees only that object and the protocols of ``connectors.base``; no code
outside a CRM's own folder tests a CRM's name.
"""

from __future__ import annotations

from collections.abc import Callable

from mailfiler.connectors.base import Connector
from mailfiler.connectors.builtin.plugin import BUILTIN
from mailfiler.connectors.imis.plugin import IMIS
from mailfiler.connectors.plugin import CrmPlugin, Needs
from mailfiler.core.organisation import Tenant
from mailfiler.errors import BadRequest, SystemFault

_PLUGINS: dict[str, CrmPlugin] = {k.name: k for k in (BUILTIN, IMIS)}
# CRMs known only by a connector (the tests' fake ones): no organisation is made for them.
_REGISTERED: dict[str, CrmPlugin] = {}


def register(name: str, connect: Callable[[Tenant, Needs], Connector]) -> None:
    """Another CRM, known only by its connector (the tests' fake one)."""
    _REGISTERED[name] = CrmPlugin(name=name, label=f"the {name} CRM", connect=connect)


def names() -> tuple[str, ...]:
    """The CRMs an organisation can be made for."""
    return tuple(_PLUGINS)


def plugin(name: str) -> CrmPlugin:
    """The plug-in of a CRM an organisation can be made for; ``BadRequest`` for another."""
    found = _PLUGINS.get(name)
    if found is None:
        raise BadRequest(f"the CRM is one of {', '.join(names())}, not {name!r}")
    return found


def of(tenant: Tenant) -> CrmPlugin:
    """The plug-in of the organisation's CRM."""
    found = _PLUGINS.get(tenant.crm) or _REGISTERED.get(tenant.crm)
    if found is None:
        raise SystemFault(f"organisation {tenant.cloud_id} is set to an unknown CRM {tenant.crm!r}")
    return found


def connector(tenant: Tenant, needs: Needs) -> Connector:
    return of(tenant).connect(tenant, needs)
