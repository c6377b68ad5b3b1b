"""The directory (OpenLDAP or Active Directory): check a person's password by binding as them and read their entry.

Two ways to find the person: a direct bind with a DN made from what they typed (LDAP_BIND_TEMPLATE, e.g.
"{username}@hospital.local" for AD), or search-then-bind with a service account (LDAP_SERVICE_DN). Every value put
into a filter is escaped (RFC 4515) and every value put into a DN is escaped (RFC 4514), so a typed name can never
widen a search.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import uuid
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.accounts.providers.rules import ExternalIdentity, mapped_roles, parse_role_map

if TYPE_CHECKING:
    import ldap3


@functools.cache
def _ldap3():
    """The ldap3 package with the submodules used here, imported on first use: a worker holds it (~5 MB) only
    when LDAP sign-in is used."""
    with warnings.catch_warnings():  # ldap3 imports names pyasn1 has since renamed (a DeprecationWarning at import)
        warnings.simplefilter("ignore", DeprecationWarning)
        import ldap3
        import ldap3.core.exceptions
        import ldap3.utils.conv
        import ldap3.utils.dn
    return ldap3


class DirectoryUnavailable(Exception):
    """The directory could not be reached or answered with an error (not a wrong password)."""


@dataclass(frozen=True)
class LdapSettings:
    """The directory settings read from the app's configuration (config.py, LDAP_*)."""

    url: str
    start_tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    timeout: int = 5
    bind_template: str | None = None
    service_dn: str | None = None
    service_password: str | None = None
    search_base: str = ""
    user_filter: str = "(&(objectClass=person)(uid={username}))"
    attr_id: str = "entryUUID"
    attr_email: str = "mail"
    attr_name: str = "displayName"
    attr_staff_number: str = "employeeNumber"
    attr_department: str = "departmentNumber"
    attr_organisation: str = "o"
    attr_groups: str | None = None
    group_search_base: str | None = None
    group_roles: str = ""

    @classmethod
    def from_config(cls, config) -> LdapSettings | None:
        """The settings, or None when no LDAP_URL is configured (the method is off)."""
        if not config.get("LDAP_URL"):
            return None
        return cls(
            url=config["LDAP_URL"], start_tls=config.get("LDAP_START_TLS", False),
            tls_verify=config.get("LDAP_TLS_VERIFY", True), ca_file=config.get("LDAP_CA_FILE"),
            timeout=int(config.get("LDAP_TIMEOUT", 5)), bind_template=config.get("LDAP_BIND_TEMPLATE"),
            service_dn=config.get("LDAP_SERVICE_DN"), service_password=config.get("LDAP_SERVICE_PASSWORD"),
            search_base=config.get("LDAP_SEARCH_BASE", ""),
            user_filter=config.get("LDAP_USER_FILTER") or cls.user_filter,
            attr_id=config.get("LDAP_ATTR_ID") or cls.attr_id, attr_email=config.get("LDAP_ATTR_EMAIL", cls.attr_email),
            attr_name=config.get("LDAP_ATTR_NAME", cls.attr_name),
            attr_staff_number=config.get("LDAP_ATTR_STAFF_NUMBER", cls.attr_staff_number),
            attr_department=config.get("LDAP_ATTR_DEPARTMENT", cls.attr_department),
            attr_organisation=config.get("LDAP_ATTR_ORGANISATION", cls.attr_organisation),
            attr_groups=config.get("LDAP_ATTR_GROUPS"), group_search_base=config.get("LDAP_GROUP_SEARCH_BASE"),
            group_roles=config.get("LDAP_GROUP_ROLES", ""),
        )


def user_filter(template: str, username: str) -> str:
    """The search filter for `username`, every special character escaped: `*`, `(`, `)`, `\\`, NUL.

    >>> user_filter("(uid={username})", "*)(uid=*")
    '(uid=\\\\2a\\\\29\\\\28uid=\\\\2a)'
    """
    return template.replace("{username}", _ldap3().utils.conv.escape_filter_chars(username))


def bind_name(template: str, username: str) -> str:
    """The DN (or user principal name) to bind as, the typed name escaped as a DN value."""
    return template.replace("{username}", _ldap3().utils.dn.escape_rdn(username))


@functools.cache
def _context_tls() -> type[ldap3.Tls]:
    """The ldap3.Tls subclass below, made on first use (ldap3 is imported only then)."""

    class ContextTls(_ldap3().Tls):
        """TLS for ldap3 through a standard-library SSLContext that checks the certificate and the host name
        itself during the handshake (ldap3's own host-name check calls ssl.match_hostname, deprecated and gone
        in 3.12)."""

        def __init__(self, context: ssl.SSLContext):
            super().__init__(validate=ssl.CERT_NONE)  # leaves ldap3's own check out
            self.context = context

        def wrap_socket(self, connection, do_handshake=False):
            connection.socket = self.context.wrap_socket(connection.socket, server_side=False,
                                                         do_handshake_on_connect=do_handshake,
                                                         server_hostname=connection.server.host)

    return ContextTls


