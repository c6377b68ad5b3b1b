"""OpenID Connect (a hospital's single sign-on portal): the authorisation code flow with PKCE, through Authlib.

`begin()` makes the provider's sign-in address and the flow's secrets (state, nonce, PKCE verifier), which the
route keeps in the browser's signed session; `finish()` checks the state against that session, exchanges the code
(with the verifier) at the token endpoint, and checks the ID token's signature (the provider's published keys),
issuer, audience, expiry and nonce before trusting any claim. The provider's endpoints come from its discovery
document. The redirect URI is fixed by configuration, never taken from the request.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.accounts.providers.rules import ExternalIdentity, mapped_roles, parse_role_map

# requests, Authlib and joserfc (~18 MB together) are imported in the functions that use them, so that a worker
# holds them only when OpenID Connect sign-in is used.
if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session

DISCOVERY_TTL = 3600  # seconds a discovery document and key set are reused
FLOW_MAX_AGE = 600  # seconds between leaving for the provider and coming back


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered what no provider should."""


class ProviderRefused(Exception):
    """The sign-in cannot be trusted or was declined; `reason` is a code for the audit log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OidcSettings:
    """The OpenID Connect settings read from the app's configuration (config.py, OIDC_*)."""

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str
    scopes: str = "openid email profile"
    timeout: int = 10
    claim_email: str = "email"
    claim_name: str = "name"
    claim_staff_number: str = "employee_number"
    claim_department: str = "department"
    claim_organisation: str = "organisation"
    claim_roles: str | None = None
    role_map: str = ""

    @classmethod
    def from_config(cls, config, base_url: str) -> OidcSettings | None:
        """The settings, or None when OIDC_ISSUER or OIDC_CLIENT_ID is unset (the method is off)."""
        if not (config.get("OIDC_ISSUER") and config.get("OIDC_CLIENT_ID")):
            return None
        base = base_url.rstrip("/")
        return cls(
            issuer=config["OIDC_ISSUER"].rstrip("/"), client_id=config["OIDC_CLIENT_ID"],
            client_secret=config.get("OIDC_CLIENT_SECRET"),
            redirect_uri=config.get("OIDC_REDIRECT_URI") or base + "/login/oidc/callback",
            post_logout_redirect_uri=config.get("OIDC_POST_LOGOUT_REDIRECT_URI") or base + "/login",
            scopes=config.get("OIDC_SCOPES") or cls.scopes, timeout=int(config.get("OIDC_TIMEOUT", 10)),
            claim_email=config.get("OIDC_CLAIM_EMAIL") or "", claim_name=config.get("OIDC_CLAIM_NAME") or "",
            claim_staff_number=config.get("OIDC_CLAIM_STAFF_NUMBER") or "",
            claim_department=config.get("OIDC_CLAIM_DEPARTMENT") or "",
            claim_organisation=config.get("OIDC_CLAIM_ORGANISATION") or "",
            claim_roles=config.get("OIDC_CLAIM_ROLES"), role_map=config.get("OIDC_ROLE_MAP", ""),
        )


_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def _get_json(url: str, timeout: int, *, fresh: bool = False) -> dict:
    """A JSON document from the provider, kept for DISCOVERY_TTL seconds."""
    import requests

    with _cache_lock:
        hit = _cache.get(url)
    if hit and not fresh and time.monotonic() - hit[0] < DISCOVERY_TTL:
        return hit[1]
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"{url}: {exc}") from exc
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url}: not a JSON object")
    with _cache_lock:
        _cache[url] = (time.monotonic(), document)
    return document


