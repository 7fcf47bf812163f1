"""The organisation's options: everyone reads them, the "change options" roles write them."""

from __future__ import annotations

from contextlib import contextmanager

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mailfiler.api.deps import Admin, Caller, ServiceDep, Token, admin, signed_in
from mailfiler.api.schemas import (
    ActivityFieldSetup,
    ActivityTypeSetup,
    CrmPublic,
    OptionsPublic,
    OptionsUpdate,
    SetUpCheckPublic,
)
from mailfiler.core.options import Options, may_change_options
from mailfiler.core.organisation import Tenant
from mailfiler.service import Context, Service, crm_settings_view
from mailfiler.service.organisations import CrmChange

router = APIRouter(prefix="/options", tags=["options"])


def public(tenant: Tenant, can_change: bool) -> OptionsPublic:
    crm = CrmPublic.model_validate(crm_settings_view(tenant).to_json())
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
    options = Options.from_json(body.model_dump(exclude={"crm", "edition_names"}))
    crm = body.crm
    change = CrmChange()
    if crm is not None:
        change = CrmChange(
            crm=crm.crm, url=crm.url, background_account=crm.background_account,
            background_password=crm.background_password, mapping=crm.mapping or None,
        )  # fmt: skip
    updated = service.change_options(caller, options, change)
    return public(updated, may_change_options(updated.options, caller.filer.roles))


@router.get("/activity-types", response_model=list[ActivityTypeSetup])
def crm_activity_types(caller: Admin, service: ServiceDep) -> list[ActivityTypeSetup]:
    """The activity types the CRM has (from iMIS for an iMIS organisation), to set up."""
    return [
        ActivityTypeSetup(
            code=t.code,
            name=t.name,
            fields=[ActivityFieldSetup(name=f.name, label=f.label) for f in t.fields],
        )
        for t in service.crm_activity_types(caller)
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
