"""The organisation's options: everyone reads them, the "change options" roles write them."""

from __future__ import annotations

from fastapi import APIRouter

from mailfiler import accounts
from mailfiler.accounts import Tenant
from mailfiler.api.deps import Admin, Caller
from mailfiler.api.schemas import (
    ActivityFieldSetup,
    ActivityTypeSetup,
    CrmPublic,
    OptionsPublic,
    OptionsUpdate,
)
from mailfiler.connectors import registry
from mailfiler.core.options import ActivityType, Options, may_change_options
from mailfiler.errors import BadRequest

router = APIRouter(prefix="/options", tags=["options"])


def public(tenant: Tenant, can_change: bool) -> OptionsPublic:
    crm = CrmPublic(
        kind="imis" if tenant.crm == "imis" else "builtin",
        url=tenant.crm_settings.get("url"),
        background_account=tenant.background_account,
        background_password_set=bool(tenant.background_secret),
        mapping=dict(tenant.crm_settings.get("mapping") or {}),
    )
    return OptionsPublic.model_validate(
        {**tenant.options.to_json(), "can_change": can_change, "crm": crm}
    )


@router.get("", response_model=OptionsPublic)
def read_options(caller: Caller) -> OptionsPublic:
    return public(caller.tenant, may_change_options(caller.tenant.options, caller.filer.roles))


@router.put("", response_model=OptionsPublic)
def change_options(body: OptionsUpdate, caller: Admin) -> OptionsPublic:
    """Replace the options (checked whole first: a bad mapping changes nothing); with
    ``crm``, change where the CRM is and the background account (its password is write-only)."""
    options = Options.from_json(body.model_dump(exclude={"crm"}))
    cloud_id = caller.tenant.cloud_id
    crm = body.crm
    if crm is not None and crm.kind not in (None, caller.tenant.crm):
        raise BadRequest("an organisation's CRM is chosen when it is made (mailfiler init --crm)")
    if crm is not None and (caller.tenant.crm != "builtin" or crm.url or crm.background_password):
        mapping = None
        if crm.mapping:
            mapping = registry.checked_mapping(caller.tenant, crm.mapping)
        accounts.set_crm(
            caller.session,
            cloud_id,
            url=crm.url,
            background_account=crm.background_account,
            background_password=crm.background_password,
            mapping=mapping,
        )
    if caller.tenant.crm != "builtin":
        _check_against_the_crm(options, caller.crm.activity_types(), caller.crm.capabilities.crm)
    updated = accounts.set_options(caller.session, cloud_id, options)
    return public(updated, may_change_options(updated.options, caller.filer.roles))


def _check_against_the_crm(options: Options, offered: list[ActivityType], crm: str) -> None:
    """Every activity type set up is one the CRM has (not a system type), with its fields."""
    by_code = {t.code.upper(): t for t in offered}
    for activity_type in options.activity_types:
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
