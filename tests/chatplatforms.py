"""A loopback WeCom and DingTalk for tests: the documented request and response shapes of the endpoints the app
calls (tokens, app messages and work notifications, group robots), checking tokens, secrets and robot
signatures, counting each robot's posts per minute of a test clock, and answering with errors on demand.

`serve_platforms(clock)` yields a `Platforms` with its base URL; point WECOM_API_BASE / DINGTALK_API_BASE at it.
`FakeClock` is a clock whose sleep moves its time on at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CORP_ID, WECOM_SECRET, WECOM_AGENT = "ww-test-corp", "wecom-app-secret", "1000002"
DING_KEY, DING_SECRET, DING_AGENT = "ding-app-key", "ding-app-secret", "2000003"


class FakeClock:
    """Naive-UTC time that only moves when told (or when the code under test sleeps)."""

    def __init__(self, start: datetime):
        self.current = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.current += timedelta(seconds=seconds)

    def advance(self, **delta) -> None:
        self.current += timedelta(**delta)


@dataclass
class Received:
    """One request the platforms answered: path, query parameters, JSON body, and the answer's errcode."""

    path: str
    params: dict
    body: dict
    errcode: int | None = None


@dataclass
class Platforms:
    """The loopback platforms' state: issued tokens, known robots, scripted failures, what arrived."""

    clock: FakeClock
    base: str = ""
    tokens: dict[str, str] = field(default_factory=dict)  # token → platform
    wecom_users: set[str] = field(default_factory=lambda: {"wx-member", "wx-leader"})
    ding_users: set[str] = field(default_factory=lambda: {"dd-member", "dd-leader"})
    wecom_robots: set[str] = field(default_factory=set)  # keys
    ding_robots: dict[str, str | None] = field(default_factory=dict)  # access_token → secret
    failures: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    received: list[Received] = field(default_factory=list)
    robot_times: dict[str, list[datetime]] = field(default_factory=lambda: defaultdict(list))
    token_fetches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, path: str, *answers: tuple[int, dict]) -> None:
        """The next requests to `path` get these (HTTP status, JSON body) answers instead of the real one."""
        self.failures[path].extend(answers)

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on (the platforms answer 42001)."""
        self.tokens.clear()

    def messages(self, path: str) -> list[Received]:
        """The requests to `path` that were accepted (errcode 0)."""
        return [r for r in self.received if r.path == path and r.errcode == 0]

    # --- the WSGI application --------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            status, body = self._answer(request)
        return Response(json.dumps(body, ensure_ascii=False), status=status,
                        content_type="application/json; charset=utf-8")(environ, start_response)

    def _answer(self, request: Request) -> tuple[int, dict]:
        params = dict(request.args)
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        record = Received(request.path, params, body if isinstance(body, dict) else {})
        self.received.append(record)
        if self.failures[request.path]:
            status, answer = self.failures[request.path].popleft()
            record.errcode = answer.get("errcode")
            return status, answer
        handler = ROUTES.get((request.method, request.path))
        if handler is None:
            return 404, {"errcode": 404, "errmsg": "not found"}
        if body is None or not isinstance(body, dict):
            record.errcode = 40035
            return 200, {"errcode": 40035, "errmsg": "invalid json"}
        answer = handler(self, params, body)
        record.errcode = answer.get("errcode")
        return 200, answer

    def _issue(self, platform: str) -> dict:
        self.token_fetches += 1
        token = secrets.token_hex(16)
        self.tokens[token] = platform
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def _token_ok(self, params: dict, platform: str) -> dict | None:
        token = params.get("access_token")
        if not token:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        if self.tokens.get(token) != platform:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def _robot_minute(self, robot: str) -> dict | None:
        """Both platforms refuse a robot's 21st message within a minute."""
        now = self.clock.now()
        recent = [t for t in self.robot_times[robot] if now - t < timedelta(minutes=1)]
        if len(recent) >= 20:
            return {"errcode": 130101 if robot.startswith("dd:") else 45009,
                    "errmsg": "send too fast, exceed 20 times per minute"}
        self.robot_times[robot].append(now)
        return None


def wecom_gettoken(p: Platforms, params: dict, body: dict) -> dict:
    if params.get("corpid") != CORP_ID or params.get("corpsecret") != WECOM_SECRET:
        return {"errcode": 40001, "errmsg": "invalid credential"}
    return p._issue("wecom")


