"""The meeting pages, one module per page family (the blueprint `bp` is in app/meetings/__init__.py):
record.py (recording a meeting), notes.py (the leaders' private notes), themes.py (the theme list), live.py (the
live facilitation view and the phases), portfolio.py (portfolios, supervision, certificates), attendance.py (my
attendance, a group's timeline and attendance statistics)."""

from app.meetings.routes import attendance, live, notes, portfolio, record, themes  # noqa: F401
