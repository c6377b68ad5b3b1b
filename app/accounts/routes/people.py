"""Coordinators' pages for people: the list, invitations, roles, deactivation, training records, who may lead."""

from __future__ import annotations

import smtplib

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.accounts import bp, rules, services
from app.accounts.forms import (
    EditChannelsForm,
    EditUserForm,
    InviteUserForm,
    LeadersOnForm,
    LinkIdentityForm,
    TrainingRecordForm,
    UserFilterForm,
    channel_names,
)
from app.accounts.models import TrainingRecord, User
from app.accounts.providers.services import identities_of
from app.extensions import db
from app.notifications.mail import absolute_url, send_templated_mail
from app.pagination import paginate
from app.permissions import can_access_user, get_or_404, get_user_or_403, roles_required
from app.programme.models import Organisation
from app.timeutil import local_today, utcnow
from app.web import attempt

# Ids in URLs stop at the largest database integer: a longer number is a 404 from routing, not an
# overflow inside the database driver.
ID = "int(max=2147483647)"

# --- helpers ---------------------------------------------------------------------------------


def _record_or_404(user: User, record_id: int) -> TrainingRecord:
    """One of this person's training records; another person's record id is a 404."""
    record = get_or_404(TrainingRecord, record_id)
    if record.user_id != user.id:
        abort(404)
    return record


def _offer_organisations(form: InviteUserForm | EditUserForm) -> None:
    """Offer only the organisations the acting coordinator may give; a scoped one's are fixed."""
    if current_user.coordinator_scope is not None:
        del form.organisation_id
        del form.coordinator_org_id
        return
    orgs = db.session.execute(sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)).all()
    form.organisation_id.choices = [(0, _("— none —"))] + [(o.id, o.name) for o in orgs]
    form.coordinator_org_id.choices = [(0, _("The whole programme"))] + [(o.id, o.name) for o in orgs]


def _scope_org() -> Organisation | None:
    """The organisation the acting coordinator is limited to, if any."""
    scope = current_user.coordinator_scope
    return db.session.get(Organisation, scope) if scope is not None else None


def _chosen_organisations(form: InviteUserForm | EditUserForm) -> tuple[int | None, int | None]:
    """The (home organisation, coordinator scope) the form gives, within the acting coordinator's scope."""
    scope = current_user.coordinator_scope
    if scope is not None:
        return scope, scope
    return form.organisation_id.data or None, form.coordinator_org_id.data or None


def _send_invitation(user: User) -> bool:
    """E-mail the person a one-time link to choose a password; False when the mail server fails."""
    link = absolute_url("accounts.accept_invite", token=services.make_link_token(user, services.INVITE))
    try:
        send_templated_mail(
            user, lambda: _("You are invited to Balint Groups"), "notifications/invite",
            link=link, inviter=current_user.name, days=current_app.config["INVITE_MAX_AGE"].days,
        )
    except (smtplib.SMTPException, OSError):
        current_app.logger.warning("Invitation mail to user %s could not be sent", user.id, exc_info=True)
        return False
    return True


def _flagged_count(person: User) -> int:
    """How many of the person's upcoming meetings break an invariant now (read before the commit, after the change).

    Changes to training records, roles and accounts are never refused for the meetings a person leads: the
    meetings are flagged instead (home page, schedules, API), and the coordinator is told how many.
    """
    from app.scheduling.services import flagged_meetings_of  # scheduling builds on accounts

    return len(flagged_meetings_of(person.id, utcnow()))


def _flash_flagged(person: User, count: int) -> None:
    """Say how many upcoming meetings the change left with a leader who is not eligible (nothing when none)."""
    if count:
        flash(ngettext(
            "%(num)d upcoming meeting of %(name)s now has a leader who is not eligible on its date; it is flagged on "
            "the coordinators' home page and on the group's schedule.",
            "%(num)d upcoming meetings of %(name)s now have a leader who is not eligible on their date; they are "
            "flagged on the coordinators' home page and on the groups' schedules.",
            count, name=person.name,
        ), "warning")


def _user_page(user: User):
    return redirect(url_for("accounts.user", user_id=user.id))


# --- people ----------------------------------------------------------------------------------


@bp.route("/people")
@roles_required("coordinator")
def users():
    """Everyone the coordinator may see, with search, filters by role and state, and pages."""
    form = UserFilterForm(request.args)
    if not form.validate():
        return render_template("accounts/users.html", form=form, pagination=None), 422
    query = services.people_query(
        scope_org_id=current_user.coordinator_scope, q=form.q.data or None, role=form.role.data or None,
        active={"1": True, "0": False}.get(form.active.data),
    )
    # A page number past any real list would overflow the database's OFFSET: keep it in range.
    pagination = paginate(query)
    return render_template("accounts/users.html", form=form, pagination=pagination)


