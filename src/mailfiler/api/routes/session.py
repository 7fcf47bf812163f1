"""POST /session signs in; DELETE signs out; GET says who is signed in."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mailfiler.api.deps import Caller, ServiceDep, Token
from mailfiler.api.schemas import SessionCreate, SessionPublic, UserPublic

router = APIRouter(prefix="/session", tags=["sign-in"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("", response_model=SessionPublic, status_code=201)
def sign_in(body: SessionCreate, request: Request, service: ServiceDep) -> SessionPublic:
    """Sign in with a Cloud ID, user name and password: a bearer token valid 24 hours."""
    done = service.sign_in(body.cloud_id, body.username, body.password, _client(request))
    return SessionPublic(
        token=done.token,
        expires_at=done.expires_at,
        cloud_id=done.organisation.cloud_id,
        organisation=done.organisation.name,
        user=UserPublic.model_validate(done.user),
    )


@router.get("", response_model=SessionPublic)
def who_am_i(caller: Caller, token: Token) -> SessionPublic:
    """The signed-in user (this renews the token, like every call)."""
    user = caller.signed_in_user
    assert caller.expires_at is not None
    return SessionPublic(
        token=token,
        expires_at=caller.expires_at,
        cloud_id=caller.tenant.cloud_id,
        organisation=caller.tenant.name,
        user=UserPublic.model_validate(user),
    )


@router.delete("", status_code=204)
def sign_out(service: ServiceDep, token: Token) -> Response:
    service.sign_out(token)
    return Response(status_code=204)
