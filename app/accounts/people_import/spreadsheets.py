"""Reading HR spreadsheets (XLSX, or CSV in UTF-8 with or without BOM, GB18030 or UTF-16) and writing the
import template. No database here.

`read_table(content)` returns the header row and the data rows as text, whatever the format, or raises
ImportFileError with a code (the service says it in the reader's language). Formulas are never run: an XLSX
cell gives the value Excel last computed and saved with it, a CSV cell its text.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field

from app.accounts.people_import import rules
from app.csvutil import safe_cell

# What can be wrong with a whole file (codes; the service turns them into translated sentences).
EMPTY = "empty"
TOO_LARGE = "too_large"
NOT_A_SPREADSHEET = "not_a_spreadsheet"
OLD_EXCEL = "old_excel"
BAD_XLSX = "bad_xlsx"
ENCODING = "encoding"
NO_HEADER = "no_header"
MISSING_COLUMNS = "missing_columns"
DUPLICATE_COLUMNS = "duplicate_columns"
NO_ROWS = "no_rows"
TOO_MANY_ROWS = "too_many_rows"

#: How far down the header row may be (a title line or two above it is common in HR exports).
HEADER_SEARCH_ROWS = 10
#: Columns read per row: HR exports have many more than the import uses, but not thousands.
MAX_COLUMNS = 200
#: The most an XLSX may unpack to (a small file that unpacks to gigabytes is refused before it is read).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ImportFileError(Exception):
    """The file cannot be imported at all; `code` says why and `detail` carries names or numbers for the message."""

    def __init__(self, code: str, **detail):
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass
class Table:
    """A sheet as text: the header row, the data rows (each with its row number as the spreadsheet shows it),
    the format read and, for CSV, the encoding found."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]
    kind: str
    encoding: str | None = None
    columns: dict[str, int] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


# --- reading -----------------------------------------------------------------------------------


