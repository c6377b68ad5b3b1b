"""Coordinators' pages for organisations, groups, members and leaders; the group page for everyone in it."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.forms import level_choices, profession_choices
from app.accounts.models import User
from app.pagination import id_arg
from app.permissions import (
    can_access_group,
    coordinates_org,
    get_group_or_403,
    get_or_404,
    get_organisation_or_403,
    roles_required,
    signed_in,
)
from app.programme import bp, queries, rules, services
from app.programme.forms import (
    AddLeaderForm,
    AddMemberForm,
    CreateGroupForm,
    CreateOrganisationForm,
    EditGroupForm,
    EditOrganisationForm,
    EndMembershipForm,
    SetGroupRobotForm,
    SetOrganisationActiveForm,
    kind_choices,
    mode_choices,
    status_choices,
)
from app.programme.models import GROUP_STATUSES, GroupLeader, Membership
from app.timeutil import local_today
from app.web import attempt

# --- helpers ---------------------------------------------------------------------------------

def _status() -> int:
    """200 for a page shown, 422 for a form sent back with errors."""
    return 422 if request.method == "POST" else 200


def _labels() -> dict[str, dict]:
    """Translated names of the stored codes, for templates."""
    return {
        "kind": dict(kind_choices()),
        "mode": dict(mode_choices()),
        "status": dict(status_choices()),
        "profession": dict(profession_choices()),
        "level": dict(level_choices()),
    }


def _warn_about_capacity(capacity: int) -> None:
    if rules.capacity_warning(capacity):
        flash(
            _("Saved, but note: the recommended size of a Balint group is 6–12 members (this one: %(n)s).",
              n=capacity),
            "warning",
        )


def _group_form(form_class, group=None):
    form = form_class(obj=group)
    scope = current_user.coordinator_scope
    include = group.organisation_id if group else None
    form.organisation_id.choices = [("", _("— choose —"))] + queries.organisation_choices(scope, include)
    if group is None and request.method == "GET":
        form.organisation_id.data = id_arg("organisation") or scope
    return form


def _member_form(group, formdata=True):
    form = AddMemberForm(prefix="member") if formdata else AddMemberForm(prefix="member", formdata=None)
    people = queries.member_candidates(group, current_user.coordinator_scope)
    form.user_id.choices = [("", _("— choose a person —"))] + [(u.id, f"{u.name} ({u.email})") for u in people]
    return form


def _training_text(level: str | None) -> str:
    if level is None:
        return _("no verified training in force today")
    return _("verified training: %(level)s", level=_labels()["level"][level])


def _leader_form(group, formdata=True):
    form = AddLeaderForm(prefix="leader") if formdata else AddLeaderForm(prefix="leader", formdata=None)
    rows = queries.leader_candidates(group, local_today())
    form.user_id.choices = [("", _("— choose a leader —"))] + [
        (row.user.id, f"{row.user.name} — {_training_text(row.level)}") for row in rows
    ]
    return form


def _group_page(group, member_form=None, leader_form=None, end_forms=None):
    """The group page, with any form sent back with errors in place of a fresh one."""
    today = local_today()
    people = queries.group_people(group, today)
    can_manage = coordinates_org(current_user, group.organisation_id)
    context = {
        "group": group, "people": people, "today": today, "labels": _labels(),
        "can_manage": can_manage, "sees_history": can_access_group(current_user, group, "lead"),
        "training_text": _training_text,
    }
    if can_manage:
        end_forms = end_forms or {}
        context.update(
            member_form=member_form or _member_form(group, formdata=False),
            leader_form=leader_form or _leader_form(group, formdata=False),
            end_forms={
                m.id: end_forms.get(m.id) or EndMembershipForm(prefix=f"end-{m.id}", formdata=None)
                for m in people.current
            },
        )
    return render_template("programme/group.html", **context), _status()


def _managed_group_and(model, object_id: int, group_id: int):
    """(the group, one of its memberships or standing leaders) for a coordinator who manages the group (404, then
    403); another group's row is a 404."""
    group = get_group_or_403(group_id, need="manage")
    row = get_or_404(model, object_id)
    if row.group_id != group.id:
        abort(404)
    return group, row


def _back_to(group):
    return redirect(url_for("programme.group", group_id=group.id))


# --- organisations ---------------------------------------------------------------------------

