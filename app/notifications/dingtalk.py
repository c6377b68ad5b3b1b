"""DingTalk (钉钉): the app's access token, work notifications to one person, signed group-robot posts.

Documented shapes: GET /gettoken?appkey=&appsecret= → {errcode, errmsg, access_token, expires_in};
POST /topapi/message/corpconversation/asyncsend_v2?access_token= {agent_id, userid_list, msg} → {errcode,
errmsg, task_id, request_id}; POST /robot/send?access_token=&timestamp=&sign= {msgtype, markdown} → {errcode,
errmsg}, where sign is Base64(HMAC-SHA256(secret, "timestamp\\nsecret")) and the timestamp is in milliseconds.
The base address is DINGTALK_API_BASE (tests point it at a loopback server).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from flask import current_app

from app.notifications.chat import call, with_token

PLATFORM = "dingtalk"
# 40014 invalid access_token, 42001 access_token expired (also given as sub_code of errcode 88 by newer APIs).
EXPIRED_TOKEN_CODES = frozenset({"40014", "42001"})
MARKDOWN_LIMIT = 5000


def _base() -> str:
    return current_app.config["DINGTALK_API_BASE"].rstrip("/")


def configured() -> bool:
    """True when the app key, app secret and agent id are all set."""
    config = current_app.config
    return bool(config.get("DINGTALK_APP_KEY") and config.get("DINGTALK_APP_SECRET")
                and config.get("DINGTALK_AGENT_ID"))


def fetch_token() -> tuple[str, int]:
    """A new access token and its lifetime in seconds. Raises PlatformError."""
    config = current_app.config
    body = call("GET", f"{_base()}/gettoken",
                params={"appkey": config["DINGTALK_APP_KEY"], "appsecret": config["DINGTALK_APP_SECRET"]})
    return body["access_token"], int(body.get("expires_in", 7200))


def send_work_notification(userid: str, title: str, text: str, now: datetime) -> dict:
    """Send one work notification (markdown) to the DingTalk user `userid`; the answer. Raises PlatformError."""
    payload = {
        "agent_id": int(current_app.config["DINGTALK_AGENT_ID"]), "userid_list": userid,
        "msg": {"msgtype": "markdown", "markdown": {"title": title[:100], "text": text[:MARKDOWN_LIMIT]}},
    }

    def send(token: str) -> dict:
        return call("POST", f"{_base()}/topapi/message/corpconversation/asyncsend_v2",
                    params={"access_token": token}, json=payload)

    return with_token(PLATFORM, fetch_token, EXPIRED_TOKEN_CODES, now, send)


def sign(timestamp_ms: int, secret: str) -> str:
    """The robot's signature: Base64 of HMAC-SHA256 over "timestamp\\nsecret" keyed with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def robot_post(webhook: str, secret: str | None, title: str, text: str, now: datetime) -> dict:
    """Post markdown to a DingTalk group robot, signed when it has a secret; the answer. Raises PlatformError."""
    params = {}
    if secret:
        timestamp = int(now.replace(tzinfo=UTC).timestamp() * 1000)
        params = {"timestamp": str(timestamp), "sign": sign(timestamp, secret)}
    return call("POST", webhook, params=params,
                json={"msgtype": "markdown", "markdown": {"title": title[:100], "text": text[:MARKDOWN_LIMIT]}})
