"""What looks like a patient identifier in free text: the one place these patterns live.

Meeting records hold no patient identifiers. The guard refuses text containing a Chinese resident
ID number, a mobile number, a medical record / admission / outpatient number, a bed reference or a
date of birth, and says what to remove. Pure: no Flask, no database, no clock.

How it works: the text is first normalised into a working copy (full-width and other look-alike
characters become plain ASCII, every dash-like character becomes "-", invisible characters are
dropped, a run of seven or more Chinese digits such as 一三八... becomes digits), keeping for every
working character the position it came from, so that a finding quotes the text exactly as typed.
Numbers are then read as chains of digit groups joined by spaces, dashes, dots or slashes, so that
``110101 19900307 1234`` and ``138.1234.5678`` are tested as one number; labelled identifiers
(住院号：ZY12345, bed 12, 出生日期为…) are found with the words between a label and its value allowed.
False alarms are kept down by the rules of each kind: an ID number's birth date and check digit, a
mobile's 1[3-9] prefix and length, a label before every record number and date of birth.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

RESIDENT_ID = "resident_id"
MOBILE = "mobile"
RECORD_NUMBER = "record_number"
BED = "bed"
BIRTH_DATE = "birth_date"

# When two findings overlap, the more specific one is kept: a labelled record number is reported
# as a record number even when its digits would also pass for a mobile.
_PRIORITY = {RESIDENT_ID: 0, RECORD_NUMBER: 1, BIRTH_DATE: 2, BED: 3, MOBILE: 4}


@dataclass(frozen=True)
class Finding:
    """One match: which kind of identifier, and the original text that matched (as the user typed it)."""

    kind: str
    text: str


# --- normalising ---------------------------------------------------------------------------------

_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b\u30fc\ufe58\ufe63\uff0d\uff70")
_CN_DIGITS = str.maketrans("〇零幺一二三四五六七八九", "001123456789")
# Seven or more Chinese digits in a row are a number spelled out digit by digit (一三八一二三四五六七八).
_CN_DIGIT_RUN = re.compile("[〇零幺一二三四五六七八九]{7,}")


def _normalise(text: str) -> tuple[str, list[int]]:
    """The working copy of the text and, for each of its characters, the index it came from."""
    if text.isascii():
        return text, list(range(len(text)))
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        if ch < "\x80":
            chars.append(ch)
            origin.append(index)
            continue
        if unicodedata.category(ch) in ("Cf", "Mn", "Me"):
            continue  # zero-width spaces, joiners, soft hyphens, combining marks: invisible to the reader
        for out in unicodedata.normalize("NFKC", ch):
            if out in _DASHES:
                out = "-"
            elif not out.isascii() and unicodedata.category(out) == "Nd":
                out = str(unicodedata.digit(out))
            chars.append(out)
            origin.append(index)
    working = _CN_DIGIT_RUN.sub(lambda m: m.group().translate(_CN_DIGITS), "".join(chars))
    return working, origin


# --- numbers written in groups: resident IDs and mobiles ---------------------------------------

# Between digit groups: up to three spaces, dashes, dots, slashes, underscores or middle dots.
_SEP = r"[\s\-./_·•・]"
_CHAIN = re.compile(rf"[0-9]+(?:{_SEP}{{1,3}}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_TRAILING_X = re.compile(rf"{_SEP}{{0,3}}[Xx]")
_MOBILE = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Where an ID number is naturally split: after the region, the year, the month and the day.
_ID18_SPLITS = frozenset({6, 10, 12, 14})
_ID15_SPLITS = frozenset({6, 8, 10, 12})
_ID_GAP = r"(?:[\s:#=\-.,]|是|为|為|号码|號碼|号|號|码|卡|card|number|num|no|is|was)*"
_ID_LABEL_BEFORE = re.compile(
    rf"(?:身份证|身份證|身份|证件|證件|(?<![A-Za-z])ID|identity|identification){_ID_GAP}$", re.IGNORECASE
)
# Years a birth date in an ID may have: fixed, because a pure function reads no clock.
_FIRST_YEAR, _LAST_YEAR = 1900, 2099


def _is_date(year: int, month: int, day: int) -> bool:
    """Whether this is a real calendar day in the years an ID's birth date may have."""
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of an 18-character resident ID, from its first 17 digits."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _is_resident_id(chars: str, splits: set[int], labelled: bool) -> bool:
    """18 characters (17 digits and a check digit or X) or the old 15 digits, read as an ID number.

    Unlabelled, the 18-character form counts with a real birth date and either its check character
    or the grouping of an ID (110101 19900307 1234); the 15-digit form needs its birth date (19YYMMDD)
    and, if grouped, the grouping of an ID. After a label (身份证, ID) any 15 or 18 characters count.
    """
    if labelled:
        return True
    if chars[0] == "0":
        return False
    if len(chars) == 18:
        if not _is_date(int(chars[6:10]), int(chars[10:12]), int(chars[12:14])):
            return False
        if id_check_character(chars[:17]) == chars[17].upper():
            return True
        return bool(splits) and splits <= _ID18_SPLITS
    return _is_date(1900 + int(chars[6:8]), int(chars[8:10]), int(chars[10:12])) and splits <= _ID15_SPLITS


