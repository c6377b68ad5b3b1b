"""The API's description: the OpenAPI document (/api/v1/openapi.json) and the interactive page (/api/v1/docs,
Swagger UI served from the installed swagger-ui-bundle, never a CDN). Both are open to everyone, no token needed.

flask-smorest builds the document (app.extensions.api.spec) but serves nothing itself: OPENAPI_URL_PREFIX is
left unset, so it registers no blueprint of its own and every route here carries its access mark.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, json, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from app.extensions import api
from app.permissions import public

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

#: Swagger UI's files the page uses; no other file of the package is served.
ASSETS = frozenset({
    "swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "favicon-32x32.png", "favicon-16x16.png",
})


@bp.route("/openapi.json")
@public
def openapi_json():
    """The OpenAPI document of /api/v1."""
    return current_app.response_class(json.dumps(api.spec.to_dict(), indent=2, sort_keys=False),
                                      mimetype="application/json")


@bp.route("/docs")
@public
def page():
    """The Swagger UI page for /api/v1/openapi.json."""
    return render_template("api/docs.html")


@bp.route("/docs/assets/<path:filename>")
@public
def asset(filename):
    """One of Swagger UI's own files, from the installed package."""
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
