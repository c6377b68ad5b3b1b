"""Which sign-in methods are on, read from the app's configuration at each request (tests may change it)."""

from __future__ import annotations

from flask import current_app

from app.accounts.providers.ldap import LdapSettings
from app.accounts.providers.oidc import OidcSettings
from app.notifications.mail import base_url


def ldap_settings() -> LdapSettings | None:
    """The directory's settings, or None when LDAP_URL is unset."""
    return LdapSettings.from_config(current_app.config)


def oidc_settings() -> OidcSettings | None:
    """The single sign-on settings, or None when OIDC_ISSUER or OIDC_CLIENT_ID is unset."""
    return OidcSettings.from_config(current_app.config, base_url())


def enabled_methods() -> dict[str, bool]:
    """{"local": …, "ldap": …, "oidc": …}: what the log-in page offers."""
    return {"local": bool(current_app.config["LOCAL_LOGIN_ENABLED"]), "ldap": ldap_settings() is not None,
            "oidc": oidc_settings() is not None}
