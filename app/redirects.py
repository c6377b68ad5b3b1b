"""Where a page may send the browser next: a `next` target is followed only when it stays on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """The `next` target when it stays on this site (a relative path), else None."""
    if not target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # not an address at all ("//[", a host Python refuses to split): stay home
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
