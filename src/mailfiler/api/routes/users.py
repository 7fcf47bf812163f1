"""Users of the organisation: listed, added, disabled and given roles by its admins."""

from __future__ import annotations

from fastapi import APIRouter

from mailfiler.api.deps import Admin, ServiceDep
from mailfiler.api.schemas import UserCreate, UserPublic, UserUpdate
from mailfiler.service.organisations import UserChange

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(caller: Admin, service: ServiceDep) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in service.users(caller)]


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
    return UserPublic.model_validate(user)


@router.patch("/{username}", response_model=UserPublic)
def change_user(username: str, body: UserUpdate, caller: Admin, service: ServiceDep) -> UserPublic:
    """Disabling a user, or changing their password, ends their sign-ins at once."""
    change = UserChange(body.email, body.roles, body.password, body.disabled)
    return UserPublic.model_validate(service.change_user(caller, username, change))
