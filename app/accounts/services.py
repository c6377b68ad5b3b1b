"""Operations on accounts: passwords, invitations, resets, roles, training records. They flush, never commit."""

from __future__ import annotations

import threading
from datetime import date

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts import rules
from app.accounts.models import LEVELS, PROFESSIONS, ROLES, RoleAssignment, TrainingRecord, User
from app.audit.services import record_action
from app.errors import Conflict, DomainError
from app.extensions import db
from app.timeutil import utcnow

INVITE = "invite"
RESET = "reset"


# --- passwords -------------------------------------------------------------------------------

#: Password hashes computed at once in this process. Each holds ARGON2_MEMORY_COST KiB, and the C allocator
#: keeps what each thread once used: with one at a time, a worker's memory stays put whatever the log-in rush.
#: argon2 uses one core per lane, so with two workers both cores still hash.
_HASHING = threading.BoundedSemaphore(1)


class _OneAtATime:
    """argon2's PasswordHasher, computing one hash at a time per process."""

    def __init__(self, hasher: PasswordHasher):
        self._hasher = hasher

    def hash(self, password: str) -> str:
        with _HASHING:
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with _HASHING:
            return self._hasher.verify(password_hash, password)

    def check_needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def _hasher() -> _OneAtATime:
    cfg = current_app.config
    return _OneAtATime(PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    ))


def check_password_strength(password: str) -> None:
    """Raise DomainError when a new password is too weak to accept."""
    if len(password) < 10:
        raise DomainError(_("Use at least 10 characters."), field="password")
    if len(password) > 200:
        raise DomainError(_("Use at most 200 characters."), field="password")


def set_password(user: User, password: str) -> None:
    """Hash and store a new password and sign the user out of every other session."""
    check_password_strength(password)
    user.password_hash = _hasher().hash(password)
    user.session_version = (user.session_version or 0) + 1
    db.session.flush()


def verify_password(user: User, password: str) -> bool:
    """True when the password matches; rehashes when the hashing parameters have changed."""
    if not user.password_hash:
        return False
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (same answer for every failure)."""
    user = find_user_by_email(email)
    if user is None:
        _hasher().hash(password or "x")  # spend the same time as a real check
        return None
    if not verify_password(user, password) or not user.active:
        return None
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def load_user_from_session(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session version, so old sessions stop working."""
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or not user.active:
        return None
    return user


# --- one-time links --------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="balint-account-links")


def _fingerprint(user: User) -> str:
    # The link is bound to the current password hash: once used (or the password changes) it is void.
    import hashlib

    return hashlib.sha256((user.password_hash or "none").encode()).hexdigest()[:16]


def make_link_token(user: User, purpose: str) -> str:
    """A signed, expiring, one-time token for an invitation or a password reset."""
    return _serializer().dumps({"u": user.id, "p": purpose, "f": _fingerprint(user)})


def user_for_token(token: str, purpose: str) -> User:
    """The user a valid token names. Raises DomainError when it is expired, used or invalid."""
    max_age = current_app.config["INVITE_MAX_AGE" if purpose == INVITE else "RESET_MAX_AGE"]
    try:
        data = _serializer().loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise DomainError(_("This link has expired. Ask for a new one.")) from None
    except BadSignature:
        raise DomainError(_("This link is not valid.")) from None
    if not isinstance(data, dict) or data.get("p") != purpose:
        raise DomainError(_("This link is not valid."))
    user = db.session.get(User, data.get("u"))
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        raise DomainError(_("This link has already been used or is no longer valid."))
    return user


def use_link_token(token: str, purpose: str, password: str) -> User:
    """Set the password through an invitation or reset link. Raises DomainError."""
    user = user_for_token(token, purpose)
    set_password(user, password)
    record_action(user, "password_set_by_link" if purpose == INVITE else "password_reset", user)
    return user


# --- users and roles -------------------------------------------------------------------------

def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def _check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise DomainError(_("Unknown role: %(role)s", role=", ".join(unknown)), field="roles")
    return sorted(set(roles))