def _is_mobile(digits: str, sizes: list[int]) -> bool:
    """11 digits 1[3-9]…, after an optional 86 / 0086, in groups of two or more digits or digit by digit."""
    if not _MOBILE.fullmatch(digits):
        return False
    if digits.startswith("0086") and sizes[0] == 4 or digits.startswith("86") and sizes[0] == 2:
        sizes = sizes[1:]
    return all(size >= 2 for size in sizes) or all(size == 1 for size in sizes)


def _grouped_numbers(working: str) -> list[tuple[str, int, int]]:
    """Resident IDs and mobiles among the digit chains: (kind, start, end) in the working text."""
    found: list[tuple[str, int, int]] = []
    for chain in _CHAIN.finditer(working):
        groups = [(m.start(), m.end()) for m in _GROUP.finditer(working, chain.start(), chain.end())]
        x = _TRAILING_X.match(working, chain.end())
        for i, (start, _end) in enumerate(groups):
            digits = ""
            sizes: list[int] = []
            splits: set[int] = set()
            for j in range(i, len(groups)):
                if digits:
                    splits.add(len(digits))
                group_start, end = groups[j]
                digits += working[group_start:end]
                sizes.append(end - group_start)
                if len(digits) > 18:
                    break
                candidates = []
                if len(digits) in (15, 18):
                    candidates.append((digits, end))
                if len(digits) == 17 and x and j == len(groups) - 1:
                    candidates.append((digits + "X", x.end()))
                for chars, stop in candidates:
                    labelled = bool(_ID_LABEL_BEFORE.search(working, max(0, start - 30), start))
                    if _is_resident_id(chars, splits, labelled):
                        found.append((RESIDENT_ID, start, stop))
                if len(digits) in (11, 13, 15) and _is_mobile(digits, sizes):
                    # Keep the + of +86 in the quote.
                    found.append((MOBILE, start - (start > 0 and working[start - 1] == "+"), end))
    return found


# --- labelled identifiers: record numbers, beds, dates of birth --------------------------------

_I = re.IGNORECASE
_NOT_LETTER_BEFORE = r"(?<![A-Za-z])"
_NOT_LETTER_AFTER = r"(?![A-Za-z])"

# Words allowed between a label and its value: 是 / 为 / colon / # / "No." / "is" ...
_GAP = r"(?:[\s:#=\-]|是|为|為|号码|號碼|编号|號|号|no\.?(?![A-Za-z])|number|num\.?|nr\.?|is|was|of|the){0,6}"
# A record identifier: optional letters (ZY, MRN A-), then a digit, then letters, digits and inner - . /
_TOKEN = r"[A-Za-z]{0,6}[\s\-./#]?[0-9][A-Za-z0-9]*(?:[\-./][A-Za-z0-9]+)*"
_NUMBER_WORD = r"(?:no\.?|number|num\.?|nr\.?|#)"
_RECORD = re.compile(
    r"(?P<label>"
    r"(?:病历|病歷|病例|病案|住院|门诊|門診|急诊|急診|登记|登記|就诊|就診|诊疗|診療|档案|檔案|医保|醫保|社保|健康|ID)"
    r"\s*(?:卡号|卡號|号码|號碼|编号|編號|号|號)"
    r"|卡号|卡號"
    rf"|{_NOT_LETTER_BEFORE}(?:MRN|UHID){_NOT_LETTER_AFTER}"
    rf"|{_NOT_LETTER_BEFORE}medical\s+records?(?:\s*{_NUMBER_WORD})?"
    rf"|{_NOT_LETTER_BEFORE}(?:record|admission|inpatient|outpatient|hospital|hosp\.?|patient|case|chart|clinic"
    rf"|registration|IP|OP)\s*(?:{_NUMBER_WORD}|ID{_NOT_LETTER_AFTER})"
    rf"|{_NOT_LETTER_BEFORE}ID{_NOT_LETTER_AFTER}"
    rf"){_GAP}(?P<token>{_TOKEN})",
    _I,
)
# A bare "ID" right after these words is a video-meeting or room ID, not a patient's.
_NOT_PATIENT_ID = re.compile(
    r"(?:meeting|会议|會議|zoom|腾讯|騰訊|webex|teams|room|房间|user|login|wechat|微信)\s*$", _I
)

