"""The organisation's options: everyone reads them, the "change options" roles write them."""

from __future__ import annotations

from fastapi import APIRouter

from mailfiler import accounts
from mailfiler.api.deps import Admin, Caller
from mailfiler.api.schemas import OptionsPublic, OptionsUpdate
from mailfiler.core.options import Options, may_change_options

router = APIRouter(prefix="/options", tags=["options"])


def public(options: Options, can_change: bool) -> OptionsPublic:
    return OptionsPublic.model_validate({**options.to_json(), "can_change": can_change})


@router.get("", response_model=OptionsPublic)
def read_options(caller: Caller) -> OptionsPublic:
    options = caller.tenant.options
    return public(options, may_change_options(options, caller.filer.roles))


@router.put("", response_model=OptionsPublic)
def change_options(body: OptionsUpdate, caller: Admin) -> OptionsPublic:
    """Replace the options (checked whole first: a bad mapping changes nothing)."""
    options = Options.from_json(body.model_dump())
    updated = accounts.set_options(caller.session, caller.tenant.cloud_id, options)
    return public(updated.options, may_change_options(updated.options, caller.filer.roles))