def create_user(
    actor: User | None,
    *,
    email: str,
    name: str,
    roles: list[str],
    password: str | None = None,
    profession: str | None = None,
    department: str | None = None,
    organisation_id: int | None = None,
    coordinator_org_id: int | None = None,
    locale: str | None = None,
) -> User:
    """Create a user with roles. Raises Conflict when the e-mail is taken (also by someone creating the same address
    at this very moment), DomainError on bad values."""
    email = normalise_email(email)
    if not email or "@" not in email:
        raise DomainError(_("Enter a valid e-mail address."), field="email")
    if find_user_by_email(email) is not None:
        raise Conflict(_("A user with this e-mail address already exists."), field="email")
    if profession and profession not in PROFESSIONS:
        raise DomainError(_("Unknown profession."), field="profession")
    user = User(
        email=email,
        name=(name or "").strip() or email.split("@")[0],
        profession=profession or None,
        department=department or None,
        organisation_id=organisation_id,
        locale=locale,
    )
    roles = _check_roles(roles)
    if password:
        set_password(user, password)
    try:
        with db.session.begin_nested():
            db.session.add(user)
            _apply_roles(user, roles, coordinator_org_id)
            db.session.flush()
    except sa.exc.IntegrityError:  # the same address saved by another request at this very moment
        raise Conflict(_("A user with this e-mail address already exists."), field="email") from None
    record_action(actor, "user_created", user, email=email, roles=sorted(user_roles(user)))
    return user


def user_roles(user: User) -> set[str]:
    return {a.role for a in user.role_assignments}


def _apply_roles(user: User, roles: list[str], coordinator_org_id: int | None) -> None:
    keep = {a.role: a for a in user.role_assignments}
    for role, assignment in keep.items():
        if role not in roles:
            user.role_assignments.remove(assignment)
    for role in roles:
        if role not in keep:
            user.role_assignments.append(RoleAssignment(role=role))
    for a in user.role_assignments:
        a.organisation_id = coordinator_org_id if a.role == "coordinator" else None


def set_roles(actor: User | None, user: User, roles: list[str], coordinator_org_id: int | None = None) -> None:
    """Make the user's roles exactly these. Raises DomainError for unknown roles or a lone coordinator.

    Removing the leader role is never refused for the meetings they lead: those become flagged.
    """
    roles = _check_roles(roles)
    if actor is not None and actor.id == user.id and "coordinator" not in roles:
        raise DomainError(_("You cannot remove your own coordinator role."), field="roles")
    before = sorted(user_roles(user))
    _apply_roles(user, roles, coordinator_org_id)
    db.session.flush()
    record_action(actor, "roles_set", user, before=before, after=roles, scope=coordinator_org_id)


def update_profile(actor: User | None, user: User, **fields) -> None:
    """Change name, profession, department, language, home organisation or the reminder e-mail switch."""
    allowed = {"name", "profession", "department", "locale", "organisation_id", "email_reminders"}
    changed = {}
    for key, value in fields.items():
        if key not in allowed:
            raise ValueError(key)
        if key == "profession" and value and value not in PROFESSIONS:
            raise DomainError(_("Unknown profession."), field="profession")
        # A switch stays a boolean (False is a choice, not "empty"); other empty values are stored as NULL.
        value = bool(value) if key == "email_reminders" else value or None
        if key == "name" and not value:
            raise DomainError(_("Enter a name."), field="name")
        if getattr(user, key) != value:
            changed[key] = [getattr(user, key), value]
            setattr(user, key, value)
    db.session.flush()
    if changed and actor is not None and actor.id != user.id:
        record_action(actor, "user_updated", user, **{k: v[1] for k, v in changed.items()})


def set_active(actor: User | None, user: User, active: bool) -> None:
    """Deactivate (signs out everywhere) or reactivate a user.

    Never refused for the meetings they lead: those become flagged (a lead who is not eligible).
    """
    if actor is not None and actor.id == user.id and not active:
        raise DomainError(_("You cannot deactivate yourself."))
    if user.active == active:
        return
    user.active = active
    if not active:
        user.session_version = (user.session_version or 0) + 1
    db.session.flush()
    record_action(actor, "user_activated" if active else "user_deactivated", user)


def change_password(user: User, current: str, new: str) -> None:
    """Change one's own password after checking the current one; other sessions end."""
    if not verify_password(user, current):
        raise DomainError(_("The current password is not correct."), field="current_password")
    set_password(user, new)
    record_action(user, "password_changed", user)


