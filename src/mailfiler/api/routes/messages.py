"""Reading a message (POST /messages), reviewing it, and saving it by reference.

The task pane posts the message once; the answer names the contacts found,
their status and reason, the attachments and what the user may do. The save
calls send only choices and the ``message_ref``.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import Message as ASGIMessage
from starlette.types import Receive

from mailfiler import logs
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
    PreviewPublic,
    PreviewRequest,
    SaveRequest,
    SaveResponse,
    SaveResult,
    SaveVerdict,
    SaveVerdicts,
)
from mailfiler.core.addresses import address_key
from mailfiler.core.fields import message_from_fields
from mailfiler.core.limits import size_in_words
from mailfiler.core.message import Message
from mailfiler.core.options import Action, Options
from mailfiler.core.plan import Choices, FileOutcome, SavePlan, results_by_contact
from mailfiler.core.rules import Kind, listed
from mailfiler.core.words import FILED_STATUSES, said, save_summary, sentence
from mailfiler.errors import BadRequest, TooLarge
from mailfiler.service import Reading, Review, Service, uploads

router = APIRouter(prefix="/messages", tags=["messages"])
log = logs.get_logger("mailfiler.api.messages")
T = TypeVar("T")

# What would change the meaning of a written address line: another entry, another header.

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
    429: {
        "description": "What you read in the last day, kept for saving, is at your limit: "
        "wait as Retry-After says."
    },
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
    limit = service.settings.max_message_bytes
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    room = limit + WRAPPING if media_type == "multipart/form-data" else limit
    if media_type == "application/json":
        room = limit * 4 // 3 + WRAPPING  # attachments come as base64
    length = request.headers.get("content-length", "")
    declared = int(length) if length.isascii() and length.isdigit() else None
    if declared is not None and declared > room:
        raise _too_large(limit)
    sent = _Sent(media_type, content_type, declared, limit)
    body = _body(request, room, limit)
    first = bytearray()
    taking: _Taking | None = None
    _UNDER_WAY.begin()
    try:
        # Never on the event loop: signing in, writing, and the read, which
        # waits for a reader process (reader_pool); one user's message must not
        # hold up anyone else's request. Most messages come whole in their
        # first batch, and one thread does it all. A larger one is written as
        # it comes, to its sender's folder once they are known, within their quota.
        # JSON is parsed whole: it comes as one batch (at most its room).
        batches = _batches(body, None if media_type == "application/json" else BATCH)
        first, whole = await anext(batches)
        if whole:
            answer, expires_at = await run_in_threadpool(_read_whole, service, token, sent, first)
        else:
            taking = await run_in_threadpool(_begin, service, token, sent, first)
            async for batch, _ in batches:
                if batch:
                    await _off_the_loop(taking.write, batch)
            answer, expires_at = await run_in_threadpool(_read_rest, taking)
    except _HungUp as hung_up:
        # The client is gone and reads no answer: one line says so (not the
        # two tracebacks of an unhandled disconnect), and the answer below
        # only ends the request quietly.
        if taking is not None:
            with anyio.CancelScope(shield=True):
                await _off_the_loop(taking.arrival.discard)
        log.warning(
            "a client hung up after sending %d of %s bytes of a message; nothing of it is kept",
            hung_up.received,
            "an undeclared number of" if declared is None else declared,
        )
        raise BadRequest("the message was cut off: the client hung up before its end") from None
    finally:
        with anyio.CancelScope(shield=True):
            if taking is not None and not taking.arrival.settled:
                await _off_the_loop(taking.arrival.discard)
            size = taking.arrival.size if taking is not None else len(first)
            if _UNDER_WAY.end(size) and _MALLOC_TRIM is not None:
                await _off_the_loop(_MALLOC_TRIM, 0)
    request.state.expires_at = expires_at
    return answer


def _read_whole(
    service: Service, token: str, sent: _Sent, body: bytearray
) -> tuple[MessagePublic, datetime | None]:
    taking = _taking(service, token, sent)
    try:
        taking.write(body)
        return _review(taking)
    finally:
        taking.arrival.discard()  # nothing once kept


def _begin(service: Service, token: str, sent: _Sent, first: bytearray) -> _Taking:
    taking = _taking(service, token, sent)
    try:
        taking.write(first)
    except BaseException:
        taking.arrival.discard()
        raise
    return taking


def _read_rest(taking: _Taking) -> tuple[MessagePublic, datetime | None]:
    return _review(taking, sign_in_again=True)  # signed out while it came: refused


def _taking(service: Service, token: str, sent: _Sent) -> _Taking:
    """Where the caller's message goes (``Service.reading``)."""
    reading = service.reading(token, sent.declared)
    try:
        return _Taking(reading, sent)
    except BaseException:
        reading.discard()
        raise