@bp.route("/organisations")
@roles_required("coordinator")
def organisations():
    """Organisations taking part, with their number of groups; searchable and paged."""
    search = queries.clean_search(request.args.get("q"))
    page = queries.organisation_page(current_user.coordinator_scope, search)
    return render_template("programme/organisations.html", page=page, search=search, labels=_labels())


@bp.route("/organisations/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new_organisation():
    """Create an organisation (programme-wide coordinators only)."""
    if not current_user.is_programme_coordinator:
        abort(403)
    form = CreateOrganisationForm()
    if form.validate_on_submit():
        outcome = attempt(lambda: services.create_organisation(current_user, name=form.name.data, kind=form.kind.data),
                          form=form, field="name")
        if outcome.ok:
            flash(_("Organisation “%(name)s” created.", name=outcome.result.name), "success")
            return redirect(url_for("programme.organisations"))
    return render_template("programme/organisation_form.html", form=form, organisation=None), _status()


@bp.route("/organisations/<int:org_id>/edit", methods=["GET", "POST"])
@roles_required("coordinator")
def edit_organisation(org_id):
    """Rename an organisation or change its kind."""
    org = get_organisation_or_403(org_id)
    form = EditOrganisationForm(obj=org)
    if form.validate_on_submit():
        outcome = attempt(lambda: services.update_organisation(current_user, org, name=form.name.data,
                                                               kind=form.kind.data), form=form, field="name")
        if outcome.ok:
            flash(_("Organisation “%(name)s” saved.", name=org.name), "success")
            return redirect(url_for("programme.organisations"))
    return render_template("programme/organisation_form.html", form=form, organisation=org), _status()


@bp.route("/organisations/<int:org_id>/active", methods=["POST"])
@roles_required("coordinator")
def set_organisation_active(org_id):
    """Deactivate an organisation (its history stays) or reactivate it."""
    org = get_organisation_or_403(org_id)
    form = SetOrganisationActiveForm()
    if not form.validate_on_submit():
        flash(_("Choose whether the organisation is active."), "danger")
        return redirect(url_for("programme.organisations"))
    if not attempt(lambda: services.set_organisation_active(current_user, org, bool(form.active.data))).ok:
        return redirect(url_for("programme.organisations"))
    if org.active:
        flash(_("Organisation “%(name)s” is active again.", name=org.name), "success")
    else:
        flash(_("Organisation “%(name)s” is deactivated; its history is kept.", name=org.name), "success")
    return redirect(url_for("programme.organisations"))


# --- groups ----------------------------------------------------------------------------------

@bp.route("/groups")
@roles_required("coordinator")
def groups():
    """Groups in the coordinator's scope with their current members; searchable, filtered and paged."""
    scope = current_user.coordinator_scope
    search = queries.clean_search(request.args.get("q"))
    organisation_id = id_arg("organisation")
    status = request.args.get("status") if request.args.get("status") in GROUP_STATUSES else None
    page = queries.group_page(scope, search, organisation_id, status)
    return render_template(
        "programme/groups.html", page=page, search=search, organisation_id=organisation_id, status=status,
        organisations=queries.organisation_choices(scope, active_only=False), labels=_labels(),
    )


@bp.route("/groups/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new_group():
    """Create a group in an organisation the coordinator coordinates."""
    form = _group_form(CreateGroupForm)
    if form.validate_on_submit():
        outcome = attempt(lambda: services.create_group(current_user, **form.values()), form=form, field="name")
        if outcome.ok:
            group = outcome.result
            flash(_("Group “%(name)s” created.", name=group.name), "success")
            _warn_about_capacity(group.capacity)
            return _back_to(group)
    return render_template("programme/group_form.html", form=form, group=None), _status()


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@roles_required("coordinator")
def edit_group(group_id):
    """Change a group's settings."""
    group = get_group_or_403(group_id, need="manage")
    form = _group_form(EditGroupForm, group)
    if form.validate_on_submit():
        outcome = attempt(lambda: services.update_group(current_user, group, **form.values()), form=form,
                          field="name")
        if outcome.ok:
            flash(_("Group “%(name)s” saved.", name=group.name), "success")
            _warn_about_capacity(group.capacity)
            return _back_to(group)
    return render_template("programme/group_form.html", form=form, group=group), _status()


@bp.route("/groups/<int:group_id>/robot", methods=["GET", "POST"])
@roles_required("coordinator")
def group_robot(group_id):
    """Set the group's chat robot (WeCom or DingTalk) that posts meeting reminders and round openings."""
    from app.notifications import robots  # notifications build on programme

    group = get_group_or_403(group_id, need="manage")
    robot = robots.robot_of(group.id)
    form = SetGroupRobotForm(data={"platform": robot.platform if robot else "wecom"})
    if form.validate_on_submit():
        outcome = attempt(lambda: robots.set_robot(current_user, group, form.platform.data, form.webhook.data,
                                                   form.secret.data), form=form, field="webhook")
        if outcome.ok:
            flash(_("The chat robot of “%(name)s” is saved.", name=group.name), "success")
            return _back_to(group)
    return render_template("programme/robot.html", form=form, group=group, robot=robot), _status()


@bp.route("/groups/<int:group_id>/robot/remove", methods=["POST"])
@roles_required("coordinator")
def remove_group_robot(group_id):
    """Remove the group's chat robot; its posts not yet sent are dropped."""
    from app.notifications import robots  # notifications build on programme

    group = get_group_or_403(group_id, need="manage")
    outcome = attempt(lambda: robots.remove_robot(current_user, group))
    if outcome.ok:
        flash(_("The chat robot of “%(name)s” is removed.", name=group.name), "success")
    return _back_to(group)


@bp.route("/groups/<int:group_id>")
@signed_in
def group(group_id):
    """One group: settings, leaders and members (history and forms for those who run it)."""
    return _group_page(get_group_or_403(group_id, need="view"))


# --- members and leaders ---------------------------------------------------------------------

@bp.route("/groups/<int:group_id>/members", methods=["POST"])
@roles_required("coordinator")
def add_member(group_id):
    """Add a person to the group from a date (a former member rejoins the same way)."""
    group = get_group_or_403(group_id, need="manage")
    form = _member_form(group)
    if form.validate_on_submit():
        user = get_or_404(User, form.user_id.data)
        outcome = attempt(lambda: services.add_member(current_user, group, user, form.joined_on.data), form=form,
                          field="user_id")
        if outcome.ok:
            flash(_("%(name)s is a member from %(date)s.", name=user.name, date=format_date(form.joined_on.data)),
                  "success")
            return _back_to(group)
    return _group_page(group, member_form=form)


@bp.route("/groups/<int:group_id>/members/<int:membership_id>/end", methods=["POST"])
@roles_required("coordinator")
def end_membership(group_id, membership_id):
    """End a membership on a date; the history stays."""
    group, membership = _managed_group_and(Membership, membership_id, group_id)
    if membership.left_on is not None:
        flash(_("This membership has already ended."), "warning")
        return _back_to(group)
    form = EndMembershipForm(prefix=f"end-{membership.id}")
    if form.validate_on_submit():
        outcome = attempt(lambda: services.end_membership(current_user, membership, form.left_on.data), form=form,
                          field="left_on")
        if outcome.ok:
            flash(_("%(name)s left the group on %(date)s.", name=membership.user.name,
                    date=format_date(form.left_on.data)), "success")
            return _back_to(group)
    return _group_page(group, end_forms={membership.id: form})


@bp.route("/groups/<int:group_id>/leaders", methods=["POST"])
@roles_required("coordinator")
def add_leader(group_id):
    """Make a person with the leader role one of the group's standing leaders."""
    group = get_group_or_403(group_id, need="manage")
    form = _leader_form(group)
    if form.validate_on_submit():
        user = get_or_404(User, form.user_id.data)
        outcome = attempt(lambda: services.add_group_leader(current_user, group, user), form=form, field="user_id")
        if outcome.ok:
            flash(_("%(name)s now leads this group.", name=user.name), "success")
            return _back_to(group)
    return _group_page(group, leader_form=form)


@bp.route("/groups/<int:group_id>/leaders/<int:leader_id>/remove", methods=["POST"])
@roles_required("coordinator")
def remove_leader(group_id, leader_id):
    """Stop a person standing as one of the group's leaders."""
    group, leader = _managed_group_and(GroupLeader, leader_id, group_id)
    name = leader.user.name
    if attempt(lambda: services.remove_group_leader(current_user, leader)).ok:
        flash(_("%(name)s no longer leads this group.", name=name), "success")
    return _back_to(group)
