"""Which connector files for an organisation: the one module that knows every CRM.

The service, the API and the CLI ask here, with the organisation's setting
(``Tenant.crm``), and see only the protocols of ``connectors.base``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from mailfiler import accounts
from mailfiler.clock import Clock, system_clock
from mailfiler.config import get_settings
from mailfiler.connectors.base import (
    Connector,
    ContactImport,
    RecordReader,
    RemoteUser,
    UserAccess,
)
from mailfiler.connectors.builtin.connector import BuiltinCRM
from mailfiler.connectors.imis import accounts as imis_accounts
from mailfiler.connectors.imis import check as imis_check
from mailfiler.connectors.imis import site_address
from mailfiler.connectors.imis.check import SetUpCheck as SetUpCheck  # the service's answer
from mailfiler.connectors.imis.client import Holder, ImisClient, fingerprint
from mailfiler.connectors.imis.connector import ImisCRM
from mailfiler.connectors.imis.mapping import IMIS_EMAIL_ACTIVITY, ImisMapping
from mailfiler.core.options import ActivityType
from mailfiler.core.organisation import Tenant
from mailfiler.errors import BadRequest, ConnectorUnavailable, MailfilerError, SystemFault
from mailfiler.service.records import LedgerRecords
from mailfiler.storage import BlobStore, Database
from mailfiler.storage import secrets as stored_secrets

log = logging.getLogger("mailfiler.imis")


@dataclass(frozen=True)
class Needs:
    """What a connector may need from the installation, for one unit of work."""

    session: Session
    database: Database
    blobs: BlobStore
    clock: Clock
    # The installation allows CRM sites at loopback, private and link-local addresses
    # (Settings.allow_local_crm: the tests' stand-in sites).
    allow_local_crm: bool = False


Factory = Callable[[Tenant, Needs], Connector]


def _imis_site(tenant: Tenant) -> str:
    return str(tenant.crm_settings.get("url") or "")


def _imis_mapping(tenant: Tenant) -> ImisMapping:
    mapping, dropped = ImisMapping.from_stored(tenant.crm_settings.get("mapping"))
    if dropped:
        log.warning(
            "the iMIS mapping of %s holds values no longer valid, taken as their defaults: %s "
            "(correct them: mailfiler options set --cloud-id %s imis.NAME=VALUE)",
            tenant.cloud_id, ", ".join(dropped), tenant.cloud_id,
        )  # fmt: skip
    return mapping


def _site_policy(allow_local: bool | None) -> site_address.SitePolicy:
    """Where this server may connect. ``None``: as the installation's environment says
    (``MAILFILER_ALLOW_LOCAL_CRM``), for the callers that are handed no settings."""
    if allow_local is None:
        allow_local = get_settings().allow_local_crm
    return site_address.SitePolicy(allow_local, site_address.system_resolver)


def _imis_client(tenant: Tenant, allow_local: bool | None) -> ImisClient:
    """The organisation's background account at its site. Settings that cannot be used
    (no address, no password, a mapping no longer valid) fail its first call, not its
    making: the options that repair them can still be read and changed."""
    site = _imis_site(tenant)
    stored = tenant.background_secret or ""
    problem: MailfilerError | None = None
    if not site:
        problem = ConnectorUnavailable(
            f"{tenant.cloud_id} has no iMIS address set: an administrator must set it "
            "(mailfiler options set --imis-url)"
        )
    elif not stored:
        problem = ConnectorUnavailable(
            f"the background account {tenant.background_account}'s password is not set: "
            "an administrator must set it"
        )
    return ImisClient(
        site,
        tenant.background_account,
        lambda: _background_password(tenant, site),
        _imis_mapping(tenant),
        # Its tokens and connections are the organisation's, for this stored password only.
        holder=Holder(f"{tenant.id}:{tenant.cloud_id}", fingerprint(stored)),
        policy=_site_policy(allow_local),
        problem=problem,
    )


def _background_password(tenant: Tenant, site: str) -> str:
    """The stored password, for the address and account it was set for and no other."""
    try:
        sealed = stored_secrets.background_password(tenant.background_secret or "")
    except (stored_secrets.KeyUnusable, stored_secrets.Unreadable) as error:
        log.error("the background password of %s cannot be read: %s", tenant.cloud_id, error)
        raise ConnectorUnavailable(stored_secrets.NOT_SET_UP) from error
    if sealed.url is not None and not (
        site_address.same_site(sealed.url, site)
        and (sealed.account or "").lower() == tenant.background_account.lower()
    ):
        log.warning(
            "the background password of %s was set for %s as %s, not for %s as %s: not sent",
            tenant.cloud_id, sealed.url, sealed.account, site, tenant.background_account,
        )  # fmt: skip
        raise ConnectorUnavailable(
            "the background account's password was set for another iMIS address or account: "
            "an administrator must set it again"
        )
    return sealed.password


def _imis(tenant: Tenant, needs: Needs) -> ImisCRM:
    return ImisCRM(
        _imis_client(tenant, needs.allow_local_crm),
        edition=tenant.options.edition,
        site=_site_facts(tenant),
    )


def _site_facts(tenant: Tenant) -> Mapping[str, Any] | None:
    """What the set-up check learnt of the site, if it was of the address set now (the
    address can change without a check)."""
    facts = tenant.crm_settings.get("site")
    url = _imis_site(tenant)
    if not isinstance(facts, dict) or not url:
        return None
    learnt_at = str(facts.get("site") or "")
    return facts if learnt_at and site_address.same_site(learnt_at, url) else None


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
    template = _imis_mapping(tenant).record_link
    site = _imis_site(tenant)

    def link(contact_id: str, record_id: str) -> str | None:
        # Placeholders replaced one by one (never str.format: a template is an admin's text).
        text = template.replace("{site}", site)
        for name, value in (("{contact_id}", contact_id), ("{record_id}", record_id)):
            text = text.replace(name, quote(value, safe=""))
        return text if text.startswith("https://") or (text.startswith(site) and site) else None

    return LedgerRecords(needs.session, tenant, link)


def contact_import(tenant: Tenant, needs: Needs) -> ContactImport:
    if tenant.crm != "builtin":
        raise BadRequest(
            f"the contacts of {tenant.cloud_id} are in its CRM ({tenant.crm}): add them there"
        )
    return _builtin(tenant, needs)


UserCheck = Callable[[str, str], RemoteUser | None]


def user_check(tenant: Tenant, allow_local: bool | None = None) -> UserCheck | None:
    """How the CRM checks a user's password, where it does (iMIS); None: mailfiler does."""
    if tenant.crm != "imis":
        return None
    return lambda username, password: imis_accounts.sign_in(
        _imis_client(tenant, allow_local), username, password
    )