# After a bed number: a quantity or a duration, so it is a count (床位12张, bed 3 days), not a bed.
_NOT_A_QUANTITY = (
    r"(?!\s*(?:[个個张張间間位名人例次天日周週月年岁歲时時分秒%]|小时|小時|分钟|分鐘"
    r"|(?:kg|mg|ml|cm|mm|g|h|hrs?|hours?|mins?|minutes?|days?|weeks?|months?|years?|times?|beds?|patients?"
    r"|children|kids)(?![A-Za-z])|[.,][0-9]))"
)
_CN_NUM = "[〇零一二三四五六七八九十百]"
_BED = re.compile(
    # 12床, 12号床, 加3床, 12A床 (not 3张床, not 2床被子)
    r"(?<![0-9.])(?:加\s*)?[0-9]{1,4}\s*[A-Za-z]?\s*[号號]?\s*床(?![被褥毯单單])"
    r"|(?<![0-9.])[0-9]{1,4}\s*[号號]\s*(?:暖箱|保温箱|保溫箱)"
    # 床位12, 床号：12, 床位号是12, 加床3, 床 12 (not 卧床12小时, 床位12张)
    rf"|(?:床位[号號]?|床[号號]|加床|暖箱|保温箱|保溫箱)(?:[\s:#=\-]|是|为|為){{0,4}}[0-9]{{1,4}}[A-Za-z]?(?![0-9]){_NOT_A_QUANTITY}"
    rf"|(?<![卧臥])床\s*[:#\-]?\s*[0-9]{{1,4}}[A-Za-z]?(?![0-9]){_NOT_A_QUANTITY}"
    # bed 12, Bed-12, bed no. 12, bed #12, cot 4, incubator 2 (not bedside, bed rest, 3 beds)
    rf"|{_NOT_LETTER_BEFORE}(?:bed|cot|incubator)\s*(?:{_NUMBER_WORD}(?![A-Za-z]))?\s*[\-:#]?\s*"
    rf"[0-9]{{1,4}}[A-Za-z]?(?![0-9]){_NOT_A_QUANTITY}"
    # 三床, 十二床, 三号床, 加一床 (a lone 一床 is usually a quilt or 一床难求)
    rf"|(?<![同上下每单這这那哪几幾两兩〇零一二三四五六七八九十百])"
    rf"(?:加\s*{_CN_NUM}{{1,4}}|{_CN_NUM}{{1,4}}\s*[号號]|[二三四五六七八九十]{_CN_NUM}{{0,3}})\s*床(?![被褥毯单單位])",
    _I,
)

