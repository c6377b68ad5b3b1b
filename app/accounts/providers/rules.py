"""Pure rules of signing in through a provider: reading role maps, mapping groups and claims to roles, and deciding
whether a sign-in links, creates or is refused. No Flask, no database."""

from __future__ import annotations

from dataclasses import dataclass, field

MAPPABLE_ROLES = ("leader", "member")  # coordinators are appointed on the person's page, never by a provider


@dataclass(frozen=True)
class ExternalIdentity:
    """What a provider says about the person who just proved who they are."""

    provider: str  # "ldap" or "oidc"
    subject: str  # the provider's stable id: entryUUID, objectGUID or the OIDC `sub`
    display: str  # what the person typed or the provider calls them (for the person's page)
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    staff_number: str | None = None
    department: str | None = None
    organisation: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)


def parse_role_map(text: str) -> dict[str, str]:
    """Read "key=role; key=role" (separated by ';' or new lines; the key may itself hold '=' as a DN does:
    the role is after the last '='). Keys compare case-insensitively; roles other than leader/member are dropped.

    >>> parse_role_map("cn=leaders,ou=groups,dc=h=leader; x=coordinator")
    {'cn=leaders,ou=groups,dc=h': 'leader'}
    """
    found: dict[str, str] = {}
    for part in text.replace("\n", ";").split(";"):
        key, sep, role = part.strip().rpartition("=")
        role = role.strip().lower()
        if sep and key.strip() and role in MAPPABLE_ROLES:
            found[_norm_key(key)] = role
    return found


def _norm_key(key: str) -> str:
    """DNs compare without case and without spaces after commas."""
    return ",".join(p.strip() for p in key.strip().lower().split(","))


def mapped_roles(values: list[str] | tuple[str, ...] | frozenset[str], role_map: dict[str, str]) -> frozenset[str]:
    """The roles that the person's groups (DNs) or role claims map to."""
    return frozenset(role_map[k] for k in (_norm_key(str(v)) for v in values) if k in role_map)


@dataclass(frozen=True)
class Decision:
    """What a sign-in does: `use` an account (already linked), `link` one (matched by e-mail), `create` one, or
    `refuse` with a reason code (inactive, no_account, email_unverified, missing_email)."""

    action: str
    reason: str | None = None


def decide_sign_in(*, linked_active: bool | None, email_match_active: bool | None, email_verified: bool,
                   has_email: bool, match_by_email: bool, may_create: bool) -> Decision:
    """Decide what a provider sign-in does.

    `linked_active` is None when no account is linked to the identity, else whether that account is active;
    `email_match_active` likewise for the account with the identity's e-mail address. The stable id wins over the
    address; an address links only when verified and matching is on; an account is created only when allowed
    and the identity has an address (every account here has one). A deactivated account is always refused.
    """
    if linked_active is not None:
        return Decision("use") if linked_active else Decision("refuse", "inactive")
    if email_match_active is not None and match_by_email:
        if not email_verified:
            return Decision("refuse", "email_unverified")
        return Decision("link") if email_match_active else Decision("refuse", "inactive")
    if email_match_active is not None:  # the address is taken but matching by address is off
        return Decision("refuse", "no_account")
    if not may_create:
        return Decision("refuse", "no_account")
    if not has_email:
        return Decision("refuse", "missing_email")
    return Decision("create")
