"""The interactive API documentation: Swagger UI served from the installed swagger-ui-bundle, never a CDN."""

from __future__ import annotations

from flask import Blueprint, abort, render_template_string, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from app.permissions import public

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1/docs")

ASSETS = frozenset({
    "swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "favicon-32x32.png", "favicon-16x16.png",
})

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Balint Groups API</title>
  <link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
  <link rel="icon" type="image/png" href="{{ asset('favicon-32x32.png') }}" sizes="32x32">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
  <script src="{{ asset('swagger-ui-bundle.js') }}"></script>
  <script src="{{ asset('swagger-ui-standalone-preset.js') }}"></script>
  <script src="{{ url_for('static', filename='js/api-docs.js') }}"></script>
</body>
</html>
"""


@bp.route("")
@public
def page():
    """The Swagger UI page for /api/v1/openapi.json."""
    return render_template_string(
        PAGE, spec_url=url_for("api-docs.openapi_json"),
        asset=lambda name: url_for("api_docs.asset", filename=name),
    )


@bp.route("/assets/<path:filename>")
@public
def asset(filename):
    """One of Swagger UI's own files, from the installed package."""
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
