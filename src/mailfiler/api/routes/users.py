"""Users of the organisation: listed, added, disabled and given roles by its admins."""

from __future__ import annotations

from fastapi import APIRouter

from mailfiler.api.deps import Admin, ServiceDep
from mailfiler.api.schemas import UserCreate, UserPublic, UserUpdate
from mailfiler.service import Member
from mailfiler.service.organisations import UserChange

router = APIRouter(prefix="/users", tags=["users"])


def public_member(user: Member) -> UserPublic:
    return UserPublic(
        username=user.username, email=user.email, roles=list(user.roles), disabled=user.disabled
    )


@router.get("", response_model=list[UserPublic])
def list_users(caller: Admin, service: ServiceDep) -> list[UserPublic]:
    return [public_member(u) for u in service.users(caller)]


@router.post(
    "",
    response_model=UserPublic,
    status_code=201,
    responses={
        400: {"description": "The organisation's users sign in to its CRM: added there."},
        409: {"description": "A user of that name exists already."},
    },
)
def add_user(body: UserCreate, caller: Admin, service: ServiceDep) -> UserPublic:
    user = service.add_user(caller, body.username, body.email, body.roles, body.password)
    return public_member(user)


@router.patch("/{username}", response_model=UserPublic)
def change_user(username: str, body: UserUpdate, caller: Admin, service: ServiceDep) -> UserPublic:
    """Disabling a user, or changing their password, ends their sign-ins at once."""
    change = UserChange(body.email, body.roles, body.password, body.disabled)
    return public_member(service.change_user(caller, username, change))
