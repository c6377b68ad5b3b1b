"""The scheduling pages, one module per page family (the blueprint `bp` is in app/scheduling/__init__.py):
schedule.py (a group's series), meetings.py (one meeting, my meetings), holidays.py, feeds.py (calendars)."""

from app.scheduling.routes import feeds, holidays, meetings, schedule  # noqa: F401
