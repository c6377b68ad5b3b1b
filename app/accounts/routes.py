"""Log-in, log-out, invitation and reset links, and the user's own profile."""

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.accounts import bp, services
from app.accounts.forms import ChangePasswordForm, EditProfileForm, LoginForm, RequestResetForm, SetPasswordForm
from app.errors import DomainError
from app.extensions import db, limiter
from app.notifications.mail import absolute_url, send_templated_mail
from app.permissions import public, signed_in


def safe_next(target: str | None) -> str | None:
    """The `next` target when it stays on this site (a relative path), else None."""
    if not target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # not an address at all ("//[", a host Python refuses to split): stay home
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _failed_login(response) -> bool:
    # Count only failed attempts towards the per-account limit.
    return response.status_code != 302


def _login_email_key() -> str:
    return "login:" + services.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=_failed_login)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
    key_func=_login_email_key, deduct_when=_failed_login,
)
@public
def login():
    """Log in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("Wrong e-mail or password."))
        else:
            login_user(user, remember=form.remember.data)
            session.permanent = True
            db.session.commit()
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Log out of this browser."""
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("accounts.login"))


def _reset_email_key() -> str:
    return "reset:" + services.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["RESET_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_reset_email_key)
@public
def request_reset():
    """Ask for a password-reset link; the answer is the same whether or not the address is known."""
    form = RequestResetForm()
    if form.validate_on_submit():
        user = services.find_user_by_email(form.email.data)
        if user is not None and user.active:
            link = absolute_url("accounts.reset", token=services.make_link_token(user, services.RESET))
            hours = int(current_app.config["RESET_MAX_AGE"].total_seconds() // 3600)
            send_templated_mail(
                user, lambda: _("Reset your Balint Groups password"), "notifications/reset", link=link, hours=hours
            )
        flash(_("If the address is registered, a link to set a new password is on its way."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/request_reset.html", form=form)


def _set_password_page(token: str, purpose: str, template: str):
    try:
        user = services.user_for_token(token, purpose)
    except DomainError as exc:
        return render_template("accounts/link_invalid.html", message=exc.message), 400
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            services.use_link_token(token, purpose, form.password.data)
        except DomainError as exc:
            form.password.errors.append(exc.message)
        else:
            db.session.commit()
            logout_user()
            flash(_("Your password is set. Please log in."), "success")
            return redirect(url_for("accounts.login"))
    return render_template(template, form=form, user=user)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset(token):
    """Set a new password through an e-mailed reset link."""
    return _set_password_page(token, services.RESET, "accounts/reset.html")


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invite(token):
    """Set a first password through an invitation link."""
    return _set_password_page(token, services.INVITE, "accounts/accept_invite.html")


@bp.route("/profile", methods=["GET", "POST"])
@signed_in
def profile():
    """Edit one's own name, profession, department and language."""
    form = EditProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            services.update_profile(
                current_user, current_user, name=form.name.data, profession=form.profession.data,
                department=form.department.data, locale=form.locale.data, email_reminders=form.email_reminders.data,
            )
        except DomainError as exc:
            getattr(form, exc.field or "name").errors.append(exc.message)
        else:
            db.session.commit()
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
    from flask import abort

    from app.api import services as api_services
    from app.api.models import ApiToken

    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    try:
        api_services.revoke_token(current_user, token)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    else:
        db.session.commit()
        flash(_("The token %(prefix)s… no longer works.", prefix=token.prefix), "success")
    return redirect(url_for("accounts.profile"))


def _personal_feed_url() -> str:
    """The user's private calendar address, made (and saved) on the first visit."""
    from app.scheduling.calendars import personal_feed
    from app.scheduling.feeds import feed_url
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
        try:
            services.change_password(current_user, form.current_password.data, form.password.data)
        except DomainError as exc:
            getattr(form, exc.field or "password").errors.append(exc.message)
        else:
            db.session.commit()
            # This browser stays signed in under the new session version (pass the user, not the proxy).
            login_user(current_user._get_current_object())
            flash(_("Your password is changed. Other sessions have been signed out."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template(
        "accounts/profile.html", form=EditProfileForm(obj=current_user), password_form=form,
        feed_url=_personal_feed_url(),
    ), 422
