"""Downloading a stored attachment: always as a download, never rendered by the browser."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response

from mailfiler.api.deps import Caller, ServiceDep

router = APIRouter(prefix="/attachments", tags=["records"])


@router.get(
    "/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file."}},
)
def download(attachment_id: str, caller: Caller, service: ServiceDep) -> Response:
    stored, data = service.attachment(caller, attachment_id)
    ascii_name = stored.filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(
        content=data,
        media_type=stored.content_type,  # a valid type/subtype (connectors clean it)
        headers={
            # RFC 6266: a plain name for old clients, the exact UTF-8 name for the others.
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(stored.filename)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
        },
    )
