"""Accounts: users, roles, log-in, invitations, password reset, profile, training records, the people import.

Views in routes/ (one module per page family), operations in services.py, leader eligibility in rules.py, the
people import in people_import/ (its rules, spreadsheets, service and command).
"""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from app.accounts.routes import login, people, people_import, profile, providers  # noqa: E402,F401
