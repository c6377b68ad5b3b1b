"""Who may open what: role decorators for views and load-and-authorise helpers for objects."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

from app.extensions import db, login_manager

PUBLIC = "public"
SIGNED_IN = "signed_in"


def public(view: Callable) -> Callable:
    """Mark a view as open to everyone (the authorisation matrix test reads the mark)."""
    view.access = frozenset({PUBLIC})
    return view


def roles_required(*roles: str) -> Callable[[Callable], Callable]:
    """Let in only signed-in users holding one of the roles (any signed-in user when none given)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.access = frozenset(roles) if roles else frozenset({SIGNED_IN})
        return wrapped

    return decorator


signed_in = roles_required()


def coordinates_org(user, organisation_id: int | None) -> bool:
    """True when the user is a coordinator whose scope covers the organisation."""
    if not user.is_authenticated or not user.has_role("coordinator"):
        return False
    scope = user.coordinator_scope
    return scope is None or scope == organisation_id


def leads_group(user, group) -> bool:
    """True when the user is one of the group's standing leaders."""
    return user.is_authenticated and any(gl.user_id == user.id for gl in group.leaders)


def is_current_member(user, group) -> bool:
    """True when the user has an open membership of the group."""
    return user.is_authenticated and any(
        m.user_id == user.id and m.left_on is None for m in group.memberships
    )


def can_access_group(user, group, need: str = "view") -> bool:
    """Whether the user may `view`, `lead` or `manage` the group."""
    if coordinates_org(user, group.organisation_id):
        return True
    if need == "manage":
        return False
    if leads_group(user, group):
        return True
    return need == "view" and is_current_member(user, group)


def get_or_404(model, object_id: int):
    """The object with this id, or a 404."""
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def get_group_or_403(group_id: int, need: str = "view"):
    """Load a group and check the current user may `view`, `lead` or `manage` it (404, then 403)."""
    from app.programme.models import Group

    group = get_or_404(Group, group_id)
    if not can_access_group(current_user, group, need):
        abort(403)
    return group


def get_organisation_or_403(organisation_id: int):
    """Load an organisation the current coordinator may manage (404, then 403: NotAllowed, "You coordinate another
    organisation only.", on the pages and in the API alike)."""
    from flask_babel import gettext as _

    from app.errors import NotAllowed
    from app.programme.models import Organisation

    org = get_or_404(Organisation, organisation_id)
    if not coordinates_org(current_user, org.id):
        raise NotAllowed(_("You coordinate another organisation only."))
    return org


# --- people: coordinators see the people of their scope and change those whose scope is not wider ----

USER_NEEDS = ("view", "manage")


def can_access_user(user, person, need: str = "view") -> bool:
    """Whether the user may `view` a person (a coordinator: programme-wide, or of their organisation) or `manage`
    them (change profile, roles, account, training records).

    manage: as view, except that a coordinator limited to one organisation leaves alone coordinators whose scope
    differs from theirs (programme-wide ones in particular), even when those work in their organisation.
    Raises ValueError for an unknown need.
    """
    if need not in USER_NEEDS:
        raise ValueError(f"unknown need {need!r}")
    if not user.is_authenticated or not user.has_role("coordinator"):
        return False
    scope = user.coordinator_scope
    if scope is None:
        return True
    if person.organisation_id != scope:
        return False
    return need == "view" or not person.has_role("coordinator") or person.coordinator_scope == scope


def get_user_or_403(user_id: int, need: str = "view"):
    """Load a person the current coordinator may `view` or `manage` (can_access_user; 404, then 403)."""
    from app.accounts.models import User

    user = get_or_404(User, user_id)
    if not can_access_user(current_user, user, need):
        abort(403)
    return user


# --- meetings: as open as their group, and to the leaders assigned to them -------------------------

MEETING_NEEDS = ("view", "lead", "notes")


def can_access_meeting(user, meeting, need: str = "view") -> bool:
    """Whether the user may `view` a meeting, `lead` it (schedule, assign, record, facilitate) or keep its
    leaders' private `notes`.

    view: a coordinator in scope, one of the group's standing leaders, a current member, or the meeting's own
    lead or co-lead; lead: the same without the members; notes: the meeting's and the group's leaders only
    (never coordinators). Raises ValueError for an unknown need.
    """
    if need not in MEETING_NEEDS:
        raise ValueError(f"unknown need {need!r}")
    if not user.is_authenticated:
        return False
    assigned = any(ml.user_id == user.id for ml in meeting.leaders)
    if need == "notes":
        return assigned or leads_group(user, meeting.group)
    return assigned or can_access_group(user, meeting.group, need)


