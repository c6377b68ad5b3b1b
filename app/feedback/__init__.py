"""Feedback: rounds after every five held meetings, instruments, answers, interviews, results."""

from flask import Blueprint

bp = Blueprint("feedback", __name__)

from app.feedback import notices, routes  # noqa: E402,F401
