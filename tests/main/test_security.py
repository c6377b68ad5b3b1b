"""Security headers and the templates' discipline: no inline script, no inline event handlers."""

import re
from pathlib import Path

import pytest

from app import create_app

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def _markup_sources():
    for path in (ROOT / "templates").rglob("*.html"):
        yield path, path.read_text(encoding="utf-8")
    for path in (ROOT / "app").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "<html" in text or "<script" in text:
            yield path, text


@pytest.mark.parametrize("pattern", [INLINE_SCRIPT, EVENT_HANDLER, JS_URL], ids=["inline script", "on* handler",
                                                                               "javascript: URL"])
def test_no_template_holds_inline_script(pattern):
    offenders = []
    for path, text in _markup_sources():
        for match in pattern.finditer(text):
            snippet = match.group(0)
            if 'type="application/json"' in snippet:  # data, not script
                continue
            offenders.append(f"{path.relative_to(ROOT)}: {snippet[:60]}")
    assert not offenders, offenders


def test_the_login_page_carries_every_security_header(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP in development and tests


def test_production_adds_hsts(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("BASE_URL", "https://balint.example")
    app = create_app("production")
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()
