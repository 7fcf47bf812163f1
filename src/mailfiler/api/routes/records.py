"""Records that need someone (unsure, failed, partial): listed and settled by the options roles.

An unsure record may be in the CRM or not (it never answered the write, or
the save writing it died); it is never sent again by itself. Someone looks in
the CRM and settles it here: it landed (with the key the CRM shows), or it
is to be sent again with the next save of the message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mailfiler.api.deps import Admin, ServiceDep
from mailfiler.api.schemas import RecordToCheck, SettleRequest
from mailfiler.core.words import sentence
from mailfiler.service import StillUnknown, ToCheck
from mailfiler.service.views import to_check_report

router = APIRouter(prefix="/records", tags=["records"])


def to_check_public(entry: ToCheck) -> RecordToCheck:
    return RecordToCheck.model_validate(to_check_report(entry))


@router.get("/to-check", response_model=list[RecordToCheck])
def records_to_check(caller: Admin, service: ServiceDep) -> list[RecordToCheck]:
    """The organisation's unsure, failed and partial records, newest first."""
    return [to_check_public(e) for e in service.records_to_check(caller)]


@router.post(
    "/to-check/{number}",
    response_model=RecordToCheck,
    responses={404: {"description": "No such record to check."}, 409: {"description": "Settled."}},
)
def settle_record(
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],  # an INTEGER column holds it
    body: SettleRequest,
    caller: Admin,
    service: ServiceDep,
) -> RecordToCheck:
    """Settle one after checking the CRM: it landed (its key), or send it again; or ask the
    CRM, which settles it where the CRM can tell."""
    if body.ask_crm:
        [(entry, found)] = service.ask_the_crm(caller, number)
        public = to_check_public(entry)
        if isinstance(found, StillUnknown):
            public.crm_said = sentence(found.reason)
        return public
    by = caller.signed_in_user.username
    landed = None if body.send_again else body.landed
    return to_check_public(service.settle_record(caller, number, landed, by))
