"""Reading a message (POST /messages), reviewing it, and saving it by reference.

The task pane posts the message once; the answer names the contacts found,
their status and reason, the attachments and what the user may do. The save
calls send only choices and the ``message_ref``.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.types import Message as ASGIMessage
from starlette.types import Receive

from mailfiler.api.deps import Caller, ServiceDep, Token, service_of
from mailfiler.api.routes.contacts import public as contact_public
from mailfiler.api.schemas import (
    ActionPublic,
    Actions,
    ActivityFieldValue,
    ActivityTypeOffer,
    AddressPublic,
    AttachmentPublic,
    ComposedMessage,
    MessagePublic,
    ParticipantPublic,
    SaveRequest,
    SaveResponse,
    SaveResult,
)
from mailfiler.core.addresses import address_key
from mailfiler.core.compose import eml_bytes
from mailfiler.core.limits import size_in_words
from mailfiler.core.message import Address, Attachment, BodyPart, Message
from mailfiler.core.options import Action, Options
from mailfiler.core.plan import Choices, FileOutcome, Kind, SavePlan, results_by_contact
from mailfiler.core.words import sentence
from mailfiler.errors import BadRequest, InvalidMessage, TooLarge
from mailfiler.service import Review, Service

router = APIRouter(prefix="/messages", tags=["messages"])

# What would change the meaning of a written address line: another entry, another header.
BREAKS_A_LINE = re.compile(r"[\x00-\x1f\x7f<>,;]")

# Room for what wraps a message in a form (boundaries, field names) or in JSON.
WRAPPING = 64 * 1024

MISSING_NOTE = (
    "Outlook could not hand over this message's attachments: the email will be saved without them"
)

_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.ms-outlook": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/ComposedMessage"}},
        },
    }
}


_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "Over the size limit."},
    422: {"description": "Not a message."},
}


@router.post(
    "",
    response_model=MessagePublic,
    status_code=201,
    openapi_extra=_REQUEST_BODY,
    responses=_ERRORS,
)
async def read_message(request: Request, token: Token) -> MessagePublic:
    """Read a message (.eml, .msg, or the fields of one being written); say what saving does."""
    service = service_of(request)  # not a dependency: this route is the hot one
    data, mode, missing = await _receive(request, service.settings.max_message_bytes)
    # Never on the event loop: the read waits for a reader process (reader_pool),
    # and one user's message must not hold up anyone else's request.
    answer, expires_at = await run_in_threadpool(_upload, service, token, data, mode, missing)
    request.state.expires_at = expires_at
    return answer


def _upload(
    service: Service, token: str, data: bytes, mode: str, missing: bool
) -> tuple[MessagePublic, datetime | None]:
    with service.signed_in(token, reading=True) as context:
        return public(service.upload(context, data, mode, missing), context), context.expires_at


@router.get("/{ref}", response_model=MessagePublic)
def review_message(ref: str, caller: Caller, service: ServiceDep) -> MessagePublic:
    """The review of a message read before (to continue after signing in again)."""
    return public(service.review(caller, ref), caller)


@router.post("/{ref}/interactions", response_model=SaveResponse)
def save_interactions(
    ref: str, body: SaveRequest, token: Token, service: ServiceDep, request: Request
) -> SaveResponse:
    """Write one Interaction per kept contact."""
    return _save("interaction", ref, body, token, service, request)


@router.post("/{ref}/activities", response_model=SaveResponse)
def save_activities(
    ref: str, body: SaveRequest, token: Token, service: ServiceDep, request: Request
) -> SaveResponse:
    """Write one Activity per kept contact, with the activity type and fields chosen."""
    return _save("activity", ref, body, token, service, request)


# -- receiving ------------------------------------------------------------------------------


async def _receive(request: Request, limit: int) -> tuple[bytes, str, bool]:
    """The message bytes, the mode, and whether its attachments could not be had.

    Never more than the limit is read (with room for what wraps a message in
    a form or in JSON): a larger body is refused as it arrives, not when whole.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    room = limit + WRAPPING if kind == "multipart/form-data" else limit
    if kind == "application/json":
        room = limit * 4 // 3 + WRAPPING  # attachments come as base64
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > room:
        raise _too_large(limit)
    request = Request(request.scope, _at_most(request.receive, room, limit))
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=5) as form:  # closes its spooled files
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise BadRequest("the upload needs a file field named 'file'")
            if upload.size is not None and upload.size > limit:
                raise _too_large(limit)
            return await upload.read(), "read", False
    body = await request.body()
    if kind == "application/json":
        try:
            composed = ComposedMessage.model_validate_json(body)
        except ValidationError as error:  # answered as FastAPI answers a body it checked
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
            ) from error
        message = composed_message(composed)
        return eml_bytes(message), composed.mode, composed.attachments_unavailable
    return body, "read", False


def _at_most(receive: Receive, room: int, limit: int) -> Receive:
    """``receive``, refusing the request once more than ``room`` bytes have come."""
    received = 0

    async def limited() -> ASGIMessage:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > room:
            raise _too_large(limit)
        return message

    return limited


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"the message is larger than the limit of {size_in_words(limit)}")


