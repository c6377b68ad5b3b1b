"""What the trends feature gives templates (registered in app/templating.py): a quarter's name."""

from __future__ import annotations

import re

from flask_babel import gettext as _


def quarter_label(key: str) -> str:
    """A quarter key ("2026-Q1" or "2026 Q1") in the reader's language."""
    match = re.fullmatch(r"(\d{4})[- ]Q([1-4])", str(key))
    if not match:
        return str(key)
    return _("%(year)s Q%(quarter)s", year=match.group(1), quarter=match.group(2))
