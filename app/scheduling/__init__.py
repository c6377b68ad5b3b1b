"""Scheduling: series of meetings, the holiday calendar, leader assignment, iCalendar feeds and reminders."""

from flask import Blueprint

bp = Blueprint("scheduling", __name__)

from app.scheduling import routes  # noqa: E402,F401
