"""WeCom (企业微信): the app's access token, app messages to one person (`message/send`), group-robot posts.

Documented shapes: GET /cgi-bin/gettoken?corpid=&corpsecret= → {errcode, errmsg, access_token, expires_in};
POST /cgi-bin/message/send?access_token= {touser, msgtype, agentid, text|markdown} → {errcode, errmsg,
invaliduser, msgid}; POST /cgi-bin/webhook/send?key= {msgtype, text|markdown} → {errcode, errmsg}.
The base address is WECOM_API_BASE (tests point it at a loopback server).
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.notifications.chat import PlatformError, call, with_token

PLATFORM = "wecom"
# 40014 invalid access_token, 42001 access_token expired, 40001 invalid credential: fetch a new one, try once more.
EXPIRED_TOKEN_CODES = frozenset({"40014", "42001"})
TEXT_LIMIT = 2048  # bytes of a text message's content
MARKDOWN_LIMIT = 4096


def _base() -> str:
    return current_app.config["WECOM_API_BASE"].rstrip("/")


def configured() -> bool:
    """True when the corp id, agent id and app secret are all set."""
    config = current_app.config
    return bool(config.get("WECOM_CORP_ID") and config.get("WECOM_AGENT_ID") and config.get("WECOM_SECRET"))


def fetch_token() -> tuple[str, int]:
    """A new access token and its lifetime in seconds. Raises PlatformError."""
    config = current_app.config
    body = call("GET", f"{_base()}/cgi-bin/gettoken",
                params={"corpid": config["WECOM_CORP_ID"], "corpsecret": config["WECOM_SECRET"]})
    return body["access_token"], int(body.get("expires_in", 7200))


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` bytes of UTF-8 without splitting a character."""
    data = text.encode()
    return text if len(data) <= limit else data[:limit - 3].decode(errors="ignore") + "…"


def send_app_message(userid: str, content: str, now: datetime, markdown: bool = True) -> dict:
    """Send one app message to the WeCom user `userid`; the platform's answer.

    Raises PlatformError, also when WeCom names the user invalid (`invaliduser`): nothing reached them.
    """
    msgtype = "markdown" if markdown else "text"
    payload = {
        "touser": userid, "msgtype": msgtype, "agentid": int(current_app.config["WECOM_AGENT_ID"]),
        msgtype: {"content": clip(content, MARKDOWN_LIMIT if markdown else TEXT_LIMIT)},
    }

    def send(token: str) -> dict:
        return call("POST", f"{_base()}/cgi-bin/message/send", params={"access_token": token}, json=payload)

    body = with_token(PLATFORM, fetch_token, EXPIRED_TOKEN_CODES, now, send)
    if body.get("invaliduser"):
        raise PlatformError("invaliduser", f"WeCom does not know user {body['invaliduser']}", retryable=False)
    return body


def robot_post(webhook: str, content: str) -> dict:
    """Post markdown to a WeCom group robot (its webhook address carries the key); the answer. Raises PlatformError."""
    return call("POST", webhook, json={"msgtype": "markdown", "markdown": {"content": clip(content, MARKDOWN_LIMIT)}})
