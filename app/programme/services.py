"""Operations on organisations, groups, memberships and leaders. They flush, never commit."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import User
from app.audit.services import record_action
from app.errors import Conflict, DomainError, NotAllowed
from app.extensions import db
from app.programme import rules
from app.programme.models import GROUP_STATUSES, MODES, ORG_KINDS, Group, GroupLeader, Membership, Organisation

#: Rule codes carried by the refusals below (`.rule`), as the API names them.
MEMBER_OF_GROUP = "member_of_group"  # a person never leads a group they are a member of
STANDING_LEADER = "standing_leader_of_group"  # a group's standing leader cannot join it as a member


class MembershipConflict(Conflict):
    """A membership or a standing leader place would make someone lead a group they belong to (409); `rule`."""

    def __init__(self, message: str, rule: str, field: str | None = "user_id"):
        super().__init__(message, field=field)
        self.rule = rule


def _check_deidentified(text: str | None, field_name: str) -> None:
    """The patient-identifier guard of meetings.services (imported when used: meetings builds on programme)."""
    from app.meetings.services import check_deidentified

    check_deidentified(text, field_name)


GROUP_FIELDS = (
    "name", "organisation_id", "description", "capacity", "mode", "location", "video_link",
    "duration_minutes", "feedback_interval", "feedback_window_days", "status",
)


# --- scope ---------------------------------------------------------------------------------

def check_scope(actor: User | None, organisation_id: int | None) -> None:
    """Refuse an actor who does not coordinate the organisation (None: every organisation).

    No actor means the system itself (the demo, a CLI command) and is always allowed. A coordinator
    limited to one organisation may act only on that organisation; `organisation_id=None` stands for
    the whole programme, which only a programme-wide coordinator may change.
    Raises NotAllowed.
    """
    if actor is None:
        return
    if not actor.has_role("coordinator"):
        raise NotAllowed(_("Only a coordinator may do this."))
    scope = actor.coordinator_scope
    if scope is not None and scope != organisation_id:
        raise NotAllowed(_("You coordinate another organisation only."))


# --- organisations ---------------------------------------------------------------------------

def _check_org_name(name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Enter a name."), field="name")
    if len(name) > 200:
        raise DomainError(_("Use at most 200 characters."), field="name")
    query = sa.select(Organisation.id).where(sa.func.lower(Organisation.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Organisation.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(_("An organisation with this name already exists."), field="name")
    return name


def create_organisation(actor: User | None, *, name: str, kind: str = "hospital") -> Organisation:
    """Create an organisation. Raises Conflict for a duplicate name, DomainError for bad values.

    Only a programme-wide coordinator (or the system) may; others get NotAllowed.
    """
    check_scope(actor, None)
    if kind not in ORG_KINDS:
        raise DomainError(_("Unknown kind of organisation."), field="kind")
    org = Organisation(name=_check_org_name(name), kind=kind)
    db.session.add(org)
    db.session.flush()
    record_action(actor, "organisation_created", org, name=org.name)
    return org


def update_organisation(actor: User | None, org: Organisation, *, name: str, kind: str) -> None:
    """Rename or re-kind an organisation. Raises Conflict/DomainError, NotAllowed outside the actor's scope."""
    check_scope(actor, org.id)
    if kind not in ORG_KINDS:
        raise DomainError(_("Unknown kind of organisation."), field="kind")
    org.name = _check_org_name(name, exclude_id=org.id)
    org.kind = kind
    db.session.flush()
    record_action(actor, "organisation_updated", org, name=org.name, kind=kind)


def set_organisation_active(actor: User | None, org: Organisation, active: bool) -> None:
    """Deactivate (kept for history) or reactivate an organisation. Raises NotAllowed outside the scope."""
    check_scope(actor, org.id)
    if org.active == active:
        return
    org.active = active
    db.session.flush()
    record_action(actor, "organisation_activated" if active else "organisation_deactivated", org)


# --- groups ----------------------------------------------------------------------------------