def metadata(s: OidcSettings) -> dict:
    """The provider's discovery document; its issuer must be the configured one."""
    document = _get_json(s.issuer + "/.well-known/openid-configuration", s.timeout)
    if str(document.get("issuer", "")).rstrip("/") != s.issuer:
        raise ProviderUnavailable("the discovery document names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not document.get(key):
            raise ProviderUnavailable(f"the discovery document has no {key}")
    return document


def _client(s: OidcSettings) -> OAuth2Session:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(s.client_id, s.client_secret, scope=s.scopes, redirect_uri=s.redirect_uri,
                         code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")


def begin(s: OidcSettings, now: float) -> tuple[str, dict]:
    """(the provider's sign-in address, the flow to keep in the session until the browser comes back)."""
    flow = {"state": secrets.token_urlsafe(32), "nonce": secrets.token_urlsafe(32),
            "verifier": secrets.token_urlsafe(64), "at": now}
    with _client(s) as client:
        url, _ = client.create_authorization_url(metadata(s)["authorization_endpoint"], state=flow["state"],
                                                 nonce=flow["nonce"], code_verifier=flow["verifier"])
    return url, flow


def finish(s: OidcSettings, flow: dict | None, args: dict, now: float) -> tuple[ExternalIdentity, str]:
    """(the person's identity, the ID token for signing out at the provider) from the provider's answer `args`.

    Raises ProviderRefused (no flow in this session, another state, a flow too old, the provider's error, a code
    the provider does not accept — e.g. one used before —, a bad ID token or nonce) or ProviderUnavailable.
    """
    state = args.get("state") or ""
    if not flow or not isinstance(flow.get("state"), str) or not hmac.compare_digest(flow["state"], state):
        raise ProviderRefused("state_mismatch")
    if now - float(flow.get("at", 0)) > FLOW_MAX_AGE:
        raise ProviderRefused("flow_expired")
    if args.get("iss") and str(args["iss"]).rstrip("/") != s.issuer:  # RFC 9207: the answer names its issuer
        raise ProviderRefused("issuer_mismatch")
    if args.get("error"):
        raise ProviderRefused("provider_error:" + str(args["error"])[:60])
    code = args.get("code")
    if not code:
        raise ProviderRefused("no_code")
    import requests
    from authlib.integrations.base_client import OAuthError

    meta = metadata(s)
    try:
        with _client(s) as client:
            token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                       code_verifier=flow["verifier"], timeout=s.timeout)
    except OAuthError as exc:  # invalid_grant: a code used before, expired, or not for this client
        raise ProviderRefused("token_refused:" + str(exc.error)[:60]) from exc
    except requests.RequestException as exc:
        raise ProviderUnavailable(str(exc)) from exc
    id_token = token.get("id_token")
    if not id_token:
        raise ProviderRefused("no_id_token")
    claims = _verified_claims(s, meta, id_token, flow["nonce"])
    return identity_from_claims(s, claims), id_token


def _verified_claims(s: OidcSettings, meta: dict, id_token: str, nonce: str) -> dict:
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    algorithms = [a for a in meta.get("id_token_signing_alg_values_supported", ["RS256"]) if a != "none"]
    try:
        try:
            keys = KeySet.import_key_set(_get_json(meta["jwks_uri"], s.timeout))
            decoded = jwt.decode(id_token, keys, algorithms=algorithms)
        except (JoseError, ValueError):  # perhaps the provider rolled its keys: read them again once
            keys = KeySet.import_key_set(_get_json(meta["jwks_uri"], s.timeout, fresh=True))
            decoded = jwt.decode(id_token, keys, algorithms=algorithms)
        jwt.JWTClaimsRegistry(
            leeway=60, iss={"essential": True, "value": s.issuer}, sub={"essential": True},
            aud={"essential": True, "value": s.client_id}, exp={"essential": True}, iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise ProviderRefused("id_token_invalid:" + type(exc).__name__) from exc
    claims = decoded.claims
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != s.client_id:
        raise ProviderRefused("id_token_invalid:azp")
    return claims


def _claim(claims: dict, name: str) -> str | None:
    value = claims.get(name) if name else None
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, (dict, bool)):
        return None
    text = str(value).strip()
    return text or None


def identity_from_claims(s: OidcSettings, claims: dict) -> ExternalIdentity:
    """The person as the (verified) claims describe them, with the roles the roles claim maps to."""
    roles_claim = claims.get(s.claim_roles) if s.claim_roles else None
    if isinstance(roles_claim, str):
        roles_claim = roles_claim.split()
    roles = mapped_roles([str(r) for r in roles_claim] if isinstance(roles_claim, list) else [],
                         parse_role_map(s.role_map))
    email = _claim(claims, s.claim_email)
    return ExternalIdentity(
        provider="oidc", subject=str(claims["sub"]), display=email or str(claims["sub"]), email=email,
        email_verified=claims.get("email_verified") is True, name=_claim(claims, s.claim_name),
        staff_number=_claim(claims, s.claim_staff_number), department=_claim(claims, s.claim_department),
        organisation=_claim(claims, s.claim_organisation), roles=roles,
    )


def logout_url(s: OidcSettings, id_token: str | None) -> str | None:
    """Where to send the browser to end the provider's session too (None when the provider offers no way)."""
    try:
        endpoint = metadata(s).get("end_session_endpoint")
    except ProviderUnavailable:
        return None
    if not endpoint:
        return None
    from urllib.parse import urlencode

    params = {"client_id": s.client_id, "post_logout_redirect_uri": s.post_logout_redirect_uri}
    if id_token:
        params["id_token_hint"] = id_token
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)
