"""A real OpenID Connect provider on loopback (the npm package oidc-provider, run with Node) for the single sign-on
tests: `Provider.start(redirect_uris, post_logout_redirect_uris)` runs tests/servers/oidc_provider.mjs on a free port
with one client and the accounts below; `sign_in(authorize_url, login)` goes through its own login page over HTTP
as a browser would and returns the address it sends the browser back to (with the code and state)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "servers" / "oidc_provider.mjs"
PACKAGE = ROOT / "node_modules" / "oidc-provider"
NODE = shutil.which("node")
CLIENT_ID = "balint-groups"
CLIENT_SECRET = "test-client-secret-0123456789"
ORGANISATION = "北京禾苗儿童医院"

# login (also the `sub`) -> claims
ACCOUNTS = {
    "chen.jing": {"email": "chen.jing@portal.test", "email_verified": True, "name": "陈静",
                  "employee_number": "P2001", "department": "儿科", "organisation": ORGANISATION,
                  "roles": ["balint-member"]},
    "liu.yang": {"email": "liu.yang@portal.test", "email_verified": False, "name": "刘洋"},
    "sun.li": {"email": "sun.li@portal.test", "email_verified": True, "name": "孙丽", "roles": ["balint-leader"]},
}


def available() -> bool:
    """Whether Node and the installed package are there (`npm ci` at set-up)."""
    return bool(NODE) and PACKAGE.exists()


class Provider:
    """The provider process on http://127.0.0.1:`port`."""

    def __init__(self, port: int, process: subprocess.Popen):
        self.port = port
        self.process = process

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, redirect_uris: list[str], post_logout_redirect_uris: list[str]) -> Provider:
        port = free_port()
        client = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris,
                  "post_logout_redirect_uris": post_logout_redirect_uris}
        env = {**os.environ, "OIDC_TEST_PORT": str(port), "OIDC_TEST_CLIENT": json.dumps(client),
               "OIDC_TEST_ACCOUNTS": json.dumps(ACCOUNTS)}
        process = subprocess.Popen([NODE, str(SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        provider = cls(port, process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the OpenID Connect provider exited with {process.returncode}")
            try:
                if requests.get(provider.issuer + "/.well-known/openid-configuration", timeout=1).ok:
                    return provider
            except requests.RequestException:
                time.sleep(0.1)
        provider.stop()
        raise RuntimeError("the OpenID Connect provider did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()

    def settings(self, redirect_uri: str, post_logout_redirect_uri: str, **extra) -> dict:
        """App settings for this provider and client."""
        return {"OIDC_ISSUER": self.issuer, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "OIDC_REDIRECT_URI": redirect_uri, "OIDC_POST_LOGOUT_REDIRECT_URI": post_logout_redirect_uri,
                "OIDC_CLAIM_ROLES": "roles", "OIDC_ROLE_MAP": "balint-leader=leader; balint-member=member",
                "OIDC_TIMEOUT": 5, **extra}


def sign_in(authorize_url: str, login: str, password: str = "any", stop_at: str = "") -> str:
    """Follow the provider's pages from `authorize_url` as a browser would: fill its login form, and return the
    address it finally sends the browser to outside the provider (starting with `stop_at`, the redirect URI)."""
    with requests.Session() as browser:
        url = authorize_url
        for _ in range(12):
            if stop_at and url.startswith(stop_at):
                return url
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            if not form:
                raise AssertionError(f"no form on the provider's page {url}: {response.text[:300]}")
            fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', response.text))
            if 'name="login"' in response.text:
                fields.update(login=login, password=password)
            response = browser.post(urljoin(url, form.group(1)), data=fields, allow_redirects=False, timeout=10)
            assert response.is_redirect, response.text[:300]
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("the provider sent the browser round in circles")
