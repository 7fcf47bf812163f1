"""The use cases of an organisation's set-up: making one, changing its options and where its
CRM is, its users. The API, the command line and the demo all come here; each change is
checked first, and the CRM is never called inside a transaction of mailfiler's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from mailfiler import accounts
from mailfiler.accounts import signin
from mailfiler.connectors import registry
from mailfiler.connectors.plugin import Needs
from mailfiler.core.options import ActivityType, Options
from mailfiler.core.organisation import Tenant
from mailfiler.errors import BadRequest

Units = Callable[..., AbstractContextManager[Session]]


@dataclass(frozen=True)
class CrmChange:
    """Where the organisation's CRM is and how mailfiler signs in to it; None: unchanged."""

    crm: str | None = None  # which CRM: chosen when the organisation is made
    url: str | None = None
    background_account: str | None = None
    background_password: str | None = None
    mapping: Mapping[str, Any] | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.url, self.background_account,
                                           self.background_password, self.mapping))  # fmt: skip

    def checked_by_the_set_up(self) -> bool:
        """What the CRM's set-up check looks at changed: the site, the account, its password,
        the search."""
        searched = any(name.startswith("search_") for name in self.mapping or {})
        return bool(
            self.url or self.background_account or self.background_password is not None
            or searched
        )  # fmt: skip


def create(
    units: Units,
    cloud_id: str,
    name: str,
    background_account: str,
    edition: str,
    *,
    crm: str,
    url: str | None,
    background_password: str | None,
    allow_local: bool,
) -> Tenant:
    """A new organisation, filing into the CRM named; a remote one's address is checked
    (looked up, never called) before it is kept."""
    plugin = registry.plugin(crm)
    if plugin.remote is not None and url is not None:
        url = plugin.remote.accept_site(url, allow_local)
    with units() as session:
        return accounts.create_organisation(
            session, cloud_id, name, background_account, edition,
            crm=plugin.name, remote=plugin.remote is not None, crm_url=url,
            background_password=background_password,
            activity_types=plugin.starting_activity_types,
        )  # fmt: skip


def checked_change(tenant: Tenant, change: CrmChange, allow_local: bool) -> CrmChange:
    """The change of where the organisation's CRM is, how mailfiler signs in to it and its
    mapping, each checked by its plug-in (a new address is looked up: outside any unit of
    work). The address it has already (as the Options screen sends it back) is no change;
    a new one is checked only with the password that goes with it (without one,
    ``accounts.crm_changed`` refuses the change, saying why)."""
    plugin = registry.of(tenant)
    if change.crm not in (None, tenant.crm):
        raise BadRequest("an organisation's CRM is chosen when it is made (mailfiler init --crm)")
    remote = plugin.remote
    if remote is None:
        if change.url or change.background_password or change.mapping:
            raise BadRequest(
                f"{tenant.cloud_id} files into {plugin.label}: it has no CRM address or mapping"
            )
        return CrmChange(background_account=change.background_account)
    url = change.url
    if url is not None and remote.same_site(tenant, url):
        url = None
    if url is not None and change.background_password is not None:
        url = remote.accept_site(url, allow_local)
    mapping = remote.check_mapping(tenant, change.mapping) if change.mapping else None
    return replace(change, url=url, mapping=mapping)


def as_changed(tenant: Tenant, change: CrmChange) -> Tenant:
    """The organisation as a checked change would leave it, nothing stored."""
    if not change:
        return tenant
    return accounts.crm_changed(tenant, **_crm_values(tenant, change))


def store_change(session: Session, tenant: Tenant, change: CrmChange) -> Tenant:
    """Keep a checked change of where the CRM is."""
    if not change:
        return tenant
    return accounts.set_crm(session, tenant.cloud_id, **_crm_values(tenant, change))


def _crm_values(tenant: Tenant, change: CrmChange) -> dict[str, Any]:
    return {
        "remote": registry.of(tenant).remote is not None, "url": change.url,
        "background_account": change.background_account,
        "background_password": change.background_password, "mapping": change.mapping,
    }  # fmt: skip


def check_activity_types(
    tenant: Tenant, options: Options, change: CrmChange, *, needs: Needs
) -> None:
    """The activity types set up anew are ones the CRM has, asked (outside any unit of work)
    as the change being saved says the CRM is: a site that has broken never blocks the
    change that repairs it. Only a remote CRM is asked."""
    added = set_up_anew(options, tenant.options)
    plugin = registry.of(tenant)
    if added and plugin.remote is not None:
        now = plugin.connect(as_changed(tenant, change), needs)
        check_against_the_crm(added, now.activity_types(), plugin.label)


def set_up_anew(options: Options, before: Options) -> list[ActivityType]:
    """The activity types whose code or fields differ from what was set up before: only
    those need the CRM's word (labels, defaults and roles are mailfiler's own)."""
    known = {(t.code.upper(), frozenset(t.field_names())) for t in before.activity_types}
    return [
        t for t in options.activity_types
        if (t.code.upper(), frozenset(t.field_names())) not in known
    ]  # fmt: skip


def check_against_the_crm(
    activity_types: list[ActivityType], offered: list[ActivityType], crm: str
) -> None:
    """Every activity type set up is one the CRM has (not a system type), with its fields."""
    by_code = {t.code.upper(): t for t in offered}
    for activity_type in activity_types:
        found = by_code.get(activity_type.code.upper())
        if found is None:
            codes = ", ".join(sorted(by_code)) or "none"
            raise BadRequest(
                f"{crm} has no activity type {activity_type.code} that can be added "
                f"(system types such as DUES cannot); it offers: {codes}"
            )
        unknown = set(activity_type.field_names()) - set(found.field_names())
        if unknown:
            raise BadRequest(
                f"activity type {activity_type.code} in {crm} has no field "
                f"{', '.join(sorted(unknown))}; its fields: {', '.join(found.field_names())}"
            )


# -- users --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserChange:
    email: str | None = None
    roles: Iterable[str] | None = None
    password: str | None = None
    disabled: bool | None = None


def change_user(
    session: Session, tenant: Tenant, username: str, change: UserChange
) -> accounts.Member:
    """Disabling a user, or changing their password, ends their sign-ins at once."""
    user = accounts.user(session, tenant, username)
    if change.email is not None:
        user.email = change.email.strip()
    if change.roles is not None:
        accounts.set_roles(user, change.roles)
    if change.password is not None:
        accounts.set_password(user, change.password)
        signin.sign_out_everywhere(session, user)
    if change.disabled is not None:
        accounts.set_disabled(user, change.disabled)
        if change.disabled:
            signin.sign_out_everywhere(session, user)
    return accounts.member(user)


def users(session: Session, tenant: Tenant) -> Iterator[accounts.Member]:
    for row in accounts.users(session, tenant):
        yield accounts.member(row)
