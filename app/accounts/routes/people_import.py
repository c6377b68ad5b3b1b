"""Coordinators' import of people from HR spreadsheets: upload and preview, confirm, and the template.

The preview runs the whole import and takes it back (nothing is saved); the page then carries the previewed
rows to the confirmation in a signed token, so what is applied is the file that was previewed, never rows the
browser could have edited. Confirming applies the rows again, against what is saved by then.
"""

from __future__ import annotations

from flask import Response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts import bp
from app.accounts.forms import ConfirmImportForm, ImportPeopleForm
from app.accounts.people_import import rules
from app.accounts.people_import import services as imports
from app.errors import DomainError
from app.extensions import db
from app.permissions import roles_required
from app.programme.models import Organisation
from app.web import attempt, refusal_to_field

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The largest token a confirmation form can carry (Flask reads at most 500 kB of form fields per request).
MAX_TOKEN_CHARS = 450_000


def _page(form: ImportPeopleForm, status: int = 200, **context):
    scope = current_user.coordinator_scope
    return render_template(
        "accounts/import.html", form=form, scope_org=db.session.get(Organisation, scope) if scope else None,
        max_rows=rules.MAX_ROWS, max_megabytes=rules.MAX_FILE_BYTES // (1024 * 1024), **context,
    ), status


def _uploaded_bytes(form: ImportPeopleForm) -> bytes | None:
    """The uploaded file's bytes (read up to one byte past the limit), or None after adding an error."""
    upload = form.file.data
    if not upload or not getattr(upload, "filename", None):
        form.file.errors = [*form.file.errors, _("Choose a file.")]
        return None
    return upload.read(rules.MAX_FILE_BYTES + 1)


@bp.route("/people/import", methods=["GET", "POST"])
@roles_required("coordinator")
def import_people():
    """Upload an HR spreadsheet and see every row's outcome before anything is saved."""
    form = ImportPeopleForm()
    if not form.validate_on_submit():
        return _page(form, 422 if form.is_submitted() else 200)
    content = _uploaded_bytes(form)
    if content is None:
        return _page(form, 422)
    # A preview is no writing view: it never commits (not `attempt`), and whatever it did is taken back.
    try:
        parsed = imports.parse_file(content)
        result = imports.import_people(current_user, parsed.rows, dry_run=True)
    except DomainError as exc:
        db.session.rollback()
        refusal_to_field(form, exc, "file")
        return _page(form, 422)
    db.session.rollback()  # belt and braces: the preview saved nothing
    filename = form.file.data.filename or ""
    token = imports.preview_token(current_user, parsed, filename)
    confirm = ConfirmImportForm(formdata=None, data={"token": token}) if len(token) <= MAX_TOKEN_CHARS else None
    return _page(form, result=result, parsed=parsed, filename=filename, confirm=confirm)


def _apply_preview(token: str) -> tuple[imports.ImportResult, str]:
    """Import the rows a preview token carries; (the result, the previewed file's name)."""
    rows, filename, digest = imports.rows_from_token(current_user, token)
    result = imports.import_people(current_user, rows, dry_run=False,
                                   source={"via": "page", "filename": filename, "sha256": digest})
    return result, filename


@bp.route("/people/import/confirm", methods=["POST"])
@roles_required("coordinator")
def confirm_import():
    """Apply a previewed file: each row as the preview showed it, unless what is saved has changed since."""
    form = ConfirmImportForm()
    upload = ImportPeopleForm(formdata=None)
    outcome = attempt(lambda: _apply_preview(form.token.data or ""), form=upload, field="file")
    if not outcome.ok:
        return _page(upload, 422)
    result, filename = outcome.result
    return render_template("accounts/import_result.html", result=result, filename=filename)


@bp.route("/people/import/template.xlsx")
@roles_required("coordinator")
def import_template():
    """The import template (XLSX): headers and an example row, in the reader's language unless ?lang= says."""
    language = request.args.get("lang") or str(get_locale() or "en")
    language = "zh_CN" if language.startswith("zh") else "en"
    body = imports.template_workbook(current_user, language)
    response = Response(body, mimetype=XLSX_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="balint-people-import-{language}.xlsx"'
    response.headers["Cache-Control"] = "no-store"
    return response
