"""Which connector files for an organisation: the one module that knows every CRM.

The service, the API and the CLI ask here, with the organisation's setting
(``Tenant.crm``), and see only the protocols of ``connectors.base``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailfiler.accounts import Tenant
from mailfiler.clock import Clock
from mailfiler.connectors.base import Connector, ContactImport, RecordReader
from mailfiler.connectors.builtin.connector import BuiltinCRM
from mailfiler.connectors.ledger_records import LedgerRecords
from mailfiler.errors import BadRequest, SystemFault
from mailfiler.storage import BlobStore, Database


@dataclass(frozen=True)
class Needs:
    """What a connector may need from the installation, for one unit of work."""

    session: Session
    database: Database
    blobs: BlobStore
    clock: Clock


Factory = Callable[[Tenant, Needs], Connector]


def _builtin(tenant: Tenant, needs: Needs) -> BuiltinCRM:
    return BuiltinCRM(
        needs.session, tenant.id, needs.blobs, database=needs.database, clock=needs.clock
    )


_FACTORIES: dict[str, Factory] = {"builtin": _builtin}


def register(crm: str, factory: Factory) -> None:
    """Another kind of CRM (the tests' fake one)."""
    _FACTORIES[crm] = factory


def crms() -> tuple[str, ...]:
    return tuple(_FACTORIES)


def connector(tenant: Tenant, needs: Needs) -> Connector:
    factory = _FACTORIES.get(tenant.crm)
    if factory is None:
        raise SystemFault(f"organisation {tenant.cloud_id} is set to an unknown CRM {tenant.crm!r}")
    return factory(tenant, needs)


def record_reader(tenant: Tenant, needs: Needs) -> RecordReader:
    """What was filed, for the staff site: the built-in CRM's records, else the ledger's."""
    if tenant.crm == "builtin":
        return _builtin(tenant, needs)
    return LedgerRecords(needs.session, tenant)


def contact_import(tenant: Tenant, needs: Needs) -> ContactImport:
    if tenant.crm != "builtin":
        raise BadRequest(
            f"the contacts of {tenant.cloud_id} are in its CRM ({tenant.crm}): add them there"
        )
    return _builtin(tenant, needs)