def tls_context(s: LdapSettings) -> ssl.SSLContext:
    """Certificates checked against LDAP_CA_FILE (else the system's), host name included, unless LDAP_TLS_VERIFY
    is off."""
    context = ssl.create_default_context(cafile=s.ca_file)
    if not s.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _server(s: LdapSettings) -> ldap3.Server:
    ldap3 = _ldap3()
    tls = None
    if s.url.lower().startswith("ldaps://") or s.start_tls:
        tls = _context_tls()(tls_context(s))
    return ldap3.Server(s.url, tls=tls, connect_timeout=s.timeout, get_info=ldap3.NONE)


def _connection(s: LdapSettings, server: ldap3.Server, user: str | None, password: str | None) -> ldap3.Connection:
    """Bound as `user` (anonymous when None); raises LDAPBindError for wrong credentials."""
    ldap3 = _ldap3()
    conn = ldap3.Connection(server, user=user, password=password, receive_timeout=s.timeout, raise_exceptions=True,
                            read_only=True, auto_bind=ldap3.AUTO_BIND_NONE)
    try:
        conn.open()
        if s.start_tls:
            conn.start_tls()
        conn.bind()
    except BaseException:
        sock = getattr(conn, "socket", None)  # ldap3 leaves the socket of a failed connect open
        with contextlib.suppress(ldap3.core.exceptions.LDAPException):
            conn.unbind()
        if sock is not None:
            sock.close()
        raise
    return conn


def _first(entry: dict, name: str) -> str | None:
    if not name:
        return None
    values = entry.get(name) or []
    if not isinstance(values, list):
        values = [values]
    for value in values:
        if isinstance(value, bytes):  # objectGUID: 16 bytes, shown as AD shows it
            return str(uuid.UUID(bytes_le=value)) if len(value) == 16 else value.hex()
        text = str(value).strip()
        if text:
            return text
    return None


def _read_person(s: LdapSettings, conn: ldap3.Connection, username: str) -> tuple[str, dict] | None:
    """(dn, attributes) of the one entry the user filter finds, or None (none, or more than one)."""
    attributes = [a for a in (s.attr_id, s.attr_email, s.attr_name, s.attr_staff_number, s.attr_department,
                              s.attr_organisation, s.attr_groups) if a]
    conn.search(s.search_base, user_filter(s.user_filter, username), search_scope=_ldap3().SUBTREE,
                attributes=attributes, size_limit=2)
    entries = [e for e in conn.response if e.get("type") == "searchResEntry"]
    if len(entries) != 1:
        return None
    return entries[0]["dn"], dict(entries[0]["attributes"])


def _groups(s: LdapSettings, conn: ldap3.Connection, dn: str, entry: dict) -> list[str]:
    if s.attr_groups:
        values = entry.get(s.attr_groups) or []
        return [str(v) for v in (values if isinstance(values, list) else [values])]
    if s.group_search_base:
        ldap3 = _ldap3()
        value = ldap3.utils.conv.escape_filter_chars(dn)
        conn.search(s.group_search_base, f"(|(member={value})(uniqueMember={value}))", search_scope=ldap3.SUBTREE,
                    attributes=[])
        return [e["dn"] for e in conn.response if e.get("type") == "searchResEntry"]
    return []


def authenticate(s: LdapSettings, username: str, password: str) -> ExternalIdentity | None:
    """The person's identity when the directory accepts `username` and `password`, else None (unknown person, wrong
    password, or not found by the user filter — e.g. a disabled account the filter leaves out).

    Raises DirectoryUnavailable when the directory cannot be reached or fails.
    """
    username = (username or "").strip()
    if not username or not password or len(username) > 256:  # an empty password would be an anonymous bind
        return None
    errors = _ldap3().core.exceptions
    wrong_credentials = (errors.LDAPBindError, errors.LDAPInvalidCredentialsResult)
    try:
        server = _server(s)
        if s.service_dn:
            service = _connection(s, server, s.service_dn, s.service_password)
            try:
                found = _read_person(s, service, username)
                if found is None:
                    return None
                dn, entry = found
                try:
                    _connection(s, server, dn, password).unbind()
                except wrong_credentials:
                    return None
                groups = _groups(s, service, dn, entry)
            finally:
                service.unbind()
        elif s.bind_template:
            try:
                conn = _connection(s, server, bind_name(s.bind_template, username), password)
            except wrong_credentials:
                return None
            try:
                found = _read_person(s, conn, username)
                if found is None:
                    return None
                dn, entry = found
                groups = _groups(s, conn, dn, entry)
            finally:
                conn.unbind()
        else:
            raise DirectoryUnavailable("neither LDAP_SERVICE_DN nor LDAP_BIND_TEMPLATE is set")
    except (errors.LDAPException, ssl.SSLError, OSError) as exc:
        raise DirectoryUnavailable(str(exc)) from exc
    subject = _first(entry, s.attr_id) or dn
    return ExternalIdentity(
        provider="ldap", subject=subject, display=username,
        email=_first(entry, s.attr_email), email_verified=True, name=_first(entry, s.attr_name),
        staff_number=_first(entry, s.attr_staff_number), department=_first(entry, s.attr_department),
        organisation=_first(entry, s.attr_organisation),
        roles=mapped_roles(groups, parse_role_map(s.group_roles)),
    )
