"""Pure rules of feedback rounds: the five-meeting rule (when a round is due, which meetings it covers).
No Flask, no database."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def round_due(uncovered_held: int, interval: int) -> bool:
    """True when the held meetings not covered by any round have reached the group's interval."""
    return interval >= 1 and uncovered_held >= interval


def rounds_to_open(uncovered_held_ids: Sequence[int], interval: int) -> list[list[int]]:
    """The meeting sets of the rounds to open now: consecutive chunks of exactly `interval` meetings.

    `uncovered_held_ids` is in chronological order. Normally this is one chunk at the moment the
    count reaches the interval; several when the interval was lowered. A remainder stays uncovered.
    Raises ValueError for an interval below 1.
    """
    if interval < 1:
        raise ValueError("interval must be at least 1")
    ids = list(uncovered_held_ids)
    whole = len(ids) // interval * interval
    return [ids[i:i + interval] for i in range(0, whole, interval)]


# --- self-generated codes --------------------------------------------------------------------------

CODE_LENGTH = 64  # hex digits of an HMAC-SHA256
_HEX = frozenset("0123456789abcdef")


def response_code(asked: bool, value: str | None) -> str | None:
    """The code to store with a response: None when the instrument version does not ask for codes or none was
    built; the lowercase hex HMAC otherwise. Raises ValueError for anything else (a code is never made up by a
    person: the page builds it, so a malformed one was not made by the page)."""
    if not asked or value is None or not value.strip():
        return None
    code = value.strip().lower()
    if len(code) != CODE_LENGTH or not set(code) <= _HEX:
        raise ValueError("not a response code")
    return code


def code_key(configured: str | None, secret_key: str) -> str:
    """The programme key the browser builds codes with: RESPONSE_CODE_KEY, else one derived from SECRET_KEY
    (stable as long as SECRET_KEY is). Changing it makes every later code differ: pairs across the change are lost.
    """
    if configured:
        return configured
    return hmac.new(secret_key.encode(), b"balint self-generated response code", hashlib.sha256).hexdigest()


def export_code_key(configured: str | None, secret_key: str) -> str:
    """The server-only key that re-keys codes in the evaluator export: EVALUATOR_CODE_KEY, else one derived from
    SECRET_KEY (apart from the programme key, which every member's page carries). Never sent to a browser."""
    if configured:
        return configured
    return hmac.new(secret_key.encode(), b"balint evaluator export code", hashlib.sha256).hexdigest()


def rekeyed_code(code: str, key: str) -> str:
    """A stored self-generated code as the evaluator export shows it: HMAC-SHA256 of the code with the export key.

    The same stored code always gives the same value (pairs across rounds still match), but whoever holds the
    export and the programme key cannot recompute it from a person's facts without the server's export key.
    """
    return hmac.new(key.encode(), code.encode(), hashlib.sha256).hexdigest()