def composed_message(composed: ComposedMessage) -> Message:
    """A message built from its fields (Office.js compose mode, or read mode without the file)."""

    def line(role: str, items: list[Any]) -> tuple[Address, ...]:
        for item in items:
            if BREAKS_A_LINE.search(item.address):
                raise InvalidMessage(
                    f"the {role} line holds {item.address!r}, which is not one email address"
                )
        return tuple(Address(a.address.strip(), a.name.strip()) for a in items)

    files = []
    for item in composed.attachments:
        try:
            data = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidMessage(f"attachment {item.name!r} is not valid base64") from error
        files.append(Attachment(item.name, item.content_type, data, item.content_id, item.inline))
    body: tuple[BodyPart, ...] = ()
    if composed.html_body is not None or composed.text_body is not None:
        body = (BodyPart(html=composed.html_body, text=composed.text_body),)
    message_id = composed.message_id
    if message_id and not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    return Message(
        subject=composed.subject,
        sender=line("From", [composed.sender] if composed.sender else []),
        to=line("To", composed.to),
        cc=line("Cc", composed.cc),
        bcc=line("Bcc", composed.bcc),
        date=composed.date,
        message_id=message_id,
        body=body,
        attachments=tuple(files),
        format="composed",
    )


# -- answering ---------------------------------------------------------------------------------


def _action(action: Action) -> ActionPublic:
    return ActionPublic(state=action.state, reason=sentence(action.reason))


def attachment_public(outcome: FileOutcome, message: Message) -> AttachmentPublic:
    inline = (
        0 <= outcome.number < len(message.attachments)
        and message.attachments[outcome.number].inline
    )
    return AttachmentPublic(
        id=str(outcome.number),
        name=outcome.name,
        saved_as=outcome.saved_as,
        size=outcome.size,
        content_type=outcome.content_type,
        status=outcome.status,
        reason=sentence(outcome.reason),
        inline=inline,
    )


def participants_public(outcome: SavePlan, options: Options) -> list[ParticipantPublic]:
    return [
        ParticipantPublic(
            role=p.line,
            address=p.address,
            name=p.name,
            status=p.status,
            self=p.is_self,
            reason=sentence(p.reason),
            contacts=[contact_public(c, options) for c in p.contacts],
            contact_id=p.contact_id,
        )
        for p in outcome.participants
    ]


def public(review: Review, caller: Caller) -> MessagePublic:
    message = review.message
    options = caller.tenant.options
    sender = message.sender[0] if message.sender else None
    return MessagePublic(
        message_ref=review.ref,
        subject=message.subject,
        date=message.date,
        sender=AddressPublic(address=sender.address, name=sender.name) if sender else None,
        message_id=message.message_id,
        mode="compose" if review.mode == "compose" else "read",
        participants=participants_public(review.outcome, options),
        attachments=[attachment_public(f, message) for f in review.files],
        attachments_missing=review.attachments_missing,
        attachments_note=MISSING_NOTE if review.attachments_missing else None,
        actions=Actions(
            interaction=_action(review.actions["interaction"]),
            activity=_action(review.actions["activity"]),
            add_contact=_action(review.actions["add_contact"]),
        ),
        activity_types=[
            ActivityTypeOffer(
                code=t.code,
                name=t.name,
                default=t.code == options.default_activity_type,
                fields=[
                    ActivityFieldValue(
                        name=f.name,
                        label=f.label,
                        value=values.get(f.name, ""),
                        kind=f.kind,
                        max_length=f.max_length,
                    )
                    for f in t.fields
                ],
            )
            for t, values in review.activity_types
        ],
        notes=[sentence(n) for n in review.outcome.notes],
        saved=review.saved,
        max_total_emails=options.max_total_emails,
    )


def _save(
    kind: Kind, ref: str, body: SaveRequest, token: str, service: Service, request: Request
) -> SaveResponse:
    picks = {address_key(address): contact_id for address, contact_id in body.picks.items()}
    kept = None
    if body.contact_ids is not None:
        kept = frozenset(body.contact_ids) | frozenset(picks.values())
    try:
        files = (
            None if body.attachment_ids is None else frozenset(int(i) for i in body.attachment_ids)
        )
    except ValueError as error:
        raise BadRequest("attachment_ids are the ids given when the message was read") from error
    choices = Choices(
        kind=kind,
        contact_ids=kept,
        picks=picks,
        eml=body.eml,
        keep_attachments=files,
        activity_type=body.activity.type if body.activity else None,
        fields=body.activity.fields if body.activity else {},
    )
    # The service opens (and, after a lost race, reopens) the unit of work itself.
    done = service.save(token, ref, choices)
    request.state.expires_at = done.expires_at
    outcome, message = done.outcome, done.message
    wanted = body.contact_ids
    if wanted is None:
        wanted = [p.contact_id for p in outcome.participants if p.contact_id]
    wanted = [*wanted, *picks.values()]
    return SaveResponse(
        results=[
            SaveResult(
                contact_id=r.contact_id,
                status=r.status,
                record_id=r.record_id,
                reason=sentence(r.reason),
            )
            for r in results_by_contact(outcome, wanted)
        ],
        attachments=[attachment_public(f, message) for f in outcome.files],
        eml=attachment_public(outcome.eml, message) if outcome.eml else None,
        attachments_note=MISSING_NOTE if done.attachments_missing else None,
        participants=participants_public(outcome, done.options or Options()),
    )
