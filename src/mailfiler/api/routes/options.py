"""The organisation's options: everyone reads them, the "change options" roles write them."""

from __future__ import annotations

from contextlib import contextmanager

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mailfiler import accounts
from mailfiler.api.deps import Admin, Caller, ServiceDep, Token, admin, signed_in
from mailfiler.api.schemas import (
    ActivityFieldSetup,
    ActivityTypeSetup,
    CrmPublic,
    OptionsPublic,
    OptionsUpdate,
    SetUpCheckPublic,
)
from mailfiler.connectors import registry
from mailfiler.core.options import ActivityType, Options, may_change_options
from mailfiler.core.organisation import Tenant
from mailfiler.errors import BadRequest
from mailfiler.service import Context, Service, crm_settings_view

router = APIRouter(prefix="/options", tags=["options"])


def public(tenant: Tenant, can_change: bool) -> OptionsPublic:
    crm = CrmPublic.model_validate(crm_settings_view(tenant))
    return OptionsPublic.model_validate(
        {**tenant.options.to_json(), "can_change": can_change, "crm": crm}
    )


@router.get("", response_model=OptionsPublic)
def read_options(caller: Caller) -> OptionsPublic:
    return public(caller.tenant, may_change_options(caller.tenant.options, caller.filer.roles))


@router.put("", response_model=OptionsPublic)
def change_options(body: OptionsUpdate, caller: Admin, service: ServiceDep) -> OptionsPublic:
    """Replace the options (checked whole first: a bad mapping changes nothing); with
    ``crm``, change where the CRM is and the background account (its password is
    write-only, and a new address or account needs it in the same change).

    The CRM is asked only when an activity type is set up anew, and then as the change
    being saved says it is: a site that has broken never blocks the change that repairs it.
    """
    options = Options.from_json(body.model_dump(exclude={"crm"}))
    tenant = caller.tenant
    crm = body.crm
    if crm is not None and crm.kind not in (None, tenant.crm):
        raise BadRequest("an organisation's CRM is chosen when it is made (mailfiler init --crm)")
    if crm is not None and (tenant.crm != "builtin" or crm.url or crm.background_password):
        tenant = registry.change_crm(
            caller.session,
            tenant,
            url=crm.url,
            background_account=crm.background_account,
            background_password=crm.background_password,
            mapping=crm.mapping or None,
            allow_local=service.settings.allow_local_crm,
        )
    added = _set_up_anew(options, caller.tenant.options)
    if tenant.crm != "builtin" and added:
        now = registry.connector(tenant, service.needs(caller.session))
        _check_against_the_crm(added, now.activity_types(), now.capabilities.crm)
    updated = accounts.set_options(caller.session, tenant.cloud_id, options)
    return public(updated, may_change_options(updated.options, caller.filer.roles))


def _set_up_anew(options: Options, before: Options) -> list[ActivityType]:
    """The activity types whose code or fields differ from what was set up before: only
    those need the CRM's word (labels, defaults and roles are mailfiler's own)."""
    known = {(t.code.upper(), frozenset(t.field_names())) for t in before.activity_types}
    return [
        t for t in options.activity_types
        if (t.code.upper(), frozenset(t.field_names())) not in known
    ]  # fmt: skip


def _check_against_the_crm(
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


@router.get("/activity-types", response_model=list[ActivityTypeSetup])
def crm_activity_types(caller: Admin) -> list[ActivityTypeSetup]:
    """The activity types the CRM has (from iMIS for an iMIS organisation), to set up."""
    return [
        ActivityTypeSetup(
            code=t.code,
            name=t.name,
            fields=[ActivityFieldSetup(name=f.name, label=f.label) for f in t.fields],
        )
        for t in caller.crm.activity_types()
    ]


@router.post(
    "/check",
    response_model=SetUpCheckPublic,
    responses={400: {"description": "The organisation files into the built-in CRM."}},
)
async def check_the_set_up(service: ServiceDep, token: Token, request: Request) -> SetUpCheckPublic:
    """Check the CRM's set-up as it is saved ("Test the connection"): each line ✓, or one
    sentence of what to fix; what iMIS answered goes to the server's log. What the check
    learns of the site is kept for the connector.

    No transaction is open while iMIS is asked (it may take seconds): the caller is
    signed in and their roles read in a unit of work closed before the check starts.
    """
    caller = await run_in_threadpool(_signed_in_briefly, service, token, request)
    await admin(caller)  # the "change options" roles
    checked = await run_in_threadpool(service.check_crm, caller.tenant.cloud_id)
    return SetUpCheckPublic.model_validate(checked.public())


def _signed_in_briefly(service: Service, token: str, request: Request) -> Context:
    """The caller, from a unit of work closed at once (``deps.signed_in``, renewing the
    sign-in as every request does); their organisation and roles stay readable."""
    with contextmanager(signed_in)(service, token, request) as caller:
        return caller
