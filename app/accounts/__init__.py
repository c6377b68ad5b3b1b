"""Accounts: users, roles, log-in, invitations, password reset, profile, training records."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from app.accounts import admin_routes, import_routes, routes  # noqa: E402,F401
