"""iMIS as a plug-in (``connectors.plugin``): its connector, its users' sign-in, its
address and background account, its mapping and their checks, where its records open."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from mailfiler.clock import system_clock
from mailfiler.connectors.base import RemoteUser, UserAccess
from mailfiler.connectors.imis import accounts as imis_accounts
from mailfiler.connectors.imis import check as imis_check
from mailfiler.connectors.imis import site_address
from mailfiler.connectors.imis.client import Holder, ImisClient, fingerprint
from mailfiler.connectors.imis.connector import ImisCRM
from mailfiler.connectors.imis.mapping import IMIS_EMAIL_ACTIVITY, ImisMapping
from mailfiler.connectors.plugin import CrmPlugin, Needs, RecordLink, RemoteSettings, UserCheck
from mailfiler.core.organisation import Tenant
from mailfiler.errors import ConnectorUnavailable, MailfilerError

log = logging.getLogger("mailfiler.imis")


def _site(tenant: Tenant) -> str:
    return tenant.crm_settings.url or ""


def _mapping(tenant: Tenant) -> ImisMapping:
    mapping, dropped = ImisMapping.from_stored(tenant.crm_settings.mapping)
    if dropped:
        log.warning(
            "the iMIS mapping of %s holds values no longer valid, taken as their defaults: %s "
            "(correct them: mailfiler options set --cloud-id %s imis.NAME=VALUE)",
            tenant.cloud_id, ", ".join(dropped), tenant.cloud_id,
        )  # fmt: skip
    return mapping


def _policy(allow_local: bool) -> site_address.SitePolicy:
    return site_address.SitePolicy(allow_local, site_address.system_resolver)


def client(tenant: Tenant, needs: Needs) -> ImisClient:
    """The organisation's background account at its site. Settings that cannot be used
    (no address, no password, a mapping no longer valid) fail its first call, not its
    making: the options that repair them can still be read and changed."""
    site = _site(tenant)
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
        lambda: _background_password(tenant, site, needs),
        _mapping(tenant),
        # Its tokens and connections are the organisation's, for this stored password only.
        holder=Holder(f"{tenant.id}:{tenant.cloud_id}", fingerprint(stored)),
        policy=_policy(needs.allow_local_crm),
        problem=problem,
    )


def _background_password(tenant: Tenant, site: str, needs: Needs) -> str:
    """The stored password, for the address and account it was set for and no other."""
    sealed = needs.open_password(tenant.background_secret or "")
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


def _connect(tenant: Tenant, needs: Needs) -> ImisCRM:
    return ImisCRM(
        client(tenant, needs),
        site=_site_facts(tenant),
    )


def _site_facts(tenant: Tenant) -> Mapping[str, Any] | None:
    """What the set-up check learnt of the site, if it was of the address set now (the
    address can change without a check)."""
    facts = tenant.crm_settings.site
    url = _site(tenant)
    if facts is None or not url:
        return None
    learnt_at = str(facts.get("site") or "")
    return facts if learnt_at and site_address.same_site(learnt_at, url) else None


def _record_link(tenant: Tenant) -> RecordLink:
    template = _mapping(tenant).record_link
    site = _site(tenant)

    def link(contact_id: str, record_id: str) -> str | None:
        # Placeholders replaced one by one (never str.format: a template is an admin's text).
        text = template.replace("{site}", site)
        for name, value in (("{contact_id}", contact_id), ("{record_id}", record_id)):
            text = text.replace(name, quote(value, safe=""))
        return text if text.startswith("https://") or (text.startswith(site) and site) else None

    return link


def _sign_in(tenant: Tenant, needs: Needs) -> UserCheck:
    return lambda username, password: imis_accounts.sign_in(
        client(tenant, needs), username, password
    )


def _describe_user(tenant: Tenant, username: str, needs: Needs) -> RemoteUser | None:
    found = imis_accounts.describe(client(tenant, needs), username)
    if found is None:
        return None
    name, email, roles = found
    return RemoteUser(name, email, roles, UserAccess(""), system_clock())


def _checked_mapping(tenant: Tenant, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The organisation's mapping with ``changes``, each change checked (a name known, a
    value valid); a change to None puts the default back. A stored value no longer valid
    is dropped, so one wrong value never blocks the change of another."""
    stored = dict(tenant.crm_settings.mapping)
    current, dropped = ImisMapping.from_stored(stored)
    valid = current.to_json()
    kept = {name: valid[name] for name in stored if name not in dropped}
    for name, value in changes.items():
        if value is None:
            kept.pop(name, None)
        else:
            kept[name] = value
    return ImisMapping.from_json(kept).to_json()


IMIS = CrmPlugin(
    name="imis",
    label="iMIS",
    connect=_connect,
    record_link=_record_link,
    sign_in=_sign_in,
    describe_user=_describe_user,
    starting_activity_types=(IMIS_EMAIL_ACTIVITY,),
    remote=RemoteSettings(
        # An address is kept only once it may be called: its name looked up, every
        # address checked, nothing sent to it.
        accept_site=lambda url, allow_local: site_address.checked_site(url, _policy(allow_local)),
        same_site=lambda tenant, url: site_address.same_site(url, _site(tenant)),
        check_mapping=_checked_mapping,
        set_up_check=lambda tenant, needs: imis_check.check(
            client(tenant, needs),
            cloud_id=tenant.cloud_id,
            activities=tenant.options.edition == "enterprise",
        ),
    ),
)