def get_meeting_or_403(meeting_id: int, need: str = "view"):
    """Load a meeting and check the current user may `view`, `lead` or keep `notes` on it (404, then 403)."""
    from app.scheduling.models import Meeting

    meeting = get_or_404(Meeting, meeting_id)
    if not can_access_meeting(current_user, meeting, need):
        abort(403)
    return meeting


# --- feedback rounds ----------------------------------------------------------------------------

ROUND_NEEDS = ("lead", "coordinate", "answer", "view")


def can_access_round(user, feedback_round, need: str = "lead") -> bool:
    """Whether the user may see a round's results (`lead`: its group's leaders and coordinators), act on it as a
    coordinator in scope (`coordinate`: review free text, extend), `answer` it (a member present at one of its
    meetings), or `view` it (either of lead and answer). Raises ValueError for an unknown need.
    """
    if need not in ROUND_NEEDS:
        raise ValueError(f"unknown need {need!r}")
    if not user.is_authenticated:
        return False
    group = feedback_round.group
    if need == "coordinate":
        return coordinates_org(user, group.organisation_id)
    from app.feedback.services.rounds import is_eligible

    if need == "answer":  # eligibility alone: the group's leaders are not read
        return is_eligible(feedback_round, user)
    leads = coordinates_org(user, group.organisation_id) or leads_group(user, group)
    if need == "lead":
        return leads
    return leads or is_eligible(feedback_round, user)


def get_round_or_403(round_id: int, need: str = "lead"):
    """Load a feedback round and check the current user may use it as `need` says (404, then 403)."""
    import sqlalchemy.orm as so

    from app.feedback.models import FeedbackRound

    # The group in the same statement (every need reads it); the round's meetings only when something reads them.
    feedback_round = db.session.get(FeedbackRound, round_id, options=[
        so.joinedload(FeedbackRound.group), so.lazyload(FeedbackRound.round_meetings)])
    if feedback_round is None:
        abort(404)
    if not can_access_round(current_user, feedback_round, need):
        abort(403)
    return feedback_round


# --- the SQL twins, for lists ---------------------------------------------------------------------

def visible_groups(user):
    """The groups the user may view (can_access_group(user, g, "view")) as a select, by name: a coordinator's
    scope (every group for a programme-wide one), the groups they lead, those they belong to now."""
    import sqlalchemy as sa

    from app.programme.models import Group, GroupLeader, Membership

    query = sa.select(Group).order_by(Group.name, Group.id)
    if not user.is_authenticated:  # signed out, or deactivated: can_access_group admits nothing
        return query.where(sa.false())
    if user.has_role("coordinator") and user.coordinator_scope is None:
        return query
    led = sa.select(GroupLeader.group_id).where(GroupLeader.user_id == user.id)
    joined = sa.select(Membership.group_id).where(Membership.user_id == user.id, Membership.left_on.is_(None))
    conditions = [Group.id.in_(led), Group.id.in_(joined)]
    if user.has_role("coordinator"):
        conditions.append(Group.organisation_id == user.coordinator_scope)
    return query.where(sa.or_(*conditions))


def visible_organisations(user):
    """The organisations the user coordinates (coordinates_org(user, o.id)) as a select, by name: every one for a
    programme-wide coordinator, their own for a coordinator of one organisation, none for anybody else."""
    import sqlalchemy as sa

    from app.programme.models import Organisation

    query = sa.select(Organisation).order_by(Organisation.name, Organisation.id)
    if not user.is_authenticated or not user.has_role("coordinator"):
        return query.where(sa.false())
    if user.coordinator_scope is not None:
        query = query.where(Organisation.id == user.coordinator_scope)
    return query


# --- a person's participation (a leader's portfolio, a member's certificate) --------------------------

def can_access_participation(user, person) -> bool:
    """Whether the user may see what the person took part in (meetings led, attendance, supervision): the person
    themselves, or a coordinator whose scope covers the person's organisation or a group they belong to or lead."""
    if not user.is_authenticated:
        return False
    if user.id == person.id or coordinates_org(user, person.organisation_id):
        return True
    if not user.has_role("coordinator"):
        return False
    import sqlalchemy as sa

    from app.programme.models import Group, GroupLeader, Membership

    in_scope = sa.select(Group.id).where(Group.organisation_id == user.coordinator_scope)
    return bool(db.session.scalar(sa.select(
        sa.exists().where(Membership.user_id == person.id, Membership.group_id.in_(in_scope))
        | sa.exists().where(GroupLeader.user_id == person.id, GroupLeader.group_id.in_(in_scope))
    )))


def get_participant_or_403(user_id: int):
    """Load a person whose participation the current user may see (can_access_participation; 404, then 403)."""
    from app.accounts.models import User

    person = get_or_404(User, user_id)
    if not can_access_participation(current_user, person):
        abort(403)
    return person