@bp.route("/people/invite", methods=["GET", "POST"])
@roles_required("coordinator")
def invite():
    """Create a person's account and e-mail them a link to choose a password."""
    form = InviteUserForm()
    _offer_organisations(form)
    if form.validate_on_submit():
        organisation_id, coordinator_org_id = _chosen_organisations(form)
        outcome = attempt(lambda: services.create_user(
            current_user, email=form.email.data, name=form.name.data, roles=form.roles.data,
            profession=form.profession.data or None, department=form.department.data or None,
            organisation_id=organisation_id, coordinator_org_id=coordinator_org_id, locale=form.locale.data or None,
        ), form=form, field="email")
        if outcome.ok:
            person = outcome.result
            # The mail goes only once the account is safely saved; its outcome is a second, small commit.
            if _send_invitation(person):
                attempt(lambda: services.mark_invited(current_user, person))
                flash(_("%(name)s is invited: an e-mail with a link is on its way.", name=person.name), "success")
            else:
                flash(_("%(name)s is saved, but the invitation e-mail could not be sent. "
                        "Use “Resend invitation” when the mail server works again.", name=person.name), "warning")
            return _user_page(person)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "accounts/invite.html", form=form, scope_org=_scope_org(),
        invite_days=current_app.config["INVITE_MAX_AGE"].days,
    ), status


@bp.route(f"/people/<{ID}:user_id>")
@roles_required("coordinator")
def user(user_id):
    """One person: profile, roles, groups, training records and whether they may lead today."""
    from app.notifications.services import channels_of  # notifications build on accounts

    person = get_user_or_403(user_id)
    memberships, led = services.groups_of(person)
    today = local_today()
    return render_template(
        "accounts/user.html", person=person, memberships=memberships, led=led, today=today,
        eligibility=services.eligibility_on(person, today), can_manage=can_access_user(current_user, person, "manage"),
        identities=identities_of(person), link_form=LinkIdentityForm(formdata=None),
        provider_names={"ldap": _("Hospital directory"), "oidc": _("Single sign-on")},
        person_channels=channels_of(person, "meeting_reminder"), channel_names=channel_names(),
    )


@bp.route(f"/people/<{ID}:user_id>/edit", methods=["GET", "POST"])
@roles_required("coordinator")
def edit_user(user_id):
    """Change a person's name, roles (exactly those ticked), organisation, profession and department."""
    person = get_user_or_403(user_id, need="manage")
    form = EditUserForm(data={
        "name": person.name, "roles": sorted(person.roles), "organisation_id": person.organisation_id or 0,
        "coordinator_org_id": person.coordinator_scope or 0, "profession": person.profession or "",
        "department": person.department or "",
    })
    _offer_organisations(form)
    if form.validate_on_submit():
        organisation_id, coordinator_org_id = _chosen_organisations(form)

        def change() -> int:
            services.update_profile(
                current_user, person, name=form.name.data, profession=form.profession.data or None,
                department=form.department.data or None, organisation_id=organisation_id,
            )
            services.set_roles(current_user, person, form.roles.data, coordinator_org_id=coordinator_org_id)
            return _flagged_count(person)

        outcome = attempt(change, form=form, field="name")
        if outcome.ok:
            flash(_("Changes to %(name)s are saved.", name=person.name), "success")
            _flash_flagged(person, outcome.result)
            return _user_page(person)
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/edit_user.html", form=form, person=person, scope_org=_scope_org()), status


@bp.route(f"/people/<{ID}:user_id>/channels", methods=["GET", "POST"])
@roles_required("coordinator")
def edit_channels(user_id):
    """Set where a person gets messages: WeCom and DingTalk user ids and the channels they want."""
    from app.notifications import services as notifications  # notifications build on accounts

    person = get_user_or_403(user_id, need="manage")
    form = EditChannelsForm(data={
        "wecom_userid": person.wecom_userid or "", "dingtalk_userid": person.dingtalk_userid or "",
        "follow_default": person.channels is None,
        "channels": (person.channels or ",".join(notifications.default_channels())).split(","),
    })
    names = channel_names()
    form.channels.choices = [(c, names[c]) for c in notifications.enabled_channels()]
    if form.validate_on_submit():
        chosen = None if form.follow_default.data else list(form.channels.data or [])
        outcome = attempt(lambda: notifications.set_channels(
            current_user, person, form.wecom_userid.data, form.dingtalk_userid.data, chosen,
        ), form=form, field="channels")
        if outcome.ok:
            flash(_("Changes to %(name)s are saved.", name=person.name), "success")
            return _user_page(person)
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/channels.html", form=form, person=person,
                           defaults=[names[c] for c in notifications.default_channels()]), status


@bp.route(f"/people/<{ID}:user_id>/invite", methods=["POST"])
@roles_required("coordinator")
def resend_invite(user_id):
    """Send a new invitation link to a person who has not chosen a password yet."""
    person = get_user_or_403(user_id, need="manage")
    if person.has_password:
        flash(_("%(name)s has already chosen a password; they can ask for a reset link.", name=person.name), "info")
    elif not person.active:
        flash(_("%(name)s is deactivated. Reactivate the account before inviting again.", name=person.name), "warning")
    elif _send_invitation(person):
        attempt(lambda: services.mark_invited(current_user, person))
        flash(_("A new invitation is on its way to %(email)s.", email=person.email), "success")
    else:
        flash(_("The invitation e-mail could not be sent. Please try again later."), "danger")
    return _user_page(person)