def starting_activity_types(crm: str) -> tuple[ActivityType, ...] | None:
    """The activity types a new organisation of this CRM starts with (None: the default)."""
    return (IMIS_EMAIL_ACTIVITY,) if crm == "imis" else None


def checked_mapping(tenant: Tenant, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The organisation's CRM mapping with ``changes``, each change checked (a name known, a
    value valid); a change to None puts the default back. A stored value no longer valid
    is dropped, so one wrong value never blocks the change of another."""
    if tenant.crm != "imis":
        raise BadRequest(f"{tenant.cloud_id} files into the built-in CRM: it has no mapping")
    stored = dict(tenant.crm_settings.get("mapping") or {})
    current, dropped = ImisMapping.from_stored(stored)
    valid = current.to_json()
    kept = {name: valid[name] for name in stored if name not in dropped}
    for name, value in changes.items():
        if value is None:
            kept.pop(name, None)
        else:
            kept[name] = value
    return ImisMapping.from_json(kept).to_json()


def accepted_site(crm: str, url: str | None, *, allow_local: bool) -> str | None:
    """A remote CRM's address as mailfiler keeps it, once it may be called (its name is
    looked up and every address checked; nothing is sent to it); ``BadRequest`` why not."""
    if crm != "imis" or url is None:
        return url
    return site_address.checked_site(url, _site_policy(allow_local))


def change_crm(
    session: Session,
    tenant: Tenant,
    *,
    url: str | None = None,
    background_account: str | None = None,
    background_password: str | None = None,
    mapping: Mapping[str, Any] | None = None,
    allow_local: bool,
) -> Tenant:
    """Change where the organisation's CRM is, how mailfiler signs in to it and its mapping,
    each checked first (the same for the API and the command line).

    The address it has already (as the Options screen sends it back) is no change. A new
    address is checked only with the password that goes with it: without one,
    ``accounts.set_crm`` refuses the change, saying why.
    """
    if url is not None and site_address.same_site(url, _imis_site(tenant)):
        url = None
    if url is not None and background_password is not None:
        url = accepted_site(tenant.crm, url, allow_local=allow_local)
    return accounts.set_crm(
        session,
        tenant.cloud_id,
        url=url,
        background_account=background_account,
        background_password=background_password,
        mapping=checked_mapping(tenant, mapping) if mapping else None,
    )


def describe_user(
    tenant: Tenant, username: str, allow_local: bool | None = None
) -> RemoteUser | None:
    """A user of the CRM as the background account sees them (for the CLI's ``--user``
    on an organisation whose users sign in to their CRM); None when there is no such user."""
    if tenant.crm != "imis":
        return None
    found = imis_accounts.describe(_imis_client(tenant, allow_local), username)
    if found is None:
        return None
    name, email, roles = found
    return RemoteUser(name, email, roles, UserAccess(""), system_clock())


def set_up_check(tenant: Tenant, allow_local: bool | None = None) -> SetUpCheck:
    """What an administrator must fix in the organisation's CRM set-up, line by line, and
    what was learnt of its site (``mailfiler imis check``); ``BadRequest`` for a CRM that
    has no set-up of its own."""
    if tenant.crm != "imis":
        raise BadRequest(
            f"{tenant.cloud_id} files into mailfiler's built-in CRM: it has no CRM set-up to check"
        )
    return imis_check.check(
        _imis_client(tenant, allow_local),
        cloud_id=tenant.cloud_id,
        activities=tenant.options.edition == "enterprise",
    )