def _review(taking: _Taking, sign_in_again: bool = False) -> tuple[MessagePublic, datetime | None]:
    mode, missing, form = taking.finish()
    review = taking.reading.review(mode, missing, form, sign_in_again=sign_in_again)
    context = taking.reading.context
    return public(review, context), context.expires_at


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


@router.post("/{ref}/preview", response_model=PreviewPublic)
def preview_save(
    ref: str, body: PreviewRequest, caller: Caller, service: ServiceDep
) -> PreviewPublic:
    """What saving would do now with these choices (writes nothing): every contact and file
    with why, and whether Save may be pressed, with why not. The pane asks at each change."""
    seen = service.preview(caller, ref, _choices(body.kind, body))
    return PreviewPublic(
        kind=body.kind,
        participants=participants_public(seen.outcome, caller.tenant.options),
        attachments=[attachment_public(f, seen.message) for f in seen.files],
        notes=[sentence(n) for n in seen.outcome.notes],
        save=_verdict(seen.refusal),
        saves=verdicts(seen.refusals),
    )


def _verdict(refusal: str | None) -> SaveVerdict:
    return SaveVerdict(allowed=refusal is None, reason=sentence(refusal or ""))


def verdicts(refusals: Mapping[Kind, str | None]) -> SaveVerdicts:
    """Whether each Save button may be pressed now, and why not."""
    return SaveVerdicts(
        interaction=_verdict(refusals["interaction"]), activity=_verdict(refusals["activity"])
    )


@router.post("/{ref}/activities", response_model=SaveResponse)
def save_activities(
    ref: str, body: SaveRequest, token: Token, service: ServiceDep, request: Request
) -> SaveResponse:
    """Write one Activity per kept contact, with the activity type and fields chosen."""
    return _save("activity", ref, body, token, service, request)


# -- receiving ------------------------------------------------------------------------------


# What the event loop gathers of a message before a writer thread hashes and
# writes it: few hops (20 for a 5 MB message), and 200 uploads at once hold
# no more than 50 MB between them.
BATCH = 256 * 1024

# Arriving messages are written and hashed in threads of their own: in the
# shared thread pool they would wait behind reads, which hold its threads
# while a reader process works; disks gain nothing from more than a few.
_WRITERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mailfiler-upload")

# Uploads read from the network at one time in a server process, and how long
# one keeps its turn waiting for its sender (see _in_turn).
STREAMING = 8
PATIENCE = 0.05
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)

# glibc keeps what a thread frees in that thread's arena (there are up to 8 a
# core) for its next allocations, not for the system: after 200 uploads at
# once the process held 300 MB above its resting size that it no longer used,
# for good. When the last upload under way in the process ends, and at least
# GIVE_BACK_AFTER bytes came since the last time, malloc_trim gives the free
# pages back (0.1-8 ms, off the event loop; 110 MB above resting was left,
# bench/upload_burst.py). Small messages alone never call it: it would cost
# each of them more than it gives back. None where the C library is not glibc.
_MALLOC_TRIM: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
GIVE_BACK_AFTER = 16 * 2**20


class _UnderWay:
    """The uploads this process is receiving or reading (its threads share the count), and
    the bytes received since memory was last given back."""

    def __init__(self) -> None:
        self._count = 0
        self._since = 0
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self._count += 1

    def end(self, size: int) -> bool:
        """One fewer, of ``size`` bytes; whether to give memory back now."""
        with self._lock:
            self._count -= 1
            self._since += size
            if self._count or self._since < GIVE_BACK_AFTER:
                return False
            self._since = 0
            return True


_UNDER_WAY = _UnderWay()

# A form of ours has one file and no more fields than this beside it.
FORM_FIELDS = 5


class _HungUp(Exception):
    """The client closed the connection before the whole message came."""

    def __init__(self, received: int) -> None:
        super().__init__(received)
        self.received = received


@dataclass(frozen=True)
class _Sent:
    """What a request says of the message in its body."""

    # message/rfc822, application/vnd.ms-outlook, multipart/form-data, application/json
    media_type: str
    content_type: str
    declared: int | None  # Content-Length
    limit: int


