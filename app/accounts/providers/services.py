"""What a sign-in through a provider does to accounts: use the linked one, link one by verified e-mail address,
create one (when the programme allows), or refuse — each link, creation and refusal audited. Flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts import services as accounts
from app.accounts.models import RoleAssignment, StaffNumber, User
from app.accounts.providers import rules
from app.accounts.providers.models import PROVIDERS, ProviderIdentity
from app.accounts.providers.rules import ExternalIdentity
from app.audit.services import record_action
from app.errors import Conflict, DomainError
from app.extensions import db
from app.programme.models import Organisation


@dataclass
class SignIn:
    """The outcome of a provider sign-in: the user to log in, or the reason code of a refusal."""

    user: User | None = None
    refusal: str | None = None


def refusal_message(reason: str) -> str:
    """The sign-in page's words for a refusal (the reader's language); the code itself goes to the audit log."""
    if reason == "inactive":
        return _("This account has been deactivated. Ask a coordinator if you think this is a mistake.")
    if reason == "email_unverified":
        return _("Your sign-in provider has not verified your e-mail address, so it cannot be linked to your "
                 "account here. Ask a coordinator to link it.")
    if reason == "missing_email":
        return _("Your sign-in provider gave no e-mail address, so no account can be made for you. "
                 "Ask a coordinator.")
    return _("You have no account here yet. Ask a coordinator to invite you or to link your sign-in.")


def _organisation(name: str | None, default: str | None) -> Organisation | None:
    for candidate in (name, default):
        if candidate:
            org = db.session.scalar(sa.select(Organisation).where(Organisation.name == candidate.strip()))
            if org is not None:
                return org
    return None


def _apply_staff_number(user: User, number: str | None) -> None:
    """Record the directory's staff number when the person has an organisation and the number is free there."""
    if not number or user.organisation_id is None:
        return
    number = number[:40]
    taken = db.session.scalar(sa.select(StaffNumber).where(StaffNumber.organisation_id == user.organisation_id,
                                                           StaffNumber.number == number))
    if taken is not None:
        return
    entry = db.session.get(StaffNumber, user.id)
    if entry is None:
        db.session.add(StaffNumber(user_id=user.id, organisation_id=user.organisation_id, number=number))
    else:
        entry.organisation_id, entry.number = user.organisation_id, number


def _add_roles(user: User, roles: frozenset[str]) -> list[str]:
    added = sorted(r for r in roles if r in rules.MAPPABLE_ROLES and not user.has_role(r))
    for role in added:
        user.role_assignments.append(RoleAssignment(role=role))
    return added


def _refuse(identity: ExternalIdentity, reason: str, user: User | None = None) -> SignIn:
    record_action(None, "provider_sign_in_refused", user, provider=identity.provider, subject=identity.subject,
                  display=identity.display, reason=reason)
    return SignIn(refusal=reason)


def sign_in(identity: ExternalIdentity, *, now: datetime, match_by_email: bool, may_create: bool,
            default_organisation: str | None = None) -> SignIn:
    """Find, link or create the account for a person the provider vouches for, or refuse (audited either way).

    A refusal is returned, not raised, so that its audit entry is saved with the request's one commit.
    """
    link = db.session.scalar(sa.select(ProviderIdentity).where(ProviderIdentity.provider == identity.provider,
                                                               ProviderIdentity.subject == identity.subject))
    by_email = accounts.find_user_by_email(identity.email) if (identity.email and link is None) else None
    decision = rules.decide_sign_in(
        linked_active=None if link is None else link.user.active,
        email_match_active=None if by_email is None else by_email.active,
        email_verified=identity.email_verified, has_email=bool(identity.email and "@" in identity.email),
        match_by_email=match_by_email, may_create=may_create,
    )
    if decision.action == "refuse":
        return _refuse(identity, decision.reason, link.user if link is not None else by_email)
    if decision.action == "use":
        user = link.user
    elif decision.action == "link":
        user = by_email
        link = ProviderIdentity(user=user, provider=identity.provider, subject=identity.subject,
                                display=identity.display[:254])
        db.session.add(link)
        db.session.flush()
        record_action(None, "provider_identity_linked", user, provider=identity.provider,
                      subject=identity.subject, display=identity.display, matched_by="email")
    else:
        org = _organisation(identity.organisation, default_organisation)
        try:
            user = accounts.create_user(None, email=identity.email, name=identity.name or "",
                                        roles=["member"], department=(identity.department or "")[:120] or None,
                                        organisation_id=org.id if org else None)
        except Conflict:  # the same address created by another sign-in at this very moment
            return _refuse(identity, "no_account")
        link = ProviderIdentity(user=user, provider=identity.provider, subject=identity.subject,
                                display=identity.display[:254])
        db.session.add(link)
        db.session.flush()
        _apply_staff_number(user, identity.staff_number)
        record_action(None, "provider_account_created", user, provider=identity.provider,
                      subject=identity.subject, display=identity.display,
                      organisation=org.name if org else None)
    added = _add_roles(user, identity.roles)
    if added:
        record_action(None, "provider_roles_added", user, provider=identity.provider, roles=added)
    link.last_login_at = now
    user.last_login_at = now
    db.session.flush()
    return SignIn(user=user)


def identities_of(user: User) -> list[ProviderIdentity]:
    """The provider identities linked to `user`, oldest first."""
    return list(db.session.scalars(sa.select(ProviderIdentity).where(ProviderIdentity.user_id == user.id)
                                   .order_by(ProviderIdentity.id)))


def link_identity(actor: User, user: User, provider: str, subject: str) -> ProviderIdentity:
    """A coordinator links a provider identity (its stable id) to a person.

    Raises DomainError for an unknown provider or an empty id, Conflict when the identity is linked already.
    """
    subject = (subject or "").strip()
    if provider not in PROVIDERS:
        raise DomainError(_("Unknown sign-in method."), field="provider")
    if not subject or len(subject) > 255:
        raise DomainError(_("Enter the id the sign-in provider gives this person."), field="subject")
    existing = db.session.scalar(sa.select(ProviderIdentity).where(ProviderIdentity.provider == provider,
                                                                   ProviderIdentity.subject == subject))
    if existing is not None:
        raise Conflict(_("This sign-in is already linked to %(name)s.", name=existing.user.name), field="subject")
    link = ProviderIdentity(user=user, provider=provider, subject=subject, display=subject[:254])
    db.session.add(link)
    db.session.flush()
    record_action(actor, "provider_identity_linked", user, provider=provider, subject=subject, matched_by="coordinator")
    return link


def unlink_identity(actor: User, link: ProviderIdentity) -> None:
    """A coordinator removes a provider identity from a person (their next sign-in there matches afresh)."""
    user = link.user
    record_action(actor, "provider_identity_unlinked", user, provider=link.provider, subject=link.subject)
    db.session.delete(link)
    db.session.flush()