# --- training records ------------------------------------------------------------------------
#
# Changing, un-verifying or deleting a record (like removing the leader role or deactivating a person) is never
# refused for the meetings the person leads: the record is the truth. The meetings that then break an invariant
# are flagged where coordinators look (scheduling.services.flagged_meetings_of, the home page, the schedules).


def _check_note(note: str | None) -> None:
    """Coordinators read each other's notes on training records: no patient identifiers in them."""
    from app.meetings.services import check_deidentified  # meetings builds on accounts; imported when used

    check_deidentified(note, "note")

def add_training_record(
    actor: User,
    user: User,
    *,
    kind: str,
    level: str,
    issuer: str,
    completed_on: date,
    valid_until: date | None = None,
    verified: bool = False,
    note: str | None = None,
) -> TrainingRecord:
    """Add a training record; a coordinator may verify it at once. Raises DomainError on bad dates or a note
    holding patient identifiers."""
    if level not in LEVELS:
        raise DomainError(_("Unknown training level."), field="level")
    if valid_until is not None and valid_until < completed_on:
        raise DomainError(_("'Valid until' must not be before 'completed on'."), field="valid_until")
    _check_note(note)
    record = TrainingRecord(
        user=user, kind=kind.strip(), level=level, issuer=issuer.strip(), completed_on=completed_on,
        valid_until=valid_until, note=note or None,
    )
    db.session.add(record)
    if verified:
        _verify(actor, record)
    db.session.flush()
    record_action(actor, "training_added", user, record_id=record.id, level=level, verified=verified)
    return record


def _verify(actor: User, record: TrainingRecord) -> None:
    if not actor.has_role("coordinator"):
        raise DomainError(_("Only a coordinator can verify training."))
    record.verified_by = actor
    record.verified_at = utcnow()


def verify_training_record(actor: User, record: TrainingRecord) -> None:
    """Mark a record verified by this coordinator."""
    if record.verified:
        return
    _verify(actor, record)
    db.session.flush()
    record_action(actor, "training_verified", record.user, record_id=record.id)


def unverify_training_record(actor: User, record: TrainingRecord) -> None:
    """Withdraw a record's verification (it no longer counts for leading); the meetings it qualified are flagged.

    Raises DomainError unless the actor is a coordinator.
    """
    if not actor.has_role("coordinator"):
        raise DomainError(_("Only a coordinator can verify training."))
    if not record.verified:
        return
    record.verified_at = None
    record.verified_by = None
    db.session.flush()
    record_action(actor, "training_unverified", record.user, record_id=record.id)


def update_training_record(actor: User, record: TrainingRecord, **fields) -> None:
    """Edit a record; any change to a verified record withdraws the verification (meetings it qualified are
    flagged, not refused). Raises DomainError for bad dates or level, or a note holding patient identifiers."""
    completed_on = fields.get("completed_on", record.completed_on)
    valid_until = fields.get("valid_until", record.valid_until)
    if valid_until is not None and valid_until < completed_on:
        raise DomainError(_("'Valid until' must not be before 'completed on'."), field="valid_until")
    if fields.get("level", record.level) not in LEVELS:
        raise DomainError(_("Unknown training level."), field="level")
    if "note" in fields and fields["note"] != record.note:
        _check_note(fields["note"])
    changed = False
    for key, value in fields.items():
        if key not in {"kind", "level", "issuer", "completed_on", "valid_until", "note"}:
            raise ValueError(key)
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    if changed and record.verified:
        record.verified_at = None
        record.verified_by = None
    db.session.flush()
    if changed:
        record_action(actor, "training_updated", record.user, record_id=record.id)


def delete_training_record(actor: User, record: TrainingRecord) -> None:
    """Remove a record (e.g. entered by mistake); the meetings it qualified are flagged, not refused."""
    user = record.user
    db.session.delete(record)
    db.session.flush()
    record_action(actor, "training_deleted", user, record_id=record.id)


