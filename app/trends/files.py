"""Export files: CSV and XLSX bodies from a header and rows, and the download response that carries them."""

from __future__ import annotations

import io
import re
import zipfile

from flask import Response

from app.csvutil import csv_text, safe_cell
from app.timeutil import local_today

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters an XLSX cell may not hold (XML 1.0 control characters); tab, LF and CR are allowed.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Sheet = tuple[str, list, list]  # (title, header, rows)


def xlsx_cell(value):
    """A value as an XLSX cell: the same formula guard as CSV, and no characters XML cannot hold."""
    cell = safe_cell(value)
    return _ILLEGAL_XML.sub("", cell) if isinstance(cell, str) else cell


def xlsx_bytes(sheets: list[Sheet]) -> bytes:
    """A workbook with one sheet per (title, header, rows); headers bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        # Sheet titles: at most 31 characters, none of []:*?/\ .
        sheet = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", title)[:31])
        sheet.append([xlsx_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = bold
        for row in rows:
            sheet.append([xlsx_cell(v) for v in row])
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _attachment(body: bytes, mimetype: str, name: str) -> Response:
    """The body as a download named `name`, never cached."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _name(kind: str, suffix: str = "") -> str:
    return f"balint-{kind}-{local_today().isoformat()}{suffix}"


def download(kind: str, fmt: str, main: Sheet, items_sheet: Sheet, extra_sheets: list[Sheet] = ()) -> Response:
    """The export as an attachment named balint-<kind>-<local date>.<fmt>, never cached: as CSV the main sheet
    alone, as XLSX the main sheet, the extra ones and the items sheet."""
    _title, header, rows = main
    if fmt == "csv":
        return _attachment(csv_text(header, rows).encode("utf-8"), "text/csv; charset=utf-8", _name(kind, ".csv"))
    return _attachment(xlsx_bytes([main, *extra_sheets, items_sheet]), XLSX_TYPE, _name(kind, ".xlsx"))


def download_with_dictionary(kind: str, fmt: str, main: Sheet, dictionary: Sheet) -> Response:
    """A data file with its data dictionary: as XLSX a workbook of the two sheets; as CSV a ZIP archive of two CSV
    files, balint-<kind>-<local date>.csv and balint-<kind>-<local date>-dictionary.csv (the CSV alone could be
    read without knowing what its columns and missing values mean)."""
    if fmt != "csv":
        return _attachment(xlsx_bytes([main, dictionary]), XLSX_TYPE, _name(kind, ".xlsx"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for suffix, (_title, header, rows) in (("", main), ("-dictionary", dictionary)):
            archive.writestr(_name(kind, f"{suffix}.csv"), csv_text(header, rows).encode("utf-8"))
    return _attachment(out.getvalue(), "application/zip", _name(kind, ".zip"))
