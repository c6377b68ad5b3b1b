"""Pure rules of the people import: column names and values in English and Chinese, cleaning, dates, e-mails.

No Flask and no database here: every function takes text and returns codes or cleaned values, so the mapping
of an HR spreadsheet's headers and words onto the app's fields is tested on its own.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from app.notifications.rules import is_platform_id

#: The fields of an import row, in the order of the template's columns.
FIELDS = ("name", "email", "staff_number", "organisation", "department", "profession", "roles", "groups",
          "joined_on", "wecom_userid", "dingtalk_userid")
#: Columns a file must have (the header row names them); every other column is optional.
REQUIRED_COLUMNS = ("name", "email")
LIST_FIELDS = ("roles", "groups")
#: The people's user ids on the chat platforms (what WeCom and DingTalk messages are addressed to).
PLATFORM_ID_FIELDS = ("wecom_userid", "dingtalk_userid")

#: Most rows one import takes (a file, a command or an API call), and the largest file accepted.
MAX_ROWS = 5000
MAX_FILE_BYTES = 5 * 1024 * 1024
#: The longest value each field may hold (the columns that store them).
MAX_LENGTHS = {"name": 120, "email": 254, "staff_number": 40, "organisation": 200, "department": 120,
               "profession": 60, "roles": 60, "groups": 200, "joined_on": 40, "wecom_userid": 64,
               "dingtalk_userid": 64}
MAX_LIST_ITEMS = 20

# Header names, compared after `header_key` (NFKC, case-folded, without spaces, punctuation and anything in
# brackets, so "E-mail (required)", "EMAIL" and "电子 邮件" all match).
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "personname", "staffname", "employeename", "姓名", "名字", "员工姓名",
             "人员姓名", "职工姓名"),
    "email": ("email", "emailaddress", "mail", "mailaddress", "邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址",
              "电子邮件地址", "电邮"),
    "staff_number": ("staffnumber", "staffno", "staffid", "employeenumber", "employeeno", "employeeid",
                     "personnelnumber", "工号", "员工号", "员工编号", "职工号", "职工编号", "人员编号", "工作证号"),
    "organisation": ("organisation", "organization", "org", "hospital", "institution", "employer", "unit", "单位",
                     "机构", "单位名称", "机构名称", "所属单位", "所属机构", "医院", "工作单位"),
    "department": ("department", "dept", "ward", "科室", "部门", "所在科室", "所属科室", "科室名称", "病区"),
    "profession": ("profession", "occupation", "jobcategory", "staffcategory", "职业", "职称类别", "职业类别",
                   "人员类别", "岗位类别", "职类"),
    "roles": ("roles", "role", "角色", "系统角色"),
    "groups": ("groups", "group", "groupstojoin", "balintgroups", "balintgroup", "小组", "巴林特小组", "加入小组",
               "所在小组", "组别"),
    "joined_on": ("startdate", "joinedon", "joined", "joindate", "joiningdate", "from", "since", "加入日期",
                  "入组日期", "开始日期", "加入时间"),
    "wecom_userid": ("wecomuserid", "wecomid", "wecom", "wecomaccount", "workwechatid", "workwechatuserid",
                     "wechatworkid", "wechatworkuserid", "企业微信", "企业微信id", "企业微信userid", "企业微信账号",
                     "企业微信帐号", "企业微信用户id", "企微账号", "企微id"),
    "dingtalk_userid": ("dingtalkuserid", "dingtalkid", "dingtalk", "dingtalkaccount", "钉钉", "钉钉id",
                        "钉钉userid", "钉钉账号", "钉钉帐号", "钉钉用户id"),
}

#: The template's header row per language (each is one of the synonyms above).
TEMPLATE_HEADERS: dict[str, tuple[str, ...]] = {
    "en": ("Name", "E-mail", "Staff number", "Organisation", "Department", "Profession", "Roles", "Groups",
           "Start date", "WeCom user id", "DingTalk user id"),
    "zh_CN": ("姓名", "邮箱", "工号", "单位", "科室", "职业", "角色", "小组", "加入日期", "企业微信账号", "钉钉账号"),
}

PROFESSION_SYNONYMS: dict[str, tuple[str, ...]] = {
    "physician": ("physician", "doctor", "medicaldoctor", "md", "psychiatrist", "医生", "医师", "临床医生",
                  "临床医师", "住院医师", "主治医师", "副主任医师", "主任医师", "精神科医师", "精神科医生"),
    "nurse": ("nurse", "nursing", "registerednurse", "护士", "护师", "主管护师", "副主任护师", "主任护师", "护理",
              "护理人员"),
    "psychologist": ("psychologist", "psychotherapist", "counsellor", "counselor", "心理治疗师", "心理咨询师",
                     "心理师"),
    "other": ("other", "others", "pharmacist", "technician", "administration", "admin", "其他", "其它", "医技",
              "药师", "技师", "行政", "管理", "后勤"),
}

ROLE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "member": ("member", "members", "participant", "成员", "组员", "学员", "参与者"),
    "leader": ("leader", "groupleader", "balintleader", "组长", "带领者", "带组人", "小组长"),
    # Recognised so that the refusal can say why: coordinators are appointed on the person's page.
    "coordinator": ("coordinator", "协调员", "协调人"),
}

# Codes of what can be wrong with one value (the service turns them into sentences in the reader's language).
TOO_LONG = "too_long"
FORMULA = "formula"
BAD_EMAIL = "bad_email"
UNDELIVERABLE_EMAIL = "undeliverable_email"
UNKNOWN_PROFESSION = "unknown_profession"
UNKNOWN_ROLE = "unknown_role"
COORDINATOR_ROLE = "coordinator_role"
BAD_DATE = "bad_date"
TOO_MANY_ITEMS = "too_many_items"
BAD_PLATFORM_ID = "bad_platform_id"

_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_LIST_SEPARATORS = re.compile(r"[,;、|\n]+")
_EMPTY_MARKS = re.compile(r"^[-—–/\\.]+$")
_KEY_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】")
_KEY_DROP = re.compile(r"[\W_]+")
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+\.[^@\s<>(),;:\"\[\]\\.]+$")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def _keep(char: str) -> bool:
    return char in "\n\t" or unicodedata.category(char) not in _DROPPED_CATEGORIES


def clean_text(value: str, *, multiline: bool = False) -> str:
    """A cell's text as the app keeps it: NFKC (full-width letters and digits become ordinary ones), without
    invisible and control characters, whitespace runs made one space (newlines kept when `multiline`).

    A cell holding only dashes, slashes or dots (HR's "nothing here") is empty.
    """
    text = unicodedata.normalize("NFKC", value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if _keep(ch))
    if multiline:
        text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
        text = text.strip("\n ")
    else:
        text = " ".join(text.split())
    return "" if _EMPTY_MARKS.match(text) else text


def split_list(value: str) -> list[str]:
    """The items of a list cell ("A, B", "A；B", "A、B", one per line), cleaned, empty ones left out."""
    items = (clean_text(part) for part in _LIST_SEPARATORS.split(clean_text(value, multiline=True)))
    return [item for item in items if item]


def header_key(text: str) -> str:
    """A header or value reduced for comparison: NFKC, case-folded, no brackets' content, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text or "")
    return _KEY_DROP.sub("", _KEY_BRACKETS.sub("", text)).casefold()


def name_key(text: str) -> str:
    """An organisation's or group's name for comparison: cleaned and case-folded (spaces kept, made single)."""
    return clean_text(text).casefold()


_HEADER_INDEX = {key: field for field, keys in HEADER_SYNONYMS.items() for key in keys}
_PROFESSION_INDEX = {key: code for code, keys in PROFESSION_SYNONYMS.items() for key in keys}
_ROLE_INDEX = {key: code for code, keys in ROLE_SYNONYMS.items() for key in keys}


def field_of_header(text: str) -> str | None:
    """The field a header names ("邮箱" → email), or None for a column the import does not use."""
    return _HEADER_INDEX.get(header_key(text))


def map_headers(headers: list[str]) -> tuple[dict[str, int], list[str], dict[str, list[str]]]:
    """(field → column index, headers of ignored columns, field → headers when two or more columns name it)."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    named: dict[str, list[str]] = {}
    for index, header in enumerate(headers):
        field = field_of_header(header)
        if field is None:
            if clean_text(header):
                ignored.append(clean_text(header))
            continue
        named.setdefault(field, []).append(clean_text(header))
        columns.setdefault(field, index)
    duplicates = {field: names for field, names in named.items() if len(names) > 1}
    return columns, ignored, duplicates


def profession_code(value: str) -> str | None:
    """The app's profession code for a word in English or Chinese ("护士" → nurse); None when unknown."""
    return _PROFESSION_INDEX.get(header_key(value))


def role_code(value: str) -> str | None:
    """The app's role code for a word in English or Chinese ("组长" → leader); None when unknown."""
    return _ROLE_INDEX.get(header_key(value))


def check_email(email: str) -> str | None:
    """None for an address the app can use, else BAD_EMAIL or UNDELIVERABLE_EMAIL (a reserved .invalid domain,
    as in the template's example row)."""
    if not email or len(email) > MAX_LENGTHS["email"] or not _EMAIL.match(email):
        return BAD_EMAIL
    if email.rsplit(".", 1)[-1] == "invalid":
        return UNDELIVERABLE_EMAIL
    return None


def parse_date(value: str) -> date | None:
    """A start date written as 2027-01-15, 2027/1/15, 2027.1.15, 2027年1月15日 or 20270115 (a time after it is
    ignored); None when it is none of these or no real day."""
    text = clean_text(value)
    for pattern in _DATE_PATTERNS:
        found = pattern.match(text)
        if found:
            try:
                return date(*(int(part) for part in found.groups()))
            except ValueError:
                return None
    return None


def cell_text(value) -> str:
    """A spreadsheet cell's value as text: numbers without a trailing .0 (staff numbers), dates as YYYY-MM-DD,
    booleans as TRUE/FALSE, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def value_problem(field: str, value: str) -> str | None:
    """What is wrong with a cleaned scalar value, as a code (TOO_LONG, FORMULA, BAD_PLATFORM_ID), or None."""
    if len(value) > MAX_LENGTHS[field]:
        return TOO_LONG
    if value.startswith("="):
        return FORMULA
    if field in PLATFORM_ID_FIELDS and value and not is_platform_id(value):
        return BAD_PLATFORM_ID
    return None
