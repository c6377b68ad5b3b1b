"""Feedback: rounds after every five held meetings, instruments, answers, interviews, results.

Views in routes/, operations in services/, pure rules in rules.py (the five-meeting rule) and scoring.py
(questionnaire scoring), read-only aggregates in queries.py, questionnaire files in instrument_files.py.
"""

from flask import Blueprint

bp = Blueprint("feedback", __name__)

from app.feedback import notices  # noqa: E402,F401  (registers the round e-mails)
from app.feedback.routes import answer, instruments, results, rounds  # noqa: E402,F401
