"""Log-in, log-out, and setting a password through an e-mailed reset or invitation link."""

import logging

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.accounts import bp, services
from app.accounts.forms import DirectoryLoginForm, LoginForm, RequestResetForm, SetPasswordForm
from app.accounts.providers import oidc
from app.accounts.providers.settings import enabled_methods, oidc_settings
from app.errors import DomainError
from app.extensions import limiter
from app.notifications.mail import absolute_url, send_templated_mail
from app.permissions import public
from app.redirects import safe_next
from app.web import attempt

log = logging.getLogger(__name__)
ID_TOKEN_KEY = "oidc_id_token"  # kept in the session after a single sign-on, to end the provider's session too


def login_page(form: LoginForm | None = None, directory_form: DirectoryLoginForm | None = None) -> str:
    """The log-in page with every enabled sign-in method (the local form, the directory's, the single sign-on link)."""
    methods = enabled_methods()
    return render_template(
        "accounts/login.html", methods=methods,
        form=(form or LoginForm(formdata=None)) if methods["local"] else None,
        directory_form=(directory_form or DirectoryLoginForm(formdata=None)) if methods["ldap"] else None,
        next=safe_next(request.args.get("next")),
    )


def _failed_login(response) -> bool:
    # Count only failed attempts towards the per-account limit.
    return response.status_code != 302


def _login_email_key() -> str:
    return "login:" + services.normalise_email(request.form.get("email", ""))[:254]


# Failed sign-ins per address count together whichever way they come (password, directory, single sign-on).
SIGN_IN_SCOPE = "sign-in"


@bp.route("/login", methods=["GET", "POST"])
@limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], SIGN_IN_SCOPE, methods=["POST"],
                      deduct_when=_failed_login)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
    key_func=_login_email_key, deduct_when=_failed_login,
)
@public
def login():
    """Log in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    if not current_app.config["LOCAL_LOGIN_ENABLED"]:
        if request.method == "POST":
            abort(404)
        return login_page()
    form = LoginForm()
    if form.validate_on_submit():

        def sign_in():
            user = services.authenticate(form.email.data, form.password.data)
            if user is not None:
                login_user(user, remember=form.remember.data)
                session.permanent = True
            return user

        if attempt(sign_in).result is None:
            form.password.errors.append(_("Wrong e-mail or password."))
        else:
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
    return login_page(form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Log out of this browser, and of the single sign-on portal too when that is where the session came from and
    the provider offers it (RP-initiated logout)."""
    id_token = session.pop(ID_TOKEN_KEY, None)
    logout_user()
    flash(_("You are logged out."), "info")
    settings = oidc_settings() if id_token else None
    provider_url = oidc.logout_url(settings, id_token) if settings is not None else None
    return redirect(provider_url or url_for("accounts.login"))


def _reset_email_key() -> str:
    return "reset:" + services.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["RESET_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_reset_email_key)
@public
def request_reset():
    """Ask for a password-reset link; the answer is the same whether or not the address is known."""
    if not current_app.config["LOCAL_LOGIN_ENABLED"]:
        abort(404)  # no local passwords: nothing to reset
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
    """The page behind a reset or invitation link: a link that no longer works says so (400)."""
    try:
        user = services.user_for_token(token, purpose)
    except DomainError as exc:  # a read, not a write: the link's own page says why it no longer works
        return render_template("accounts/link_invalid.html", message=exc.message), 400
    form = SetPasswordForm()
    if form.validate_on_submit():
        outcome = attempt(lambda: services.use_link_token(token, purpose, form.password.data), form=form,
                          field="password")
        if outcome.ok:
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
