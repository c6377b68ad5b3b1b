"""Signing in through the hospital directory (LDAP / AD) or single sign-on (OpenID Connect), and coordinators'
linking and unlinking of those identities on a person's page."""

from __future__ import annotations

import logging
import time

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from app.accounts import bp
from app.accounts.forms import DirectoryLoginForm, LinkIdentityForm
from app.accounts.providers import ldap as directory
from app.accounts.providers import oidc
from app.accounts.providers import services as providers
from app.accounts.providers.models import ProviderIdentity
from app.accounts.providers.settings import ldap_settings, oidc_settings
from app.accounts.routes.login import ID_TOKEN_KEY, SIGN_IN_SCOPE, _failed_login, login_page
from app.accounts.routes.people import ID
from app.extensions import db, limiter
from app.permissions import get_user_or_403, public, roles_required
from app.redirects import safe_next
from app.timeutil import utcnow
from app.web import attempt

log = logging.getLogger(__name__)
FLOW_KEY = "oidc_flow"


def _sign_in(identity, next_target: str | None):
    """Match, link or create the account (one commit, audited) and log in: the redirect onwards, or the refusal's
    message for the log-in page."""
    config = current_app.config
    outcome = attempt(lambda: providers.sign_in(
        identity, now=utcnow(), match_by_email=config["EXTERNAL_MATCH_EMAIL"],
        may_create=config["EXTERNAL_CREATE_ACCOUNTS"], default_organisation=config["EXTERNAL_DEFAULT_ORGANISATION"]))
    if outcome.result.user is None:
        return providers.refusal_message(outcome.result.refusal)
    login_user(outcome.result.user)
    session.permanent = True
    return redirect(safe_next(next_target) or url_for("main.home"))


def _directory_key() -> str:
    return "login:ldap:" + (request.form.get("username") or "").strip().lower()[:256]


@bp.route("/login/directory", methods=["POST"])
@limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], SIGN_IN_SCOPE, deduct_when=_failed_login)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_directory_key,
               deduct_when=_failed_login)
@public
def login_directory():
    """Sign in with the hospital directory's user name and password."""
    settings = ldap_settings()
    if settings is None:
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = DirectoryLoginForm()
    if form.validate_on_submit():
        try:
            identity = directory.authenticate(settings, form.username.data, form.password.data)
        except directory.DirectoryUnavailable as exc:
            log.warning("directory unavailable: %s", exc)
            message = _("The hospital directory cannot be reached just now. Please try again in a few minutes.")
            if current_app.config["LOCAL_LOGIN_ENABLED"]:
                message += " " + _("If you have a password for Balint Groups, you can log in with it meanwhile.")
            form.username.errors.append(message)
            return login_page(directory_form=form), 503
        if identity is None:
            form.password.errors.append(_("Wrong user name or password."))
        else:
            response = _sign_in(identity, request.args.get("next"))
            if not isinstance(response, str):
                return response
            flash(response, "danger")
    return login_page(directory_form=form), 401 if form.is_submitted() else 200


@bp.route("/login/oidc")
@public
def login_oidc():
    """Leave for the single sign-on portal; the flow's state, nonce and PKCE verifier stay in this session."""
    settings = oidc_settings()
    if settings is None:
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    try:
        url, flow = oidc.begin(settings, time.time())
    except oidc.ProviderUnavailable as exc:
        log.warning("OpenID Connect provider unavailable: %s", exc)
        flash(_("The single sign-on service cannot be reached just now. Please try again in a few minutes."),
              "danger")
        return redirect(url_for("accounts.login"))
    flow["next"] = safe_next(request.args.get("next"))
    session[FLOW_KEY] = flow
    return redirect(url)


@bp.route("/login/oidc/callback")
@limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], SIGN_IN_SCOPE, deduct_when=_failed_login)
@public
def oidc_callback():
    """Back from the single sign-on portal: check everything, then log in (or say why not)."""
    settings = oidc_settings()
    if settings is None:
        abort(404)
    flow = session.pop(FLOW_KEY, None)  # one use: a second visit with the same answer finds no flow
    try:
        identity, id_token = oidc.finish(settings, flow, request.args, time.time())
    except oidc.ProviderUnavailable as exc:
        log.warning("OpenID Connect provider unavailable: %s", exc)
        flash(_("The single sign-on service cannot be reached just now. Please try again in a few minutes."),
              "danger")
        return login_page(), 503
    except oidc.ProviderRefused as exc:
        log.info("OpenID Connect sign-in refused: %s", exc.reason)
        flash(_("The sign-in could not be completed. Please start again from the log-in page."), "danger")
        return login_page(), 400
    response = _sign_in(identity, (flow or {}).get("next"))
    if isinstance(response, str):
        flash(response, "danger")
        return login_page(), 403
    session[ID_TOKEN_KEY] = id_token  # for signing out at the provider too
    return response


# --- a person's page: linked identities --------------------------------------------------------


@bp.route(f"/people/<{ID}:user_id>/identities", methods=["POST"])
@roles_required("coordinator")
def link_identity(user_id):
    """Link a directory or single sign-on identity to a person."""
    person = get_user_or_403(user_id, need="manage")
    form = LinkIdentityForm()
    if form.validate_on_submit():
        outcome = attempt(lambda: providers.link_identity(current_user, person, form.provider.data,
                                                          form.subject.data))
        if outcome.ok:
            flash(_("The sign-in is linked to %(name)s.", name=person.name), "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(error, "danger")
    return redirect(url_for("accounts.user", user_id=person.id))


@bp.route(f"/people/<{ID}:user_id>/identities/<{ID}:identity_id>/unlink", methods=["POST"])
@roles_required("coordinator")
def unlink_identity(user_id, identity_id):
    """Remove a linked sign-in from a person."""
    person = get_user_or_403(user_id, need="manage")
    link = db.session.get(ProviderIdentity, identity_id)
    if link is None or link.user_id != person.id:
        abort(404)
    attempt(lambda: providers.unlink_identity(current_user, link))
    flash(_("The sign-in is no longer linked to %(name)s.", name=person.name), "success")
    return redirect(url_for("accounts.user", user_id=person.id))