def _check_group(values: dict, exclude_id: int | None = None) -> dict:
    name = (values.get("name") or "").strip()
    if not name:
        raise DomainError(_("Enter a name."), field="name")
    org = db.session.get(Organisation, values.get("organisation_id") or 0)
    if org is None:
        raise DomainError(_("Choose an organisation."), field="organisation_id")
    if values.get("mode", "onsite") not in MODES:
        raise DomainError(_("Unknown meeting mode."), field="mode")
    if values.get("status", "active") not in GROUP_STATUSES:
        raise DomainError(_("Unknown status."), field="status")
    bounds = {
        "capacity": (1, 100, _("Capacity must be between 1 and 100.")),
        "duration_minutes": (15, 480, _("Duration must be between 15 and 480 minutes.")),
        "feedback_interval": (1, 50, _("The feedback interval must be between 1 and 50 meetings.")),
        "feedback_window_days": (1, 120, _("The feedback window must be between 1 and 120 days.")),
    }
    for key, (low, high, message) in bounds.items():
        value = values.get(key)
        if value is not None and not (isinstance(value, int) and low <= value <= high):
            raise DomainError(message, field=key)
    query = sa.select(Group.id).where(Group.organisation_id == org.id, sa.func.lower(Group.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Group.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(_("This organisation already has a group with this name."), field="name")
    cleaned = {k: v for k, v in values.items() if k in GROUP_FIELDS and v is not None}
    cleaned["name"] = name
    for key in ("description", "location", "video_link"):
        if key in values:
            cleaned[key] = (values[key] or "").strip() or None
    # Members, leaders and calendars show the name and the description: no patient identifiers in them.
    _check_deidentified(name, "name")
    _check_deidentified(cleaned.get("description"), "description")
    return cleaned


def create_group(actor: User | None, **values) -> Group:
    """Create a group with the programme's defaults for anything not given.

    Raises DomainError/Conflict for bad values, NotAllowed for an organisation outside the actor's scope.
    """
    if values.get("organisation_id") is not None:
        check_scope(actor, values["organisation_id"])
    group = Group(**_check_group(values))
    db.session.add(group)
    db.session.flush()
    record_action(actor, "group_created", group, name=group.name, organisation_id=group.organisation_id)
    return group


def update_group(actor: User | None, group: Group, **values) -> None:
    """Change a group's settings. Raises DomainError/Conflict, NotAllowed outside the actor's scope.

    Moving a group needs the actor to coordinate both organisations.
    """
    check_scope(actor, group.organisation_id)
    if values.get("organisation_id") is not None:
        check_scope(actor, values["organisation_id"])
    merged = {key: getattr(group, key) for key in GROUP_FIELDS}
    merged.update(values)
    cleaned = _check_group(merged, exclude_id=group.id)
    changed = {}
    for key, value in cleaned.items():
        if getattr(group, key) != value:
            changed[key] = value
            setattr(group, key, value)
    db.session.flush()
    if changed:
        record_action(actor, "group_updated", group, **changed)


def current_member_count(group: Group) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Membership).where(
            Membership.group_id == group.id, Membership.left_on.is_(None)
        )
    ) or 0


def open_membership(group: Group, user: User) -> Membership | None:
    return db.session.scalar(
        sa.select(Membership).where(
            Membership.group_id == group.id, Membership.user_id == user.id, Membership.left_on.is_(None)
        )
    )


def is_group_leader(group: Group, user: User) -> bool:
    return db.session.scalar(
        sa.select(GroupLeader.id).where(GroupLeader.group_id == group.id, GroupLeader.user_id == user.id)
    ) is not None