_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)(?![A-Za-z])\.?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_CN_DATE_NUM = "[〇零一二三四五六七八九十]"
_FULL_DATE = (
    r"[0-9]{4}\s*[\-/.]\s*[0-9]{1,2}\s*[\-/.]\s*[0-9]{1,2}(?![0-9])"
    r"|[0-9]{4}\s*年\s*[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*[日号號]?"
    r"|[0-9]{1,2}\s*[\-/.]\s*[0-9]{1,2}\s*[\-/.]\s*(?:[0-9]{4}|[0-9]{2})(?![0-9])"
    rf"|[0-9]{{1,2}}{_ORDINAL}\s*(?:of\s+)?{_MONTH}\s*,?\s*[0-9]{{4}}(?![0-9])"
    rf"|{_MONTH}\s*[0-9]{{1,2}}{_ORDINAL}\s*,?\s*[0-9]{{4}}(?![0-9])"
    rf"|{_CN_DATE_NUM}{{2,4}}\s*年\s*{_CN_DATE_NUM}{{1,2}}\s*月\s*{_CN_DATE_NUM}{{1,3}}\s*[日号號]?"
)
_YEAR_MONTH = (
    r"[0-9]{4}\s*年\s*[0-9]{1,2}\s*月(?!\s*[0-9])"
    r"|[0-9]{4}\s*[\-/.]\s*[0-9]{1,2}(?![0-9]|\s*[\-/.]\s*[0-9])"
    rf"|{_MONTH}\s*,?\s*[0-9]{{4}}(?![0-9])"
    rf"|{_CN_DATE_NUM}{{2,4}}\s*年\s*{_CN_DATE_NUM}{{1,2}}\s*月"
)
_MONTH_DAY = (
    r"[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*[日号號]"
    rf"|[0-9]{{1,2}}{_ORDINAL}\s*(?:of\s+)?{_MONTH}"
    rf"|{_MONTH}\s*[0-9]{{1,2}}{_ORDINAL}(?![0-9:])"
    rf"|{_CN_DATE_NUM}{{1,2}}\s*月\s*{_CN_DATE_NUM}{{1,3}}\s*[日号號]"
)
# Only after an unmistakable label (出生日期, 生日, DOB): 5.1 or 5/1, and 20190501 written solid.
_NUMERIC_MONTH_DAY = r"[0-9]{1,2}\s*[\-/.]\s*[0-9]{1,2}(?![0-9]|\s*[\-/.]\s*[0-9])|(?:19|20)[0-9]{6}(?![0-9])"
_DATE = rf"(?:{_FULL_DATE}|{_YEAR_MONTH}|{_MONTH_DAY})"
_BIRTH_GAP = r"(?:[\s:#=\-]|是|为|為|在|于|於|日期|on|in|is|was|the|of){0,6}"
_BIRTH = re.compile(
    # 出生日期：2019-05-01, 生日是5月1日, DOB 01/05/2019, date of birth 1 May 2019 (not 发生日期, 卫生日)
    r"(?:出生日期|出生年月日?|出生时间|出生時間|出生日|(?<![发發产產卫衛学學先医醫])生日|诞辰|誕辰"
    r"|date\s+of\s+birth|birth\s*date|birth\s*day|(?<![A-Za-z])d\.?\s?o\.?\s?b(?![A-Za-z])\.?)"
    rf"{_BIRTH_GAP}(?:{_DATE}|{_NUMERIC_MONTH_DAY})"
    # 出生于2019年5月1日, 生于…, born on May 1, 2019, born 2019-05-01 (not 发生于, not born in 2019)
    rf"|(?:出生|(?<![发發产產滋派衍寄])生于|(?<![发發产產滋派衍寄])生於|出世|诞生|誕生|降生|{_NOT_LETTER_BEFORE}born)"
    rf"{_BIRTH_GAP}{_DATE}"
    # 2019-05-01出生, 2019年5月1日生, 5月1日在本院出生 (a date, then the words for being born)
    rf"|(?<![0-9]){_DATE}\s*(?:(?:在|于|於)[^\s0-9，,。；;：:、]{{0,8}}?(?:医院|醫院|院|家中|家里|家裡|家))?\s*"
    r"(?:出生(?!缺陷|率|体重|體重|证|證|人口|数|數|登记|登記)|生人|出世|降生|诞生|誕生"
    r"|生(?=$|[\s，,。.;；、)）!！?？])|生的(?!病))",
    _I,
)
_LABELLED = ((RECORD_NUMBER, _RECORD), (BED, _BED), (BIRTH_DATE, _BIRTH))


def _labelled(working: str) -> list[tuple[str, int, int]]:
    """Record numbers, beds and dates of birth: (kind, start, end) in the working text."""
    found: list[tuple[str, int, int]] = []
    for kind, pattern in _LABELLED:
        for match in pattern.finditer(working):
            if kind == RECORD_NUMBER:
                token = match.group("token")
                label = match.group("label")
                if sum(c.isalnum() for c in token) < 3:
                    continue
                if label.upper() == "ID" and _NOT_PATIENT_ID.search(working, max(0, match.start() - 12),
                                                                    match.start()):
                    continue
            found.append((kind, match.start(), match.end()))
    return found


# --- the guard -----------------------------------------------------------------------------------

def find_identifiers(text: str | None) -> list[Finding]:
    """Every piece of the text that looks like a patient identifier, in order of appearance, without duplicates.

    Each finding quotes the original text (full-width digits, spaces and dashes as typed). Where two
    readings overlap, the more specific kind wins (resident ID, record number, date of birth, bed, mobile).
    """
    if not text:
        return []
    working, origin = _normalise(text)
    candidates = _grouped_numbers(working) + _labelled(working)
    candidates.sort(key=lambda c: (_PRIORITY[c[0]], c[1], c[1] - c[2]))
    kept: list[tuple[int, int, str]] = []  # (start, end, kind), sorted and never overlapping
    for kind, start, end in candidates:
        at = bisect.bisect_left(kept, (start, end, kind))
        if at > 0 and kept[at - 1][1] > start or at < len(kept) and kept[at][0] < end:
            continue
        kept.insert(at, (start, end, kind))
    found = [Finding(kind, text[origin[start]:origin[end - 1] + 1].strip()) for start, end, kind in kept]
    return list(dict.fromkeys(found))


def kinds_found(text: str | None) -> set[str]:
    """The kinds of identifier found in the text (empty: it looks de-identified)."""
    return {f.kind for f in find_identifiers(text)}
