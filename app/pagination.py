"""Paging and numeric query arguments that never reach the database out of range."""

from __future__ import annotations

from flask import current_app, request

from app.extensions import db

MAX_PAGE = 100_000
MAX_ID = 2_147_483_647


def page_number(name: str = "page") -> int:
    """The ?page= argument, clamped to 1..MAX_PAGE (anything unreadable is page 1)."""
    return min(max(request.args.get(name, 1, type=int) or 1, 1), MAX_PAGE)


def parse_id(text: str | None) -> int | None:
    """An id typed as a number (ASCII digits only: "³" and "٣" are digits to str.isdigit), or None when it is
    not one or lies beyond what an id column holds."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def id_arg(name: str) -> int | None:
    """An id from the query string, or None when missing, unreadable or beyond what an id column holds."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value <= MAX_ID else None


def paginate(query, page: int | None = None):
    """One page of a select, PAGE_SIZE rows, never an error for a page past the end."""
    return db.paginate(
        query, page=page or page_number(), per_page=current_app.config["PAGE_SIZE"], max_per_page=100,
        error_out=False,
    )
