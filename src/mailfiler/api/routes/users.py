"""Users of the organisation: listed, added, disabled and given roles by its admins."""

from __future__ import annotations

from fastapi import APIRouter

from mailfiler import accounts
from mailfiler.accounts import signin
from mailfiler.api.deps import Admin, ServiceDep
from mailfiler.api.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


def public(row: accounts.UserRow) -> UserPublic:
    return public_member(accounts.member(row))


def public_member(user: accounts.Member) -> UserPublic:
    return UserPublic(
        username=user.username, email=user.email, roles=list(user.roles), disabled=user.disabled
    )


@router.get("", response_model=list[UserPublic])
def list_users(caller: Admin) -> list[UserPublic]:
    return [public(u) for u in accounts.users(caller.session, caller.tenant)]


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
def change_user(username: str, body: UserUpdate, caller: Admin) -> UserPublic:
    """Disabling a user, or changing their password, ends their sign-ins at once."""
    user = accounts.user(caller.session, caller.tenant, username)
    if body.email is not None:
        user.email = body.email.strip()
    if body.roles is not None:
        accounts.set_roles(user, body.roles)
    if body.password is not None:
        accounts.set_password(user, body.password)
        signin.sign_out_everywhere(caller.session, user)
    if body.disabled is not None:
        accounts.set_disabled(user, body.disabled)
        if body.disabled:
            signin.sign_out_everywhere(caller.session, user)
    return public(user)
