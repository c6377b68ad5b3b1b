"""Signing in through the hospital's own accounts: a directory (LDAP / Active Directory) or an OpenID Connect portal.

`config.py` reads the settings, `ldap.py` and `oidc.py` speak to the servers and hand back an `ExternalIdentity`,
`rules.py` decides (pure) what a sign-in does, `services.py` does it (match, link, create, refuse, audit).
"""
