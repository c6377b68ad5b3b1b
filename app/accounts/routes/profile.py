"""One's own profile: name, profession, department, language and reminders; the password; API tokens."""

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from app.accounts import bp, services
from app.accounts.forms import ChangePasswordForm, EditProfileForm
from app.extensions import db
from app.permissions import signed_in
from app.web import attempt


@bp.route("/profile", methods=["GET", "POST"])
@signed_in
def profile():
    """Edit one's own name, profession, department and language."""
    form = EditProfileForm(obj=current_user)
    if form.validate_on_submit():
        outcome = attempt(lambda: services.update_profile(
            current_user, current_user, name=form.name.data, profession=form.profession.data,
            department=form.department.data, locale=form.locale.data, email_reminders=form.email_reminders.data,
        ), form=form, field="name")
        if outcome.ok:
            session.pop("lang", None)
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("accounts.profile"))
    from app.api.services import tokens_of

    return render_template("accounts/profile.html", form=form, password_form=ChangePasswordForm(formdata=None),
                           feed_url=_personal_feed_url(), api_tokens=tokens_of(current_user))


@bp.route("/profile/api-tokens/<int:token_id>/revoke", methods=["POST"])
@signed_in
def revoke_api_token(token_id):
    """Revoke one of one's own API tokens; someone else's token is a 404."""
    from app.api import services as api_services
    from app.api.models import ApiToken

    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    if attempt(lambda: api_services.revoke_token(current_user, token)).ok:
        flash(_("The token %(prefix)s… no longer works.", prefix=token.prefix), "success")
    return redirect(url_for("accounts.profile"))


def _personal_feed_url() -> str:
    """The user's private calendar address, made (and saved) on the first visit."""
    from app.scheduling.services.feeds import feed_url, personal_feed
    from app.sqlite import write_after_read

    if request.method == "POST":
        db.session.rollback()  # a refused form saves nothing, and the commit below must not save it either
    with write_after_read():  # on a GET, a write transaction of its own
        feed = personal_feed(current_user)
    db.session.commit()
    return feed_url(feed)


@bp.route("/profile/password", methods=["POST"])
@signed_in
def change_password():
    """Change one's own password; every other session is signed out."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        outcome = attempt(lambda: services.change_password(current_user, form.current_password.data,
                                                           form.password.data), form=form, field="password")
        if outcome.ok:
            # This browser stays signed in under the new session version (pass the user, not the proxy).
            login_user(current_user._get_current_object())
            flash(_("Your password is changed. Other sessions have been signed out."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template(
        "accounts/profile.html", form=EditProfileForm(obj=current_user), password_form=form,
        feed_url=_personal_feed_url(),
    ), 422
