"""What routes depend on, as ``Annotated`` aliases: the service, the signed-in caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from mailfiler.core.options import may_change_options
from mailfiler.errors import Refused, Unauthenticated
from mailfiler.service import Context, Service

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "The token from POST /api/v1/session.",
}


# The dependencies that do no I/O are coroutines: FastAPI runs a plain
# function dependency in its thread pool, a thread hop per request.
async def get_service(request: Request) -> Service:
    return service_of(request)


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_token(request: Request) -> str:
    """The bearer token of the request.

    Read from the header here rather than through FastAPI's ``HTTPBearer``
    (one dependency fewer on every call: a quarter of a millisecond on a
    small machine); the OpenAPI description declares the scheme instead
    (``app.declare_bearer``).
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("sign in first: this needs a bearer token")
    return token.strip()


Token = Annotated[str, Depends(get_token)]


def signed_in(service: ServiceDep, token: Token, request: Request) -> Iterator[Context]:
    """One unit of work for the caller, committed before the answer is sent."""
    with service.signed_in(token) as context:
        request.state.expires_at = context.expires_at
        yield context


Caller = Annotated[Context, Depends(signed_in, scope="function")]


async def admin(caller: Caller) -> Context:
    """Callers holding one of the organisation's "change options" roles."""
    options = caller.tenant.options
    if not may_change_options(options, caller.filer.roles):
        roles = ", ".join(options.change_options_roles)
        raise Refused(f"this needs one of the roles {roles}")
    return caller


Admin = Annotated[Context, Depends(admin)]