def read_table(content: bytes) -> Table:
    """The header row and data rows of an XLSX (its first sheet) or CSV file, headers mapped to fields.

    Raises ImportFileError: EMPTY, TOO_LARGE, OLD_EXCEL (a .xls), BAD_XLSX, NOT_A_SPREADSHEET, ENCODING,
    NO_HEADER, MISSING_COLUMNS, DUPLICATE_COLUMNS, NO_ROWS or TOO_MANY_ROWS.
    """
    if not content or not content.strip():
        raise ImportFileError(EMPTY)
    if len(content) > rules.MAX_FILE_BYTES:
        raise ImportFileError(TOO_LARGE, megabytes=rules.MAX_FILE_BYTES // (1024 * 1024))
    if content.startswith(_OLE_MAGIC):
        raise ImportFileError(OLD_EXCEL)
    if content.startswith(_XLSX_MAGIC):
        raw_rows, kind, encoding = _xlsx_rows(content), "xlsx", None
    else:
        text, encoding = decode_text(content)
        raw_rows, kind = _csv_rows(text), "csv"
    return _table(raw_rows, kind, encoding)


def decode_text(content: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in: UTF-8 (with or without BOM), UTF-16 with a BOM
    (Excel's "Unicode text"), else GB18030 (which includes GBK and GB2312, what Chinese Excel saves as CSV).

    Raises ImportFileError ENCODING when none of these reads it, NOT_A_SPREADSHEET for binary content.
    """
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif content.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text or _binary_share(text) > 0.01:
            raise ImportFileError(NOT_A_SPREADSHEET)
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    if b"\x00" in content[:4096]:
        raise ImportFileError(NOT_A_SPREADSHEET)
    raise ImportFileError(ENCODING)


def _binary_share(text: str) -> float:
    sample = text[:20000]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    return controls / max(len(sample), 1)


def _csv_rows(text: str) -> list[list[str]]:
    # The delimiter is the one the header row uses most, wherever among the first lines it is.
    head = [line for line in text.splitlines()[: HEADER_SEARCH_ROWS * 2] if line.strip()][:HEADER_SEARCH_ROWS]
    delimiter = max((",", "\t", ";"), key=lambda d: max((line.count(d) for line in head), default=0))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = []
        for row in reader:
            rows.append(row[:MAX_COLUMNS])
            if len(rows) > rules.MAX_ROWS + HEADER_SEARCH_ROWS + 1:
                break
    except csv.Error:
        raise ImportFileError(NOT_A_SPREADSHEET) from None
    return rows


def _xlsx_rows(content: bytes) -> list[list[str]]:
    """The first sheet's rows as text (cached values of formulas, never the formulas)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise ImportFileError(TOO_LARGE, megabytes=rules.MAX_FILE_BYTES // (1024 * 1024))
    except zipfile.BadZipFile:
        raise ImportFileError(BAD_XLSX) from None
    from openpyxl import load_workbook

    rows: list[list[str]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it does not know
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                for values in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
                    rows.append([rules.cell_text(value) for value in values])
                    if len(rows) > rules.MAX_ROWS + HEADER_SEARCH_ROWS + 1:
                        break
            finally:
                workbook.close()
    except ImportFileError:
        raise
    except Exception:  # openpyxl raises many kinds on a damaged or foreign file: each means "cannot read it"
        raise ImportFileError(BAD_XLSX) from None
    return rows


def _table(raw_rows: list[list[str]], kind: str, encoding: str | None) -> Table:
    numbered = [(number, row) for number, row in enumerate(raw_rows, start=1) if any(c.strip() for c in row)]
    if not numbered:
        raise ImportFileError(EMPTY)
    position = next((index for index, (_number, row) in enumerate(numbered[:HEADER_SEARCH_ROWS])
                     if len(rules.map_headers(row)[0]) >= 2), None)
    if position is None:
        raise ImportFileError(NO_HEADER)
    columns, ignored, duplicates = rules.map_headers(numbered[position][1])
    if duplicates:
        field_name, headers = next(iter(duplicates.items()))
        raise ImportFileError(DUPLICATE_COLUMNS, field=field_name, headers=headers)
    missing = [name for name in rules.REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ImportFileError(MISSING_COLUMNS, fields=missing)
    data = numbered[position + 1:]
    if not data:
        raise ImportFileError(NO_ROWS)
    if len(data) > rules.MAX_ROWS:
        raise ImportFileError(TOO_MANY_ROWS, limit=rules.MAX_ROWS)
    headers = numbered[position][1]
    return Table(headers=headers, rows=data, kind=kind, encoding=encoding, columns=columns, ignored=ignored)


# --- the template ------------------------------------------------------------------------------


def xlsx_cell(value):
    """A value as a template cell: text a spreadsheet would run as a formula gets a leading quote, and no
    character XML cannot hold."""
    cell = safe_cell(value)
    return _ILLEGAL_XML.sub("", cell) if isinstance(cell, str) else cell


def _sheet_title(text: str) -> str:
    """A sheet title Excel accepts: at most 31 characters, none of []:*?/\\ ."""
    return re.sub(r"[\[\]:*?/\\]", " ", text)[:31] or "Sheet"


def template_xlsx(title: str, headers: list[str], example: list, notes_title: str, notes: list[list[str]]) -> bytes:
    """The import template: a sheet `title` with the header row (bold, frozen) and one example row, and a sheet
    `notes_title` of notes (what each column takes). Every cell passes through xlsx_cell."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _sheet_title(title)
    sheet.append([xlsx_cell(h) for h in headers])
    sheet.append([xlsx_cell(v) for v in example])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, _header in enumerate(headers):
        sheet.column_dimensions[chr(ord("A") + index)].width = 22
    sheet.freeze_panes = "A2"
    notes_sheet = workbook.create_sheet(_sheet_title(notes_title))
    for row in notes:
        notes_sheet.append([xlsx_cell(v) for v in row])
    for cell in notes_sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCD", (18, 40, 60, 14), strict=True):
        notes_sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
