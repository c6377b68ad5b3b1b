"""What the WeCom and DingTalk clients share: the platform's error, a clock, the HTTP client, the token cache.

Each platform has one small module (app.notifications.wecom, app.notifications.dingtalk) over `httpx`. Access
tokens live in the `platform_tokens` table, so every host and run shares one token per platform; a token is
fetched again REFRESH_MARGIN before it expires and at once when the platform answers that it expired.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.notifications.models import PlatformToken
from app.timeutil import utcnow

if TYPE_CHECKING:
    import httpx

REFRESH_MARGIN = timedelta(minutes=5)
# The platforms answer "rate limited" or "busy" with these codes (besides HTTP 429 and 5xx): try again later.
RETRYABLE_CODES = frozenset({
    "-1",  # both: system busy
    "45009", "45033",  # WeCom: API frequency out of limit; too many concurrent calls
    "90002", "90018", "90006",  # DingTalk: call limits and QPS limits of the app or token
    "130101",  # DingTalk robot: more than 20 messages a minute
})


class PlatformError(Exception):
    """A platform refused or failed a request: `code` (its errcode, or "http-<status>"), `message` (its errmsg).

    `retryable` is true for rate limits, server errors and network failures; false for refusals that a
    retry cannot mend (an unknown user id, a bad secret, a wrong signature).
    """

    def __init__(self, code: str, message: str, retryable: bool):
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message
        self.retryable = retryable


class Clock:
    """Wall-clock time as naive UTC, and waiting; tests pass a clock whose sleep only moves its time on.

    `Clock(start)` runs from `start` (as `flask notify send-due --now` asks) at the wall clock's pace.
    """

    def __init__(self, start: datetime | None = None):
        self.offset = start - utcnow() if start is not None else timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self.offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass
class Answer:
    """A platform's answer that said yes: the JSON body as it came (printed by `flask notify test`)."""

    body: dict


_clients = threading.local()


def http_client() -> httpx.Client:
    """This thread's HTTP client for the configured timeout and proxy (CHAT_PROXY, unset: direct), kept between
    calls so connections and the TLS set-up are reused."""
    import httpx  # here, not at the top: a worker holds httpx (~5 MB) only when a chat platform is used

    proxy = current_app.config.get("CHAT_PROXY") or None
    timeout = current_app.config.get("CHAT_TIMEOUT", 10)
    clients = getattr(_clients, "by_setting", None)
    if clients is None:
        clients = _clients.by_setting = {}
    client = clients.get((proxy, timeout))
    if client is None:
        client = clients[(proxy, timeout)] = httpx.Client(timeout=timeout, proxy=proxy, trust_env=False)
    return client


def call(method: str, url: str, *, params: dict | None = None, json: dict | None = None) -> dict:
    """One request to a platform; its JSON body when errcode is 0.

    Raises PlatformError: retryable for network errors, HTTP 429 and 5xx and RETRYABLE_CODES; not retryable
    for other HTTP errors, a body that is not JSON, or another non-zero errcode.
    """
    import httpx

    target = httpx.URL(url).copy_merge_params(params or {})  # a robot's webhook carries its own key already
    try:
        response = http_client().request(method, target, json=json)
    except httpx.HTTPError as exc:
        raise PlatformError("network", f"{type(exc).__name__}: {exc}", retryable=True) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise PlatformError(f"http-{response.status_code}", response.text[:200], retryable=True)
    if response.status_code >= 400:
        raise PlatformError(f"http-{response.status_code}", response.text[:200], retryable=False)
    try:
        body = response.json()
    except ValueError as exc:
        raise PlatformError("bad-answer", response.text[:200], retryable=False) from exc
    code = str(body.get("errcode", 0))
    if code == "88" and body.get("sub_code"):  # DingTalk's newer APIs put the real code in sub_code
        code = str(body["sub_code"])
    if code != "0":
        raise PlatformError(code, str(body.get("errmsg", "")), retryable=code in RETRYABLE_CODES)
    return body


def cached_token(platform: str, fetch: Callable[[], tuple[str, int]], now: datetime, force: bool = False) -> str:
    """The platform's access token from the shared cache, fetched (and stored) when missing, about to expire,
    or when `force` (the platform said the cached one expired).

    `fetch` returns (token, seconds it lives). Flushes; the caller's commit shares it with other hosts. Two
    hosts fetching at once both store theirs; either is valid (both platforms keep a token for its lifetime).
    Raises PlatformError from `fetch`.
    """
    row = db.session.get(PlatformToken, platform, populate_existing=True)
    if row is not None and not force and row.expires_at - REFRESH_MARGIN > now:
        return row.token
    token, lifetime = fetch()
    expires_at = now + timedelta(seconds=int(lifetime))
    if row is not None:
        row.token, row.expires_at, row.fetched_at = token, expires_at, now
        db.session.flush()
        return token
    try:
        with db.session.begin_nested():
            db.session.add(PlatformToken(platform=platform, token=token, expires_at=expires_at, fetched_at=now))
    except IntegrityError:  # another host stored one meanwhile: ours is as good
        row = db.session.get(PlatformToken, platform, populate_existing=True)
        row.token, row.expires_at, row.fetched_at = token, expires_at, now
        db.session.flush()
    return token


def with_token(platform: str, fetch: Callable[[], tuple[str, int]], expired_codes: frozenset[str], now: datetime,
               request: Callable[[str], dict]) -> dict:
    """Run `request(token)` with the cached token; when the platform answers with one of `expired_codes`,
    fetch a new token and run it once more. Raises PlatformError."""
    token = cached_token(platform, fetch, now)
    try:
        return request(token)
    except PlatformError as error:
        if error.code not in expired_codes:
            raise
    return request(cached_token(platform, fetch, now, force=True))
