"""Contacts: search, add (the "add new contact" roles only), and one contact's timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mailfiler.api.deps import Caller, ServiceDep
from mailfiler.api.routes.records import to_check_public
from mailfiler.api.schemas import (
    ContactCreate,
    ContactDetail,
    ContactPublic,
    MissingFilePublic,
    StoredFilePublic,
    TimelineItem,
    TimelinePage,
)
from mailfiler.core.match import Contact
from mailfiler.core.options import Options
from mailfiler.service import StoredRecord

router = APIRouter(prefix="/contacts", tags=["contacts"])


def public(contact: Contact, options: Options) -> ContactPublic:
    return ContactPublic(
        id=contact.id,
        full_name=contact.full_name,
        organization=contact.organization,
        emails=list(contact.emails),
        profile_url=options.profile_link(contact.id),
    )


def timeline_item(record: StoredRecord, crm: str, options: Options | None = None) -> TimelineItem:
    """``crm``: the CRM's name as people read it."""
    return TimelineItem(
        link=record.link,
        crm=crm,
        shown_here=record.shown_here,
        sender=record.sender,
        recipients=record.recipients,
        sent_at=record.sent_at,
        field_labels=_labels(record, options),
        status=record.status,
        missing_files=[MissingFilePublic(name=n, reason=r) for n, r in record.missing_files],
        kind=record.kind,
        id=record.id,
        subject=record.subject,
        to_line=record.to_line,
        body=record.body,
        activity_type=record.activity_type,
        fields=dict(record.fields),
        created_by=record.created_by,
        saved_by=record.saved_by,
        saved_at=record.saved_at,
        message_id=record.message_id,
        attachments=[
            StoredFilePublic(
                id=f.id,
                filename=f.filename,
                size=f.size,
                content_type=f.content_type,
                content_id=f.content_id,
                url=f"/api/v1/attachments/{f.id}",
            )
            for f in record.attachments
        ],
    )


def _labels(record: StoredRecord, options: Options | None) -> dict[str, str]:
    """The labels of an Activity's fields, from its type's set-up (the names when unknown)."""
    if record.kind != "activity" or options is None:
        return {}
    activity_type = next(
        (t for t in options.activity_types if t.code == record.activity_type), None
    )
    known = {f.name: f.label for f in activity_type.fields} if activity_type else {}
    return {name: known.get(name) or name for name in record.fields}


@router.get("", response_model=list[ContactPublic])
def search_contacts(
    caller: Caller,
    service: ServiceDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="A name or an address.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[ContactPublic]:
    options = caller.tenant.options
    return [public(c, options) for c in service.search_contacts(caller, q, limit)]


@router.post(
    "",
    response_model=ContactPublic,
    status_code=201,
    responses={409: {"description": "A contact with that ID exists already."}},
)
def add_contact(body: ContactCreate, caller: Caller, service: ServiceDep) -> ContactPublic:
    contact = service.add_contact(caller, body.full_name, body.emails, body.organization)
    return public(contact, caller.tenant.options)


@router.get("/{contact_id}", response_model=ContactDetail)
def contact_with_timeline(
    contact_id: str,
    caller: Caller,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    # A bound the database can count to (a BIGINT), far past any real timeline.
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
) -> ContactDetail:
    """A contact and its Interactions and Activities, newest first."""
    seen = service.contact_page(caller, contact_id, limit, offset)
    options = caller.tenant.options
    page = TimelinePage(
        items=[timeline_item(r, caller.crm.capabilities.crm, options) for r in seen.records],
        total=seen.total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if offset + limit < seen.total else None,
    )
    to_check = [to_check_public(e) for e in seen.to_check]
    return ContactDetail(
        **public(seen.contact, options).model_dump(), timeline=page, to_check=to_check
    )
