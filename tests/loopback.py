"""The test app on a threaded loopback server, and plain-HTTP clients for it (cookies kept, redirects not followed),
for tests that need real concurrent requests: `serve_threaded(app)`, `cookie_opener(jar)`, `post_form(...)`;
`free_port()` for a server of a test's own."""

from __future__ import annotations

import http.cookiejar
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_threaded(app) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port, a thread per request); yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand a redirect back to the caller (its status tells what happened) instead of following it."""

    def redirect_request(self, *args, **kwargs):
        return None


def cookie_opener(jar: http.cookiejar.CookieJar) -> urllib.request.OpenerDirector:
    """An opener that keeps its cookies in `jar` and follows no redirect."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def post_form(opener: urllib.request.OpenerDirector, url: str, data: dict) -> int:
    """POST the form fields; returns the status (an error status too)."""
    body = urllib.parse.urlencode(data).encode()
    try:
        with opener.open(urllib.request.Request(url, data=body, method="POST"), timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