class _Taking:
    """What becomes of a body's bytes, by its media type: a message (raw, or the file of a form) is
    written as it comes; JSON is held, checked at the end, and kept as the fields it gives."""

    def __init__(self, reading: Reading, sent: _Sent) -> None:
        self.reading = reading
        self.arrival = arrival = reading.arrival
        self.sent = sent
        self._form = None
        if sent.media_type == "multipart/form-data":
            self._form = _FormFile(sent.content_type, arrival)
        self._json = bytearray() if sent.media_type == "application/json" else None

    def write(self, batch: bytearray) -> None:
        if self._json is not None:  # one batch, the whole body (read_message): held, not copied
            self._json = self._json + batch if self._json else batch
        elif self._form is not None:
            self._form.write(batch)
        else:  # message/rfc822, an Outlook .msg, or bytes to try
            self.arrival.write(batch)

    def finish(self) -> tuple[str, bool, str]:
        """The mode, whether the message's attachments could not be had, and what was kept
        (``uploads.FORMS``)."""
        if self._json is not None:
            return _fields(self._json, self.arrival)
        if self._form is not None:
            self._form.finish()
            if self.arrival.size > self.sent.limit:
                raise _too_large(self.sent.limit)
        return "read", False, "message"


async def _batches(
    body: AsyncIterator[bytes], size: int | None
) -> AsyncIterator[tuple[bytearray, bool]]:
    """The body in batches of ``size`` bytes or a little more (None: all of it in one), each
    with whether it is the last."""
    batch = bytearray()
    async for chunk in body:
        batch += chunk
        if size is not None and len(batch) >= size:
            yield batch, False
            batch = bytearray()
    yield batch, True


async def _body(request: Request, room: int, limit: int) -> AsyncIterator[bytes]:
    """The request's body as it comes; ``TooLarge`` past ``room``, ``_HungUp`` if cut off."""
    received = 0
    while True:
        message = await _in_turn(request.receive)
        if message["type"] == "http.disconnect":
            raise _HungUp(received)
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > room:
            raise _too_large(limit)
        yield chunk
        if not message.get("more_body", False):
            return


async def _in_turn(receive: Receive) -> ASGIMessage:
    """``receive``, taking turns with the other uploads of this process.

    The event loop reads every connection that has data at each turn it
    makes: with 200 uploads sending at once it spent tens of milliseconds a
    turn on them, and /healthz waited 100-400 ms behind (bench/upload_burst.py).
    Only ``STREAMING`` uploads are read at a time; the others wait, their
    connections paused, and the whole burst is read no slower. A sender that
    keeps its turn ``PATIENCE`` seconds without sending anything gives it up
    and waits outside: it adds little work to a turn, and a few slow or
    stalled senders never hold up everyone else's uploads.
    """
    loop = asyncio.get_running_loop()
    turns = _TURNS.get(loop)
    if turns is None:  # one for each event loop (a test runs several)
        turns = _TURNS[loop] = asyncio.Semaphore(STREAMING)
    async with turns:
        with suppress(TimeoutError):
            async with asyncio.timeout(PATIENCE):
                return await receive()
    # Cancelling uvicorn's receive loses nothing: what comes is kept for the next call.
    return await receive()


async def _off_the_loop(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a writer thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WRITERS, functools.partial(work, *args))


def _fields(body: bytearray, arrival: uploads.Arrival) -> tuple[str, bool, str]:
    """A message given by its fields (JSON): checked, and kept as checked (no .eml is written
    for it: the service reads it as a message directly, ``core.fields``)."""
    try:
        composed = ComposedMessage.model_validate_json(body)
    except ValidationError as error:  # answered as FastAPI answers a body it checked
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from error
    fields = composed.model_dump(mode="json", by_alias=True)
    message_from_fields(fields)  # what cannot be a message is refused now, not at its review
    arrival.write(bytearray(json.dumps(fields, ensure_ascii=False).encode()))
    return composed.mode, composed.attachments_unavailable, "fields"


