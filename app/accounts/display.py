"""How the accounts pages show stored codes: roles, professions and training levels in the reader's language.

The templates reach `code_names()` through app/templating.py.
"""

from __future__ import annotations

from app.accounts.forms import level_choices, profession_choices, role_choices


def code_names() -> dict:
    """Translated names of roles, professions and training levels, for templates."""
    return {
        "role_names": dict(role_choices()),
        "profession_names": dict(profession_choices()),
        "level_names": dict(level_choices()),
    }
