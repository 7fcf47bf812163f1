"""Organisations, users and options in storage (both databases)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailfiler import accounts
from mailfiler.core.options import ActivityField, ActivityType, Options
from mailfiler.errors import BadRequest, Conflict, UnknownOrganisation, UnknownUser
from mailfiler.service import Service
from tests.conftest import new_org


def test_cloud_ids_are_unique_whatever_their_case(service: Service) -> None:
    org = new_org(service, with_contacts=False)
    with pytest.raises(Conflict), service.unit() as session:
        accounts.create_organisation(session, org.cloud_id.lower(), "Again", "MANAGER")
    with pytest.raises(UnknownOrganisation), service.unit() as session:
        accounts.tenant(session, "NO-SUCH-ORG")
    with pytest.raises(BadRequest), service.unit() as session:
        accounts.create_organisation(session, "bad id!", "x", "MANAGER")


def test_passwords_are_argon2_hashes_and_changes_are_stamped(service: Service) -> None:
    org = new_org(service, with_contacts=False)
    with service.unit() as session:
        tenant = accounts.tenant(session, org.cloud_id)
        user = accounts.user(session, tenant, "JDOE")
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        assert "jdoe-password" not in user.password_hash
        assert accounts.check_password(user, "jdoe-password")
        assert not accounts.check_password(user, "wrong")
        before = user.credentials_changed_at
        accounts.set_password(user, "a new password")
        assert accounts.check_password(user, "a new password")
        assert user.credentials_changed_at > before
        with pytest.raises(BadRequest):
            accounts.set_password(user, "short")
        with pytest.raises(Conflict):
            accounts.add_user(session, tenant, "Jdoe")
        with pytest.raises(UnknownUser):
            accounts.user(session, tenant, "nobody")


def test_options_and_activity_types_are_stored_and_read_back(service: Service) -> None:
    org = new_org(service, with_contacts=False)
    meeting = ActivityType(
        code="BOARD",
        name="Meeting notes",
        fields=(ActivityField("DESCRIPTION", "Description"), ActivityField("UF_1", "Room")),
        defaults={"UF_1": "Board room"},
        mapping={"subject": "DESCRIPTION"},
        roles=("Membership",),
    )
    with service.unit() as session:
        tenant = accounts.tenant(session, org.cloud_id)
        wanted = replace(
            tenant.options,
            edition="professional",
            max_total_emails=5,
            activity_types=(*tenant.options.activity_types, meeting),
            default_activity_type="BOARD",
        )
        accounts.set_options(session, org.cloud_id, wanted)
    with service.unit() as session:
        stored = accounts.tenant(session, org.cloud_id).options
    assert stored == wanted
    with pytest.raises(BadRequest), service.unit() as session:
        accounts.set_options(session, org.cloud_id, replace(stored, max_total_emails=0))
    with service.unit() as session:
        assert accounts.tenant(session, org.cloud_id).options.max_total_emails == 5
    assert Options().edition == "enterprise"