def wecom_send(p: Platforms, params: dict, body: dict) -> dict:
    refused = p._token_ok(params, "wecom")
    if refused:
        return refused
    msgtype = body.get("msgtype")
    if str(body.get("agentid")) != WECOM_AGENT or msgtype not in ("text", "markdown") \
            or not isinstance(body.get(msgtype), dict) or not body[msgtype].get("content") or not body.get("touser"):
        return {"errcode": 40008, "errmsg": "invalid message"}
    unknown = [u for u in body["touser"].split("|") if u not in p.wecom_users]
    if len(unknown) == len(body["touser"].split("|")):
        return {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
    return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(unknown), "msgid": secrets.token_hex(8)}


def wecom_robot(p: Platforms, params: dict, body: dict) -> dict:
    key = params.get("key")
    if key not in p.wecom_robots:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    msgtype = body.get("msgtype")
    if msgtype not in ("text", "markdown") or not (body.get(msgtype) or {}).get("content"):
        return {"errcode": 40008, "errmsg": "invalid message"}
    return p._robot_minute(f"wx:{key}") or {"errcode": 0, "errmsg": "ok"}


def ding_gettoken(p: Platforms, params: dict, body: dict) -> dict:
    if params.get("appkey") != DING_KEY or params.get("appsecret") != DING_SECRET:
        return {"errcode": 40089, "errmsg": "invalid appkey or appsecret"}
    return p._issue("dingtalk")


def ding_send(p: Platforms, params: dict, body: dict) -> dict:
    refused = p._token_ok(params, "dingtalk")
    if refused:
        return {"errcode": 88, "errmsg": "ding talk error", "sub_code": str(refused["errcode"]),
                "sub_msg": refused["errmsg"]}
    msg = body.get("msg") or {}
    if str(body.get("agent_id")) != DING_AGENT or msg.get("msgtype") != "markdown" \
            or not (msg.get("markdown") or {}).get("text") or not (msg.get("markdown") or {}).get("title"):
        return {"errcode": 40035, "errmsg": "invalid message"}
    if not set(str(body.get("userid_list", "")).split(",")) <= p.ding_users:
        return {"errcode": 33012, "errmsg": "invalid userid"}
    return {"errcode": 0, "errmsg": "ok", "task_id": secrets.randbelow(10**9), "request_id": secrets.token_hex(6)}


def ding_robot(p: Platforms, params: dict, body: dict) -> dict:
    token = params.get("access_token")
    if token not in p.ding_robots:
        return {"errcode": 300001, "errmsg": "token is not exist"}
    secret = p.ding_robots[token]
    if secret is not None:
        try:
            stamp = int(params.get("timestamp", ""))
        except ValueError:
            return {"errcode": 310000, "errmsg": "sign not match"}
        expected = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(),
                                             hashlib.sha256).digest()).decode()
        sent_at = datetime.fromtimestamp(stamp / 1000, UTC).replace(tzinfo=None)
        if not hmac.compare_digest(expected, params.get("sign", "")) \
                or abs(sent_at - p.clock.now()) > timedelta(hours=1):
            return {"errcode": 310000, "errmsg": "sign not match, more: [see signature]"}
    if body.get("msgtype") != "markdown" or not (body.get("markdown") or {}).get("text"):
        return {"errcode": 40035, "errmsg": "invalid message"}
    return p._robot_minute(f"dd:{token}") or {"errcode": 0, "errmsg": "ok"}


ROUTES = {
    ("GET", "/cgi-bin/gettoken"): wecom_gettoken,
    ("POST", "/cgi-bin/message/send"): wecom_send,
    ("POST", "/cgi-bin/webhook/send"): wecom_robot,
    ("GET", "/gettoken"): ding_gettoken,
    ("POST", "/topapi/message/corpconversation/asyncsend_v2"): ding_send,
    ("POST", "/robot/send"): ding_robot,
}


@contextmanager
def serve_platforms(clock: FakeClock) -> Iterator[Platforms]:
    """Both platforms on one loopback port (their paths differ); yields their state, `base` set."""
    platforms = Platforms(clock)
    server = make_server("127.0.0.1", 0, platforms, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    platforms.base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield platforms
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def platform_config(base: str) -> dict:
    """The app settings that point both platforms at `base` with the loopback's credentials, channels on."""
    return {
        "NOTIFY_CHANNELS": "email,wecom,dingtalk", "WECOM_API_BASE": base, "DINGTALK_API_BASE": base,
        "WECOM_CORP_ID": CORP_ID, "WECOM_SECRET": WECOM_SECRET, "WECOM_AGENT_ID": WECOM_AGENT,
        "DINGTALK_APP_KEY": DING_KEY, "DINGTALK_APP_SECRET": DING_SECRET, "DINGTALK_AGENT_ID": DING_AGENT,
    }
