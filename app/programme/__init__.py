"""Programme set-up: organisations, groups, memberships and groups' standing leaders."""

from flask import Blueprint

bp = Blueprint("programme", __name__)

from app.programme import routes  # noqa: E402,F401
