"""The table of the kinds of CRM mailfiler files into (``connectors.kinds``), by name.

The service asks here, with the organisation's setting (``Tenant.crm``), for its kind,
and sees only that kind's object and the protocols of ``connectors.base``; no code
outside a CRM's own folder tests a CRM's name.
"""

from __future__ import annotations

from collections.abc import Callable

from mailfiler.connectors.base import Connector
from mailfiler.connectors.builtin.kind import BUILTIN
from mailfiler.connectors.imis.kind import IMIS
from mailfiler.connectors.kinds import CrmKind, Needs
from mailfiler.core.organisation import Tenant
from mailfiler.errors import BadRequest, SystemFault

_KINDS: dict[str, CrmKind] = {k.name: k for k in (BUILTIN, IMIS)}
# Kinds known only by a connector (the tests' fake ones): no organisation is made for them.
_REGISTERED: dict[str, CrmKind] = {}


def register(name: str, connect: Callable[[Tenant, Needs], Connector]) -> None:
    """Another kind of CRM, known only by its connector (the tests' fake one)."""
    _REGISTERED[name] = CrmKind(name=name, label=f"the {name} CRM", connect=connect)


def names() -> tuple[str, ...]:
    """The kinds an organisation can be made for."""
    return tuple(_KINDS)


def kind(name: str) -> CrmKind:
    """A kind an organisation can be made for, by its name; ``BadRequest`` for another."""
    found = _KINDS.get(name)
    if found is None:
        raise BadRequest(f"the CRM is one of {', '.join(names())}, not {name!r}")
    return found


def of(tenant: Tenant) -> CrmKind:
    """The organisation's kind of CRM."""
    found = _KINDS.get(tenant.crm) or _REGISTERED.get(tenant.crm)
    if found is None:
        raise SystemFault(f"organisation {tenant.cloud_id} is set to an unknown CRM {tenant.crm!r}")
    return found


def connector(tenant: Tenant, needs: Needs) -> Connector:
    return of(tenant).connect(tenant, needs)