def problem_text(code: str) -> str:
    """A translated sentence for an eligibility problem code from accounts.rules."""
    texts = {
        rules.INACTIVE: _("The account is deactivated."),
        rules.NO_VERIFIED_TRAINING: _("No verified leader training is on record."),
        rules.LEVEL_TOO_LOW: _("The verified training is not of a level that qualifies for this role."),
        rules.TRAINING_NOT_YET_COMPLETED: _("The training is completed only after this date."),
        rules.TRAINING_EXPIRED: _("The training is no longer valid on this date."),
        rules.TRAINEE_NEEDS_QUALIFIED_LEAD: _(
            "A leader in training co-leads only beside a lead who is a leader or training leader."
        ),
        rules.MEMBER_OF_GROUP: _("A person never leads a group they are a member of."),
        rules.OVERLAPPING_MEETING: _("They are already assigned to a meeting at an overlapping time."),
    }
    return texts.get(code, code)


def eligible_leaders(on_date: date, as_role: str = rules.LEAD, group=None) -> list[User]:
    """Users who may lead (or co-lead) on the date; with a group, its current members are left out."""
    from app.programme.models import Membership
    from app.programme.queries import membership_on

    users = db.session.scalars(
        sa.select(User)
        .join(TrainingRecord, TrainingRecord.user_id == User.id)
        .where(User.active.is_(True), TrainingRecord.verified_at.is_not(None))
        .options(sa.orm.selectinload(User.training_records))
        .distinct()
        .order_by(User.name)
    ).all()
    member_ids: set[int] = set()
    if group is not None:
        member_ids = set(
            db.session.scalars(
                sa.select(Membership.user_id).where(Membership.group_id == group.id, membership_on(on_date))
            )
        )
    return [
        u for u in users
        if rules.is_eligible_leader(u, on_date, as_role, is_member_of_group=u.id in member_ids)
    ]


# --- coordinators' views of people -----------------------------------------------------------

def mark_invited(actor: User | None, user: User) -> None:
    """Record that an invitation e-mail has just been sent to the user."""
    user.invited_at = utcnow()
    db.session.flush()
    record_action(actor, "user_invited", user)


def _like(text: str) -> str:
    # Search for the text itself: % and _ typed by the coordinator are not wildcards.
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def people_query(
    *, scope_org_id: int | None = None, q: str | None = None, role: str | None = None, active: bool | None = None
) -> sa.Select:
    """A query of users for the coordinators' list, by name (roles and organisation load in bulk).

    `scope_org_id` limits it to one organisation's people; `q` searches name, e-mail and
    department; `role` and `active` filter when given.
    """
    query = sa.select(User).options(sa.orm.selectinload(User.organisation))
    if scope_org_id is not None:
        query = query.where(User.organisation_id == scope_org_id)
    if q:
        pattern = _like(q)
        query = query.where(
            sa.or_(
                User.name.ilike(pattern, escape="\\"),
                User.email.ilike(pattern, escape="\\"),
                User.department.ilike(pattern, escape="\\"),
            )
        )
    if role:
        query = query.where(User.role_assignments.any(RoleAssignment.role == role))
    if active is not None:
        query = query.where(User.active.is_(active))
    return query.order_by(sa.func.lower(User.name), User.id)


def groups_of(user: User) -> tuple[list, list]:
    """The user's memberships (newest first) and the group-leader places they hold, groups loaded."""
    from app.programme.models import Group, GroupLeader, Membership

    memberships = db.session.scalars(
        sa.select(Membership)
        .where(Membership.user_id == user.id)
        .options(sa.orm.selectinload(Membership.group).selectinload(Group.organisation))
        .order_by(Membership.joined_on.desc(), Membership.id.desc())
    ).all()
    led = db.session.scalars(
        sa.select(GroupLeader)
        .where(GroupLeader.user_id == user.id)
        .options(sa.orm.selectinload(GroupLeader.group).selectinload(Group.organisation))
        .order_by(GroupLeader.created_at)
    ).all()
    return list(memberships), list(led)


def eligibility_on(user: User, on_date: date) -> dict[str, list[str]]:
    """For lead and co-lead: the translated reasons the user may not take the role on the date (empty: may)."""
    return {
        as_role: [
            problem_text(code)
            for code in rules.eligibility_problems(
                active=user.active, records=user.training_records, on=on_date, as_role=as_role
            )
        ]
        for as_role in rules.ASSIGNMENT_ROLES
    }
