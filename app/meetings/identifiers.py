"""What looks like a patient identifier in free text: the one place these patterns live.

Meeting records hold no patient identifiers. The guard refuses text containing a Chinese resident
ID number, a mobile number, a medical record / admission / outpatient number, a bed reference or a
date of birth, and says what to remove. Pure: no Flask, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESIDENT_ID = "resident_id"
MOBILE = "mobile"
RECORD_NUMBER = "record_number"
BED = "bed"
BIRTH_DATE = "birth_date"

_DIGITS = "0-9０-９"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # 18 characters: 6-digit region, birth date YYYYMMDD, 3-digit sequence, check digit or X.
    (RESIDENT_ID, re.compile(
        r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
        r"(?![0-9A-Za-z])"
    )),
    # Mainland mobile: 11 digits starting 1[3-9], also written with spaces or hyphens (138 1234 5678).
    (MOBILE, re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")),
    # 病历号 / 住院号 / 门诊号 (and 病案号, 登记号, ID号, MRN) followed by digits, with or without a colon.
    (RECORD_NUMBER, re.compile(
        r"(?:病历|病案|住院|门诊|登记|就诊)(?:号|号码|编号)?\s*[:：#]?\s*[A-Za-z]?\d{3,}"
        r"|\b(?:MRN|medical\s+record|admission|outpatient|inpatient|case)\s*(?:no\.?|number|#)?\s*[:#]?\s*\d{3,}",
        re.IGNORECASE,
    )),
    # 12床 / 12号床 / 床号12 / 加3床 / bed 12 / bed no. 12.
    (BED, re.compile(r"\d+\s*号?\s*床|床\s*号?\s*[:：]?\s*\d+|\bbed\s*(?:no\.?|number|#)?\s*\d+", re.IGNORECASE)),
    # Date of birth: 出生日期/生日/出生于 or DOB / born (on) followed by a date.
    (BIRTH_DATE, re.compile(
        r"(?:出生日期|出生于|出生|生日|生于)\s*[:：]?\s*(?:\d{2,4}\s*[-/.年]\s*\d{1,2}(?:\s*[-/.月]\s*\d{1,2}\s*日?)?)"
        r"|\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?\s*(?:出生|生人|生的)"
        r"|\b(?:DOB|d\.o\.b\.?|date\s+of\s+birth|born(?:\s+on)?)\s*[:]?\s*\d{1,4}[-/. ]\d{1,2}(?:[-/. ]\d{1,4})?",
        re.IGNORECASE,
    )),
]


@dataclass(frozen=True)
class Finding:
    """One match: which kind of identifier, and the text that matched."""

    kind: str
    text: str


def _normalise(text: str) -> str:
    # Full-width digits and letters (１２３) behave as ASCII for matching.
    return text.translate({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)})


def find_identifiers(text: str | None) -> list[Finding]:
    """Every piece of the text that looks like a patient identifier, in order of kind, without duplicates."""
    if not text:
        return []
    normal = _normalise(text)
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(normal):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            found.append(Finding(kind, text[span[0]:span[1]].strip()))
    return found


def kinds_found(text: str | None) -> set[str]:
    """The kinds of identifier found in the text (empty: it looks de-identified)."""
    return {f.kind for f in find_identifiers(text)}