@bp.route(f"/people/<{ID}:user_id>/active", methods=["POST"])
@roles_required("coordinator")
def set_user_active(user_id):
    """Deactivate a person (signed out everywhere, cannot log in) or reactivate them."""
    person = get_user_or_403(user_id, need="manage")
    value = request.form.get("active")
    if value not in {"0", "1"}:
        abort(400)

    def change() -> int:
        services.set_active(current_user, person, value == "1")
        return _flagged_count(person)

    outcome = attempt(change)  # a refusal is flashed
    if outcome.ok and value == "1":
        flash(_("%(name)s is active again.", name=person.name), "success")
    elif outcome.ok:
        flash(_("%(name)s is deactivated and signed out.", name=person.name), "success")
        _flash_flagged(person, outcome.result)
    return _user_page(person)


# --- training records ------------------------------------------------------------------------


@bp.route(f"/people/<{ID}:user_id>/training/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new_training(user_id):
    """Add a leader-training record, verified at once when the coordinator has seen the certificate."""
    person = get_user_or_403(user_id, need="manage")
    form = TrainingRecordForm()
    if form.validate_on_submit():
        outcome = attempt(lambda: services.add_training_record(
            current_user, person, kind=form.kind.data, level=form.level.data, issuer=form.issuer.data,
            completed_on=form.completed_on.data, valid_until=form.valid_until.data,
            verified=form.verified.data, note=form.note.data or None,
        ), form=form, field="kind")
        if outcome.ok:
            flash(_("The training record is saved."), "success")
            return _user_page(person)
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/training_form.html", form=form, person=person, record=None), status


@bp.route(f"/people/<{ID}:user_id>/training/<{ID}:record_id>/edit", methods=["GET", "POST"])
@roles_required("coordinator")
def edit_training(user_id, record_id):
    """Correct a training record; a change (or unticking the box) withdraws its verification unless it is ticked
    again. The person's meetings that it leaves without an eligible leader are flagged, and counted in a notice."""
    person = get_user_or_403(user_id, need="manage")
    record = _record_or_404(person, record_id)
    form = TrainingRecordForm(obj=record)
    if form.validate_on_submit():

        def change() -> int:
            services.update_training_record(
                current_user, record, kind=form.kind.data, level=form.level.data, issuer=form.issuer.data,
                completed_on=form.completed_on.data, valid_until=form.valid_until.data, note=form.note.data or None,
            )
            if form.verified.data:
                services.verify_training_record(current_user, record)
            else:  # the box unticked: the record no longer counts
                services.unverify_training_record(current_user, record)
            return _flagged_count(person)

        outcome = attempt(change, form=form, field="kind")
        if outcome.ok:
            flash(_("The training record is saved."), "success")
            _flash_flagged(person, outcome.result)
            return _user_page(person)
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/training_form.html", form=form, person=person, record=record), status


@bp.route(f"/people/<{ID}:user_id>/training/<{ID}:record_id>/verify", methods=["POST"])
@roles_required("coordinator")
def verify_training(user_id, record_id):
    """Mark a training record verified by the acting coordinator."""
    person = get_user_or_403(user_id, need="manage")
    record = _record_or_404(person, record_id)
    if attempt(lambda: services.verify_training_record(current_user, record)).ok:
        flash(_("The training record is verified."), "success")
    return _user_page(person)


@bp.route(f"/people/<{ID}:user_id>/training/<{ID}:record_id>/delete", methods=["POST"])
@roles_required("coordinator")
def delete_training(user_id, record_id):
    """Remove a training record entered by mistake."""
    person = get_user_or_403(user_id, need="manage")
    record = _record_or_404(person, record_id)

    def delete() -> int:
        services.delete_training_record(current_user, record)
        return _flagged_count(person)

    outcome = attempt(delete)
    if outcome.ok:
        flash(_("The training record is deleted."), "success")
        _flash_flagged(person, outcome.result)
    return _user_page(person)


# --- who may lead ----------------------------------------------------------------------------


@bp.route("/people/leaders")
@roles_required("coordinator")
def leaders():
    """Who may lead and who may co-lead on a date (today unless ?on=YYYY-MM-DD)."""
    form = LeadersOnForm(request.args)
    if not form.validate():
        return render_template("accounts/leaders.html", form=form, on=None, lead=[], co_lead=[]), 422
    on = form.on.data or local_today()
    form.on.data = on
    scope = current_user.coordinator_scope

    def listed(as_role: str) -> list[tuple[User, str | None]]:
        people = [u for u in services.eligible_leaders(on, as_role) if scope is None or u.organisation_id == scope]
        return [(u, rules.best_level_on(u.training_records, on)) for u in people]

    lead, co_lead = listed(rules.LEAD), listed(rules.CO_LEAD)
    # Load their organisations in one query (the page names each person's organisation).
    org_ids = {u.organisation_id for u, _level in co_lead + lead if u.organisation_id}
    if org_ids:
        db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(org_ids))).all()
    return render_template("accounts/leaders.html", form=form, on=on, lead=lead, co_lead=co_lead)
