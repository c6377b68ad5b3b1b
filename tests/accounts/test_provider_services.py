"""Provider sign-in services without HTTP: what a sign-in links, creates, refuses and audits."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from app.accounts.models import StaffNumber
from app.accounts.providers import services as providers
from app.accounts.providers.models import ProviderIdentity
from app.accounts.providers.rules import ExternalIdentity
from app.audit.models import AuditEntry
from app.errors import Conflict, DomainError
from tests.factories import make_org, make_user

NOW = datetime(2027, 3, 1, 8, 0)


def person(**kw) -> ExternalIdentity:
    values = {"provider": "ldap", "subject": "uuid-1", "display": "li.na", "email": "li.na@hospital.test",
              "email_verified": True, "name": "李娜"}
    return ExternalIdentity(**{**values, **kw})


def sign_in(identity, **kw):
    options = {"now": NOW, "match_by_email": True, "may_create": True, "default_organisation": None}
    return providers.sign_in(identity, **{**options, **kw})


def audit(db) -> list[tuple[str, dict]]:
    return [(e.action, e.detail) for e in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]


def test_a_created_account_gets_the_default_organisation_and_a_free_staff_number(db):
    default = make_org("Default Hospital")
    taken = make_user("other@hospital.test", organisation_id=default.id)
    db.session.add(StaffNumber(user_id=taken.id, organisation_id=default.id, number="H1"))
    db.session.flush()
    result = sign_in(person(organisation="Unknown Org", staff_number="H1", department="ICU", roles=frozenset(
        {"leader"})), default_organisation="Default Hospital")
    user = result.user
    assert user.organisation_id == default.id and user.department == "ICU"
    assert user.roles == {"member", "leader"} and user.last_login_at == NOW
    assert db.session.get(StaffNumber, user.id) is None  # H1 belongs to someone else there
    assert [a for a, _d in audit(db)][-2:] == ["provider_account_created", "provider_roles_added"]


def test_the_stable_id_wins_over_a_changed_address(db):
    first = sign_in(person()).user
    again = sign_in(person(email="new.address@hospital.test")).user
    assert again.id == first.id


def test_a_refusal_is_returned_and_audited_not_raised(db):
    result = sign_in(person(), may_create=False)
    assert result.user is None and result.refusal == "no_account"
    action, detail = audit(db)[-1]
    assert action == "provider_sign_in_refused" and detail["reason"] == "no_account"


def test_a_person_without_address_is_not_created(db):
    assert sign_in(person(email=None)).refusal == "missing_email"


def test_linking_by_hand_refuses_duplicates_and_bad_input(db):
    coordinator = make_user("c@hospital.test", roles=["coordinator"])
    one, two = make_user("a@hospital.test"), make_user("b@hospital.test")
    link = providers.link_identity(coordinator, one, "oidc", " sub-1 ")
    assert link.subject == "sub-1"
    with pytest.raises(Conflict):
        providers.link_identity(coordinator, two, "oidc", "sub-1")
    with pytest.raises(DomainError):
        providers.link_identity(coordinator, two, "cas", "sub-2")
    with pytest.raises(DomainError):
        providers.link_identity(coordinator, two, "ldap", "  ")
    assert sign_in(person(provider="oidc", subject="sub-1", email="x@y.test")).user.id == one.id
    providers.unlink_identity(coordinator, link)
    assert db.session.scalar(sa.select(ProviderIdentity)) is None
    assert [a for a, _d in audit(db)].count("provider_identity_unlinked") == 1
