"""Feedback: rounds after every five held meetings, instruments, answers, interviews, results."""

from flask import Blueprint

bp = Blueprint("feedback", __name__)

from app.feedback import answer, instrument_routes, notices, results, routes  # noqa: E402,F401