class _FormFile:
    """The field ``file`` of an upload form (the drop page's), written to ``arrival`` as the
    form is parsed: a part's bytes are never spooled elsewhere first."""

    def __init__(self, content_type: str, arrival: uploads.Arrival) -> None:
        boundary = parse_options_header(content_type)[1].get(b"boundary")
        if not boundary:
            raise BadRequest("the upload's form has no boundary")
        self.arrival = arrival
        self._parser = MultipartParser(
            boundary,
            {
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )
        self._name, self._value, self._disposition = b"", b"", b""
        self._in_file = self._found = self._ended = False
        self._fields = 0

    def write(self, data: bytearray) -> None:
        try:
            self._parser.write(bytes(data))
        except FormParserError as error:
            raise BadRequest(f"the upload's form cannot be read: {error}") from error

    def finish(self) -> None:
        if not self._ended:
            raise BadRequest("the upload's form ends before its closing boundary")
        if not self._found:
            raise BadRequest("the upload needs a file field named 'file'")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._disposition = b""
        if options.get(b"name") == b"file" and b"filename" in options:
            if self._found:
                raise BadRequest("the upload's form holds more than one file: send one at a time")
            self._in_file = self._found = True
        else:
            self._fields += 1
            if self._fields > FORM_FIELDS:
                raise BadRequest(f"the upload's form has more than {FORM_FIELDS} fields")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.arrival.write(memoryview(data)[start:end])

    def _part_end(self) -> None:
        self._in_file = False

    def _end(self) -> None:
        self._ended = True


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"the message is larger than the limit of {size_in_words(limit)}")


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
        **said(outcome.status),
        reason=sentence(outcome.reason),
        inline=inline,
        chosen_out=outcome.chosen_out,
    )


def participants_public(outcome: SavePlan, options: Options) -> list[ParticipantPublic]:
    return [
        ParticipantPublic(
            role=p.line,
            address=p.address,
            name=p.name,
            status=p.status,
            **said(p.status, outcome.kind),
            self=p.is_self,
            reason=sentence(p.reason),
            contacts=[contact_public(c, options) for c in p.contacts],
            contact_id=p.contact_id,
            listed=listed(p.line, p.is_self),
            filed=p.status in FILED_STATUSES,
        )
        for p in outcome.participants
    ]


def public(review: Review, caller: Caller) -> MessagePublic:
    message = review.message
    options = caller.tenant.options
    sender = message.sender[0] if message.sender else None
    return MessagePublic(
        message_ref=review.ref,
        kind=review.outcome.kind,
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
                        takes=f.takes,
                        max_length=f.max_length,
                    )
                    for f in t.fields
                ],
            )
            for t, values in review.activity_types
        ],
        notes=[sentence(n) for n in review.outcome.notes],
        saves=verdicts(review.refusals),
        crm=caller.crm.capabilities.crm,
        new_contact_note=sentence(caller.crm.capabilities.new_contact_note) or None,
    )


def _choices(kind: Kind, body: SaveRequest) -> Choices:
    """The user's choices, as the save and its preview both take them."""
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
    return Choices(
        kind=kind,
        contact_ids=kept,
        picks=picks,
        eml=body.eml,
        keep_attachments=files,
        activity_type=body.activity.type if body.activity else None,
        fields=body.activity.fields if body.activity else {},
    )


def _save(
    kind: Kind, ref: str, body: SaveRequest, token: str, service: Service, request: Request
) -> SaveResponse:
    choices = _choices(kind, body)
    picks = dict(choices.picks)
    # The service opens (and, after a lost race, reopens) the unit of work itself.
    done = service.save(token, ref, choices)
    request.state.expires_at = done.expires_at
    outcome, message = done.outcome, done.message
    wanted = body.contact_ids
    if wanted is None:
        wanted = [p.contact_id for p in outcome.participants if p.contact_id]
    wanted = [*wanted, *picks.values()]
    results = results_by_contact(outcome, wanted)
    lines_not_filed = [
        p for p in outcome.participants
        if listed(p.line, p.is_self) and p.status not in FILED_STATUSES
    ]  # fmt: skip
    return SaveResponse(
        kind=kind,
        summary=save_summary([r.status for r in results], len(lines_not_filed)),
        results=[
            SaveResult(
                contact_id=r.contact_id,
                status=r.status,
                filed=r.status in FILED_STATUSES,
                **said(r.status, kind),
                record_id=r.record_id,
                reason=sentence(r.reason),
            )
            for r in results
        ],
        attachments=[attachment_public(f, message) for f in outcome.files],
        eml=attachment_public(outcome.eml, message) if outcome.eml else None,
        attachments_note=MISSING_NOTE if done.attachments_missing else None,
        participants=participants_public(outcome, done.options or Options()),
    )
