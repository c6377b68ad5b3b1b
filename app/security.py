"""HTTP security headers on every response: a Content-Security-Policy with no inline script, and friends."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask

# Scripts only from this server (no inline script, no eval); styles may be inline because the chart
# library writes its own; nothing may frame the app; forms post only back to it.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def content_security_policy(oidc_issuer: str | None = None) -> str:
    """The policy; with single sign-on, the sign-out form may also lead on to the portal's own sign-out page
    (form-action covers the redirect after a form is sent)."""
    if not oidc_issuer:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(oidc_issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in parts.netloc for c in " ;,'\""):
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


def register(app: Flask) -> None:
    """Add the headers after every request (HSTS only where cookies are Secure, i.e. behind HTTPS)."""

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(app.config.get("OIDC_ISSUER")))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
