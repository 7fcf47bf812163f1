"""Which connector files for an organisation: the one module that knows every CRM.

The service, the API and the CLI ask here, with the organisation's setting
(``Tenant.crm``), and see only the protocols of ``connectors.base``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mailfiler.accounts import Tenant
from mailfiler.clock import Clock, system_clock
from mailfiler.connectors.base import (
    Connector,
    ContactImport,
    RecordReader,
    RemoteUser,
    UserAccess,
)
from mailfiler.connectors.builtin.connector import BuiltinCRM
from mailfiler.connectors.imis import accounts as imis_accounts
from mailfiler.connectors.imis.client import ImisClient
from mailfiler.connectors.imis.connector import ImisCRM
from mailfiler.connectors.imis.mapping import IMIS_EMAIL_ACTIVITY, ImisMapping
from mailfiler.connectors.ledger_records import LedgerRecords
from mailfiler.core.options import ActivityType
from mailfiler.errors import BadRequest, ConnectorUnavailable, SystemFault
from mailfiler.storage import BlobStore, Database, secrets


@dataclass(frozen=True)
class Needs:
    """What a connector may need from the installation, for one unit of work."""

    session: Session
    database: Database
    blobs: BlobStore
    clock: Clock


Factory = Callable[[Tenant, Needs], Connector]


def _imis_site(tenant: Tenant) -> str:
    return str(tenant.crm_settings.get("url") or "")


def _imis_mapping(tenant: Tenant) -> ImisMapping:
    return ImisMapping.from_json(tenant.crm_settings.get("mapping"))


def _imis_client(tenant: Tenant) -> ImisClient:
    site = _imis_site(tenant)
    if not site:
        raise ConnectorUnavailable(
            f"{tenant.cloud_id} has no iMIS address set: an administrator must set it "
            "(mailfiler options set --imis-url)"
        )
    stored = tenant.background_secret
    if not stored:
        raise ConnectorUnavailable(
            f"the background account {tenant.background_account}'s password is not set: "
            "an administrator must set it"
        )
    return ImisClient(
        site, tenant.background_account, lambda: secrets.decrypt(stored), _imis_mapping(tenant)
    )


def _imis(tenant: Tenant, needs: Needs) -> ImisCRM:
    return ImisCRM(_imis_client(tenant), edition=tenant.options.edition)


def _builtin(tenant: Tenant, needs: Needs) -> BuiltinCRM:
    return BuiltinCRM(
        needs.session, tenant.id, needs.blobs, database=needs.database, clock=needs.clock
    )


_FACTORIES: dict[str, Factory] = {"builtin": _builtin, "imis": _imis}


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


UserCheck = Callable[[str, str], RemoteUser | None]


def user_check(tenant: Tenant) -> UserCheck | None:
    """How the CRM checks a user's password, where it does (iMIS); None: mailfiler does."""
    if tenant.crm != "imis":
        return None
    return lambda username, password: imis_accounts.sign_in(
        _imis_site(tenant), lambda: _imis_client(tenant), _imis_mapping(tenant), username, password
    )


def starting_activity_types(crm: str) -> tuple[ActivityType, ...] | None:
    """The activity types a new organisation of this CRM starts with (None: the default)."""
    return (IMIS_EMAIL_ACTIVITY,) if crm == "imis" else None


def checked_mapping(tenant: Tenant, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The organisation's CRM mapping with ``changes``, checked whole: every name known."""
    if tenant.crm != "imis":
        raise BadRequest(f"{tenant.cloud_id} files into the built-in CRM: it has no mapping")
    current = dict(tenant.crm_settings.get("mapping") or {})
    return ImisMapping.from_json({**current, **changes}).to_json()


def describe_user(tenant: Tenant, username: str) -> RemoteUser | None:
    """A user of the CRM as the background account sees them (for the CLI's ``--user``
    on an organisation whose users sign in to their CRM); None when there is no such user."""
    if tenant.crm != "imis":
        return None
    found = imis_accounts.describe(lambda: _imis_client(tenant), _imis_mapping(tenant), username)
    if found is None:
        return None
    name, email, roles = found
    return RemoteUser(name, email, roles, UserAccess(""), system_clock())
