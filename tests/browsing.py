"""Plain-HTTP browsing of a served app (gunicorn or a loopback server) for the load, crash and two-host tests.

`Browser` is one person's browser: a cookie jar, no redirect followed, CSRF tokens read from the pages. Its
cookies go to whichever host a request names, as a browser's do behind a load balancer (cookies are not kept
per port). `form_values(page)` gives what a browser would send for a page's POST form as it stands, and
`at_once(jobs)` runs requests at the same instant, one thread each.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser

from tests.factories import PASSWORD
from tests.loopback import cookie_opener

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """One person's browser; `base` is the host its requests go to unless a request names another."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = cookie_opener(self.jar)

    def request(self, path: str, data: dict | None = None, *, base: str | None = None, json_body: dict | None = None,
                headers: dict | None = None) -> tuple[int, str]:
        """GET, or POST the form `data` (or the JSON `json_body`); returns the status and the page."""
        headers = dict(headers or {})
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request((base or self.base) + path, data=body, headers=headers,
                                     method="POST" if body is not None else "GET")
        try:
            with self.opener.open(req, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read().decode()

    def csrf(self, path: str, *, base: str | None = None) -> str:
        """The CSRF token of the form on the page at `path`."""
        status, page = self.request(path, base=base)
        assert status == 200, (path, status)
        return CSRF.search(page).group(1)

    def sign_in(self, email: str, password: str = PASSWORD, *, base: str | None = None) -> int:
        """Post the log-in form (with its token); returns the status: 302 signed in, 200 refused, 429 limited."""
        token = self.csrf("/login", base=base)
        return self.request("/login", {"csrf_token": token, "email": email, "password": password}, base=base)[0]


class _FormValues(HTMLParser):
    """Collects the fields of each POST form as a browser would send them."""

    def __init__(self):
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self._form: list | None = None
        self._select: tuple[str, list[str], list[str]] | None = None  # name, option values, selected values
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = []
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "option" and self._select is not None:
            value = a.get("value") or ""
            self._select[1].append(value)
            if "selected" in a:
                self._select[2].append(value)
        elif tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if (kind in ("checkbox", "radio") and "checked" not in a) or kind in ("submit", "button", "file"):
                return
            self._form.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [], [])
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form.append((a["name"], ""))

    def handle_data(self, data):
        if self._textarea and self._form:
            name, value = self._form[-1]
            self._form[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            name, options, selected = self._select
            # A select with nothing marked sends its first option, as a browser does.
            for value in selected or options[:1]:
                self._form.append((name, value))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_values(page: str) -> list[tuple[str, str]]:
    """The fields a browser would send for the page's largest POST form, unchanged."""
    parser = _FormValues()
    parser.feed(page)
    return max(parser.forms, key=len)


def at_once(jobs: list[Callable], on_result: Callable | None = None) -> list:
    """Run every job at the same instant (one thread each); a connection error counts as None."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i: int, job) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except OSError:  # refused, reset or cut off by a crash
            results[i] = None
        if on_result:
            on_result(results[i])

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    return results