def add_member(actor: User | None, group: Group, user: User, joined_on: date) -> Membership:
    """Add (or re-add) a member from a date. Raises Conflict when already a member.

    A person never leads a group they are a member of: refused with MembershipConflict (409, rule
    standing_leader_of_group) for one of the group's standing leaders, and with scheduling's InvariantError
    (422, rule member_of_group) while they lead or co-lead a scheduled or held meeting of the group on a date
    the membership would cover. The person's row is locked first (scheduling.services.lock_people), as
    assigning leaders does, so the two cannot pass each other. A group over its capacity is refused; the
    recommended size is a warning shown by the page. Raises NotAllowed outside the actor's scope.
    """
    from app.scheduling.services import check_membership, lock_people

    check_scope(actor, group.organisation_id)
    lock_people([user.id])
    if not user.active:
        raise DomainError(_("This account is deactivated."), field="user_id")
    if open_membership(group, user) is not None:
        raise Conflict(_("%(name)s is already a member of this group.", name=user.name), field="user_id")
    if is_group_leader(group, user):
        raise MembershipConflict(_("%(name)s leads this group and cannot also be a member of it.", name=user.name),
                                 STANDING_LEADER)
    if rules.is_over_capacity(current_member_count(group), group.capacity):
        raise DomainError(_("The group is full (capacity %(n)s).", n=group.capacity), field="user_id")
    last = db.session.scalar(
        sa.select(sa.func.max(Membership.left_on)).where(
            Membership.group_id == group.id, Membership.user_id == user.id
        )
    )
    if last is not None and joined_on <= last:
        raise DomainError(_("A rejoin must start after the day the last membership ended."), field="joined_on")
    with db.session.begin_nested():  # refused below: the membership is rolled back, nothing else
        membership = Membership(group=group, user=user, joined_on=joined_on)
        db.session.add(membership)
        db.session.flush()
        check_membership(group, user, joined_on)
    if "member" not in user.roles:
        from app.accounts.models import RoleAssignment

        user.role_assignments.append(RoleAssignment(role="member"))
    db.session.flush()
    record_action(actor, "member_added", group, user_id=user.id, joined_on=joined_on)
    return membership


def end_membership(actor: User | None, membership: Membership, left_on: date) -> None:
    """End a membership on a date; the history stays. Raises DomainError for a date before joining.

    Raises Conflict when it has already ended, NotAllowed outside the actor's scope.
    """
    check_scope(actor, membership.group.organisation_id)
    if membership.left_on is not None:
        raise Conflict(_("This membership has already ended."))
    if left_on < membership.joined_on:
        raise DomainError(_("The leaving date cannot be before the joining date."), field="left_on")
    membership.left_on = left_on
    db.session.flush()
    record_action(actor, "member_left", membership.group, user_id=membership.user_id, left_on=left_on)


def add_group_leader(actor: User | None, group: Group, user: User, today: date | None = None) -> GroupLeader:
    """Make a person one of a group's standing leaders.

    Raises MembershipConflict (409, rule member_of_group) when they are a member of it today or later (an open
    membership, or one ending today or after `today`, default the local today), DomainError without the leader
    role, Conflict when they already lead it, NotAllowed outside the actor's scope.
    """
    from app.timeutil import local_today

    check_scope(actor, group.organisation_id)
    today = today or local_today()
    if not user.has_role("leader"):
        raise DomainError(_("%(name)s does not hold the leader role.", name=user.name), field="user_id")
    member_now_or_later = db.session.scalar(
        sa.select(Membership.id).where(
            Membership.group_id == group.id, Membership.user_id == user.id,
            sa.or_(Membership.left_on.is_(None), Membership.left_on >= today),
        ).limit(1)
    )
    if member_now_or_later is not None:
        raise MembershipConflict(_("A person never leads a group they are a member of."), MEMBER_OF_GROUP)
    if is_group_leader(group, user):
        raise Conflict(_("%(name)s already leads this group.", name=user.name), field="user_id")
    leader = GroupLeader(group=group, user=user)
    db.session.add(leader)
    db.session.flush()
    record_action(actor, "leader_added", group, user_id=user.id)
    return leader


def remove_group_leader(actor: User | None, leader: GroupLeader) -> None:
    """Stop a person standing as one of a group's leaders. Raises NotAllowed outside the actor's scope."""
    check_scope(actor, leader.group.organisation_id)
    group, user_id = leader.group, leader.user_id
    db.session.delete(leader)
    db.session.flush()
    record_action(actor, "leader_removed", group, user_id=user_id)
