"""Importing people and their group memberships from HR spreadsheets (XLSX, CSV), the command line or the API.

One service does the work for every surface: `import_people(actor, rows, dry_run=...)`. Each row is applied in
a SAVEPOINT of its own through the accounts and programme services (create_user, update_profile, set_roles,
add_member), so a row those services refuse is rolled back alone, with their message, and never blocks the
others. A dry run (the page's preview, `--dry-run`, `"dry_run": true`) does exactly the same inside a SAVEPOINT
that is then rolled back: what the preview shows is what applying does, and it saves nothing.

Rows are matched to people by e-mail address, and checked against the staff number (工号) recorded for their
organisation, so importing the same file again changes nothing. Empty cells leave what is saved as it is; roles
are only ever added. New people get an invitation e-mail through the notification outbox (sent by
`flask notify send-due`, not inside the request). Every import that saves is audited (`people_imported`).
The service flushes and never commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts import services as accounts
from app.accounts.models import StaffNumber, User
from app.accounts.people_import import rules
from app.accounts.people_import.spreadsheets import ImportFileError, Table, read_table, template_xlsx
from app.audit.services import record_action
from app.errors import DomainError, NotAllowed
from app.extensions import db
from app.notifications import services as notifications
from app.notifications.invitations import queue_invitations
from app.programme import services as programme
from app.programme.models import Group, Membership, Organisation
from app.timeutil import local_today, utcnow

NEW = "new"
UPDATED = "updated"
UNCHANGED = "unchanged"
REFUSED = "refused"
OUTCOMES = (NEW, UPDATED, UNCHANGED, REFUSED)

#: How long a preview can be confirmed.
PREVIEW_MAX_AGE_SECONDS = 2 * 60 * 60
_CHUNK = 500


# --- rows ----------------------------------------------------------------------------------------


@dataclass
class SourceRow:
    """One row as given (a file's cells or an API item), before cleaning; `line` is its row number."""

    line: int
    name: str = ""
    email: str = ""
    staff_number: str = ""
    organisation: str = ""
    department: str = ""
    profession: str = ""
    roles: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    joined_on: str = ""
    wecom_userid: str = ""
    dingtalk_userid: str = ""

    def to_list(self) -> list:
        return [self.line, self.name, self.email, self.staff_number, self.organisation, self.department,
                self.profession, self.roles, self.groups, self.joined_on, self.wecom_userid, self.dingtalk_userid]

    @classmethod
    def from_list(cls, data: list) -> SourceRow:
        """The row `to_list` gave. Raises ValueError for anything else."""
        if not isinstance(data, list) or len(data) != 12 or not isinstance(data[0], int):
            raise ValueError("not a row")
        texts = data[1:7] + data[9:12]
        lists = data[7:9]
        if not all(isinstance(t, str) for t in texts) or not all(
            isinstance(items, list) and all(isinstance(i, str) for i in items) for items in lists
        ):
            raise ValueError("not a row")
        return cls(data[0], *data[1:7], roles=list(data[7]), groups=list(data[8]), joined_on=data[9],
                   wecom_userid=data[10], dingtalk_userid=data[11])


@dataclass
class RowResult:
    """What happened (or, in a dry run, would happen) to one row: its outcome and, in the reader's language,
    the changes (new, updated) or the reasons it was refused."""

    line: int
    email: str
    name: str
    organisation: str
    outcome: str
    details: list[str] = field(default_factory=list)
    user_id: int | None = None


@dataclass
class ImportResult:
    """Every row's result, with the memberships added and the invitations queued."""

    rows: list[RowResult]
    dry_run: bool
    memberships: int = 0
    invitations: int = 0

    @property
    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(OUTCOMES, 0)
        for row in self.rows:
            found[row.outcome] += 1
        return found

    @property
    def changes(self) -> int:
        """Rows that change something (new or updated): 0 when the same file is imported again."""
        counts = self.counts
        return counts[NEW] + counts[UPDATED]

    @property
    def refused(self) -> list[RowResult]:
        return [row for row in self.rows if row.outcome == REFUSED]


# --- names in the reader's language --------------------------------------------------------------


def column_label(name: str) -> str:
    """A field's column name in the reader's language."""
    return {
        "name": _("Name"), "email": _("E-mail"), "staff_number": _("Staff number"),
        "organisation": _("Organisation"), "department": _("Department"), "profession": _("Profession"),
        "roles": _("Roles"), "groups": _("Groups"), "joined_on": _("Start date"),
        "wecom_userid": _("WeCom user id"), "dingtalk_userid": _("DingTalk user id"),
    }[name]


def profession_label(code: str | None) -> str:
    names = {"physician": _("Physician"), "nurse": _("Nurse"), "psychologist": _("Psychologist"), "other": _("Other")}
    return names.get(code, "—") if code else "—"


def role_label(code: str) -> str:
    return {"coordinator": _("Coordinator"), "leader": _("Leader"), "member": _("Member")}.get(code, code)


def file_error_message(exc: ImportFileError) -> str:
    """The reason a whole file is refused, in the reader's language."""
    detail = exc.detail
    messages = {
        "empty": lambda: _("The file is empty."),
        "too_large": lambda: _("The file is larger than %(n)d MB. Split it into smaller files.",
                               n=detail.get("megabytes", 0)),
        "old_excel": lambda: _("This is an old Excel file (.xls). Save it as .xlsx or as CSV and upload that."),
        "bad_xlsx": lambda: _("The file cannot be read as an Excel workbook (.xlsx). Save it again from Excel, "
                              "or as CSV."),
        "not_a_spreadsheet": lambda: _("This is not a spreadsheet. Upload an Excel workbook (.xlsx) or a CSV file."),
        "encoding": lambda: _("The text of the file is neither UTF-8 nor GB18030. Save it as CSV UTF-8 or as .xlsx."),
        "no_header": lambda: _("No header row was found: the first row must name the columns, e.g. "
                               "Name, E-mail (姓名, 邮箱). Download the template to see them."),
        "missing_columns": lambda: _("The file has no column for: %(columns)s.", columns=", ".join(
            column_label(name) for name in detail.get("fields", []))),
        "duplicate_columns": lambda: _("Several columns mean %(column)s: %(headers)s. Keep one.",
                                       column=column_label(detail.get("field", "name")),
                                       headers=", ".join(detail.get("headers", []))),
        "no_rows": lambda: _("The file has a header row but no people in it."),
        "too_many_rows": lambda: _("The file has more than %(n)d rows. Split it into smaller files.",
                                   n=detail.get("limit", rules.MAX_ROWS)),
    }
    return messages.get(exc.code, messages["not_a_spreadsheet"])()


# --- from a file ---------------------------------------------------------------------------------


@dataclass
class ParsedFile:
    """A file read into rows: its SHA-256, the format and encoding found, and the columns it ignored."""

    rows: list[SourceRow]
    digest: str
    kind: str
    encoding: str | None
    ignored: list[str]


def rows_from_table(table: Table) -> list[SourceRow]:
    """The data rows of a table as SourceRows (list cells split at commas, semicolons, 、 and line breaks)."""

    def cell(cells: list[str], name: str) -> str:
        index = table.columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    return [
        SourceRow(
            line=line, name=cell(cells, "name"), email=cell(cells, "email"), staff_number=cell(cells, "staff_number"),
            organisation=cell(cells, "organisation"), department=cell(cells, "department"),
            profession=cell(cells, "profession"), roles=rules.split_list(cell(cells, "roles")),
            groups=rules.split_list(cell(cells, "groups")), joined_on=cell(cells, "joined_on"),
            wecom_userid=cell(cells, "wecom_userid"), dingtalk_userid=cell(cells, "dingtalk_userid"),
        )
        for line, cells in table.rows
    ]


def parse_file(content: bytes) -> ParsedFile:
    """Read an uploaded XLSX or CSV file into rows. Raises DomainError (field `file`) with the reason, translated."""
    try:
        table = read_table(content)
    except ImportFileError as exc:
        raise DomainError(file_error_message(exc), field="file") from None
    return ParsedFile(rows=rows_from_table(table), digest=hashlib.sha256(content).hexdigest(), kind=table.kind,
                      encoding=table.encoding, ignored=table.ignored)


# --- carrying a preview to its confirmation ------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="balint-people-import")


def preview_token(actor: User, parsed: ParsedFile, filename: str) -> str:
    """A signed, compressed token of the previewed rows, for this coordinator only: the page sends it back to
    confirm, and nothing the browser could edit is trusted (a changed token fails its signature)."""
    return _serializer().dumps({"a": actor.id, "f": filename[:200], "h": parsed.digest,
                                "r": [row.to_list() for row in parsed.rows]})


def rows_from_token(actor: User, token: str) -> tuple[list[SourceRow], str, str]:
    """(rows, filename, SHA-256) of a preview this coordinator made less than two hours ago.

    Raises DomainError when the token is expired, altered, made for someone else or not a preview.
    """
    invalid = DomainError(_("This preview has expired or is not valid. Upload the file again."), field="file")
    try:
        data = _serializer().loads(token or "", max_age=PREVIEW_MAX_AGE_SECONDS)
    except SignatureExpired:
        raise invalid from None
    except (BadSignature, ValueError, UnicodeError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("a") != actor.id or not isinstance(data.get("r"), list):
        raise invalid
    try:
        rows = [SourceRow.from_list(item) for item in data["r"]]
    except ValueError:
        raise invalid from None
    return rows, str(data.get("f") or ""), str(data.get("h") or "")


# --- the import ----------------------------------------------------------------------------------


@dataclass
class _Clean:
    """A row's values cleaned and mapped to the app's codes (empty text: not given)."""

    line: int
    name: str
    email: str
    staff_number: str
    organisation: str
    department: str
    profession: str | None
    roles: list[str]
    groups: list[str]
    joined_on: date
    joined_on_given: bool
    wecom_userid: str = ""
    dingtalk_userid: str = ""


def _clean_row(row: SourceRow, today: date) -> tuple[_Clean | None, list[str]]:
    """The row cleaned, or None with every reason it cannot be imported (checked without the database)."""
    reasons: list[str] = []
    values = {name: rules.clean_text(getattr(row, name)) for name in
              ("name", "email", "staff_number", "organisation", "department", "profession", "joined_on",
               *rules.PLATFORM_ID_FIELDS)}
    values["email"] = accounts.normalise_email(values["email"])
    for name in ("name", "email", "staff_number", "organisation", "department", *rules.PLATFORM_ID_FIELDS):
        problem = rules.value_problem(name, values[name])
        if problem == rules.TOO_LONG:
            reasons.append(_("%(column)s is longer than %(n)d characters.", column=column_label(name),
                             n=rules.MAX_LENGTHS[name]))
        elif problem == rules.FORMULA and name != "email":
            reasons.append(_("%(column)s holds a spreadsheet formula, not a value: type the value itself.",
                             column=column_label(name)))
        elif problem == rules.BAD_PLATFORM_ID:
            reasons.append(_("%(column)s “%(value)s” is not a user id: letters, digits and _ . @ - only.",
                             column=column_label(name), value=values[name][:64]))
    email_problem = rules.check_email(values["email"])
    if not values["email"]:
        reasons.append(_("The e-mail address is missing."))
    elif email_problem == rules.BAD_EMAIL:
        reasons.append(_("“%(value)s” is not a valid e-mail address.", value=values["email"][:80]))
    elif email_problem == rules.UNDELIVERABLE_EMAIL:
        reasons.append(_("“%(value)s” cannot receive mail (is it the template's example row?): replace or "
                         "delete it.", value=values["email"][:80]))
    profession = None
    if values["profession"]:
        profession = rules.profession_code(values["profession"])
        if profession is None:
            reasons.append(_("Unknown profession “%(value)s”: use physician, nurse, psychologist or other "
                             "(医生, 护士, 心理治疗师, 其他).", value=values["profession"][:60]))
    roles: list[str] = []
    for word in (rules.clean_text(r) for r in row.roles[: rules.MAX_LIST_ITEMS]):
        if not word:
            continue
        code = rules.role_code(word)
        if code is None:
            reasons.append(_("Unknown role “%(value)s”: use member or leader (成员, 组长).", value=word[:60]))
        elif code == "coordinator":
            reasons.append(_("Coordinators are appointed on the person's page, not by import."))
        elif code not in roles:
            roles.append(code)
    groups: list[str] = []
    for name in (rules.clean_text(g) for g in row.groups):
        if name and rules.name_key(name) not in {rules.name_key(g) for g in groups}:
            groups.append(name)
    if len(groups) > rules.MAX_LIST_ITEMS or len(row.roles) > rules.MAX_LIST_ITEMS:
        reasons.append(_("At most %(n)d groups or roles in one row.", n=rules.MAX_LIST_ITEMS))
    if any(len(g) > rules.MAX_LENGTHS["groups"] for g in groups):
        reasons.append(_("%(column)s is longer than %(n)d characters.", column=column_label("groups"),
                         n=rules.MAX_LENGTHS["groups"]))
    joined_on = today
    if values["joined_on"]:
        parsed = rules.parse_date(values["joined_on"])
        if parsed is None:
            reasons.append(_("“%(value)s” is not a date: write it as 2027-01-15.", value=values["joined_on"][:40]))
        else:
            joined_on = parsed
    if reasons:
        return None, reasons
    return _Clean(line=row.line, name=values["name"], email=values["email"], staff_number=values["staff_number"],
                  organisation=values["organisation"], department=values["department"], profession=profession,
                  roles=roles, groups=groups, joined_on=joined_on, joined_on_given=bool(values["joined_on"]),
                  wecom_userid=values["wecom_userid"], dingtalk_userid=values["dingtalk_userid"]), []


def _chunks(values: list, size: int = _CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


class _Context:
    """What the rows are checked against, loaded in a few queries and kept up to date as rows are applied."""

    def __init__(self, actor: User | None, rows: list[_Clean], now: datetime):
        self.actor = actor
        self.now = now
        self.scope = actor.coordinator_scope if actor is not None else None
        self.memberships = 0
        self.invitations = 0
        self.new_people: list[User] = []
        orgs = db.session.scalars(sa.select(Organisation)).all()
        self.orgs = {org.id: org for org in orgs}
        self.org_by_key = {rules.name_key(org.name): org for org in orgs}
        group_query = sa.select(Group)
        if self.scope is not None:
            group_query = group_query.where(Group.organisation_id == self.scope)
        self.group_in_org: dict[tuple[int, str], Group] = {}
        self.groups_named: dict[str, list[Group]] = {}
        for group in db.session.scalars(group_query):
            key = rules.name_key(group.name)
            self.group_in_org[(group.organisation_id, key)] = group
            self.groups_named.setdefault(key, []).append(group)
        emails = sorted({row.email for row in rows})
        self.users: dict[str, User] = {}
        for chunk in _chunks(emails):
            for user in db.session.scalars(sa.select(User).where(User.email.in_(chunk))):
                self.users[user.email] = user
        user_ids = [user.id for user in self.users.values()]
        numbers = sorted({row.staff_number for row in rows if row.staff_number})
        self.staff_owner: dict[tuple[int, str], int] = {}
        self.staff_of: dict[int, tuple[int, str]] = {}
        for chunk in _chunks(numbers):
            for entry in db.session.scalars(sa.select(StaffNumber).where(StaffNumber.number.in_(chunk))):
                self.staff_owner[(entry.organisation_id, entry.number)] = entry.user_id
        for chunk in _chunks(user_ids):
            for entry in db.session.scalars(sa.select(StaffNumber).where(StaffNumber.user_id.in_(chunk))):
                self.staff_of[entry.user_id] = (entry.organisation_id, entry.number)
        self.open_pairs: set[tuple[int, int]] = set()
        self.left_on: dict[tuple[int, int], date] = {}  # the last day of an ended membership, per person and group
        for chunk in _chunks(user_ids):
            for user_id, group_id, left_on in db.session.execute(
                sa.select(Membership.user_id, Membership.group_id, Membership.left_on)
                .where(Membership.user_id.in_(chunk))
            ):
                if left_on is None:
                    self.open_pairs.add((user_id, group_id))
                elif left_on > self.left_on.get((user_id, group_id), date.min):
                    self.left_on[(user_id, group_id)] = left_on

    # -- lookups that refuse --

    def organisation(self, name: str) -> Organisation | None:
        """The organisation a row names (None when it names none). Raises DomainError/NotAllowed."""
        if not name:
            return None
        org = self.org_by_key.get(rules.name_key(name))
        if org is None:
            raise DomainError(_("Unknown organisation “%(name)s”.", name=name))
        if self.scope is not None and org.id != self.scope:
            raise NotAllowed(_("You coordinate another organisation only."))
        if not org.active:
            raise DomainError(_("The organisation “%(name)s” is deactivated.", name=org.name))
        return org

    def group(self, name: str, home_id: int | None) -> Group:
        """The group a row names: in the person's organisation, else (programme-wide coordinators) the one group
        of that name in the programme. Raises DomainError when there is none or several."""
        key = rules.name_key(name)
        if home_id is not None and (home_id, key) in self.group_in_org:
            return self.group_in_org[(home_id, key)]
        found = self.groups_named.get(key, []) if self.scope is None else []
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DomainError(_("Several organisations have a group named “%(name)s”: give the person's "
                                "organisation.", name=name))
        if home_id is not None:
            raise DomainError(_("Unknown group “%(name)s” in %(organisation)s.", name=name,
                                organisation=self.orgs[home_id].name))
        raise DomainError(_("Unknown group “%(name)s”.", name=name))

    def check_may_change(self, user: User) -> None:
        """A coordinator of one organisation changes only its people, and not coordinators of another scope."""
        if self.scope is None:
            return
        if user.organisation_id != self.scope:
            raise NotAllowed(_("%(email)s belongs to another organisation.", email=user.email))
        if user.has_role("coordinator") and user.coordinator_scope != self.scope:
            raise NotAllowed(_("You may not change the account of %(name)s.", name=user.name))

    def check_staff_number(self, number: str, home_id: int | None, user: User | None) -> None:
        if not number:
            return
        if home_id is None:
            raise DomainError(_("A staff number needs the organisation it belongs to."))
        owner_id = self.staff_owner.get((home_id, number))
        if owner_id is not None and (user is None or owner_id != user.id):
            owner = db.session.get(User, owner_id)
            raise DomainError(_("Staff number %(number)s of %(organisation)s belongs to %(name)s (%(email)s).",
                                number=number, organisation=self.orgs[home_id].name,
                                name=owner.name if owner else "?", email=owner.email if owner else "?"))


def _change(column: str, old, new) -> str:
    return _("%(column)s: %(old)s → %(new)s", column=column_label(column), old=old or "—", new=new or "—")


def _set_staff_number(ctx: _Context, user: User, wanted: tuple[int, str] | None, *, new: bool = False) -> None:
    """Record, change or (None) remove the person's staff number; audited. `new`: a person just created, who has
    none yet (no need to look)."""
    entry = None if new else db.session.get(StaffNumber, user.id)
    if wanted is None:
        if entry is not None:
            db.session.delete(entry)
    elif entry is None:
        db.session.add(StaffNumber(user_id=user.id, organisation_id=wanted[0], number=wanted[1]))
    else:
        entry.organisation_id, entry.number = wanted
    db.session.flush()
    record_action(ctx.actor, "staff_number_set", user, organisation_id=wanted[0] if wanted else None,
                  number=wanted[1] if wanted else None)


def _set_platform_ids(ctx: _Context, user: User, row: _Clean) -> list[str]:
    """Give the person the row's WeCom and DingTalk user ids (empty cells keep theirs); the changes in words.
    Raises DomainError for an id another person already has."""
    old = {name: getattr(user, name) for name in rules.PLATFORM_ID_FIELDS}
    changed = notifications.set_platform_ids(ctx.actor, user, row.wecom_userid, row.dingtalk_userid)
    return [_change(name, old[name], changed[name]) for name in rules.PLATFORM_ID_FIELDS if name in changed]


@dataclass
class _Applied:
    """A row applied: its outcome, the changes in words, the person, the groups joined and the staff number."""

    outcome: str
    changes: list[str]
    user: User
    joined_group_ids: list[int]
    staff: tuple[int, str] | None


def _apply_row(ctx: _Context, row: _Clean) -> _Applied:
    """Apply one cleaned row. Raises DomainError (and its kinds) to refuse it; the caller's SAVEPOINT then
    takes back whatever the row did."""
    org = ctx.organisation(row.organisation)
    user = ctx.users.get(row.email)
    if user is not None:
        ctx.check_may_change(user)
        home_id = org.id if org is not None else user.organisation_id
    else:
        home_id = org.id if org is not None else ctx.scope
    groups = [ctx.group(name, home_id) for name in row.groups]
    ctx.check_staff_number(row.staff_number, home_id, user)
    wanted_staff = (home_id, row.staff_number) if row.staff_number else None
    changes: list[str] = []

    if user is None:
        if not row.name:
            raise DomainError(_("A new person needs a name."))
        user = accounts.create_user(
            ctx.actor, email=row.email, name=row.name, roles=row.roles or ["member"], profession=row.profession,
            department=row.department or None, organisation_id=home_id,
        )
        if wanted_staff is not None:
            _set_staff_number(ctx, user, wanted_staff, new=True)
        changes.append(_("Roles: %(roles)s", roles=", ".join(role_label(r) for r in sorted(user.roles))))
        _set_platform_ids(ctx, user, row)
        outcome = NEW
        staff = wanted_staff
    else:
        fields: dict = {}
        if row.name and row.name != user.name:
            fields["name"] = row.name
            changes.append(_change("name", user.name, row.name))
        if row.department and row.department != (user.department or ""):
            fields["department"] = row.department
            changes.append(_change("department", user.department, row.department))
        if row.profession and row.profession != user.profession:
            fields["profession"] = row.profession
            changes.append(_change("profession", profession_label(user.profession), profession_label(row.profession)))
        if org is not None and org.id != user.organisation_id:
            fields["organisation_id"] = org.id
            old = ctx.orgs.get(user.organisation_id)
            changes.append(_change("organisation", old.name if old else None, org.name))
        if fields:
            accounts.update_profile(ctx.actor, user, **fields)
        added = sorted(set(row.roles) - user.roles)
        if added:
            accounts.set_roles(ctx.actor, user, sorted(user.roles | set(added)),
                               coordinator_org_id=user.coordinator_scope)
            changes.append(_("Roles: + %(roles)s", roles=", ".join(role_label(r) for r in added)))
        staff = ctx.staff_of.get(user.id)
        # A number belongs to an organisation: one that moved away with no new number in the row is removed.
        moved_away = staff is not None and wanted_staff is None and staff[0] != home_id
        if (wanted_staff is not None and wanted_staff != staff) or moved_away:
            _set_staff_number(ctx, user, wanted_staff)
            changes.append(_change("staff_number", staff[1] if staff else None, row.staff_number))
            staff = wanted_staff
        changes.extend(_set_platform_ids(ctx, user, row))
        outcome = UPDATED if changes else UNCHANGED

    joined: list[int] = []
    notes: list[str] = []
    for group in groups:
        if (user.id, group.id) in ctx.open_pairs:
            continue
        left_on = ctx.left_on.get((user.id, group.id))
        if left_on is not None and not row.joined_on_given:
            # Someone who left is not brought back by a list that still names the group: only by a start date.
            notes.append(_("Left %(group)s on %(date)s: rejoins only with a start date after that day.",
                           group=group.name, date=left_on.isoformat()))
            continue
        if group.status == "closed":
            raise DomainError(_("The group “%(name)s” is closed.", name=group.name))
        programme.add_member(ctx.actor, group, user, row.joined_on)
        joined.append(group.id)
        changes.append(_("Joins %(group)s from %(date)s", group=group.name, date=row.joined_on.isoformat()))
    if outcome == UNCHANGED and joined:
        outcome = UPDATED
    changes.extend(notes)
    if outcome == NEW:  # queued for every new person at once, after the last row (queue_invitations)
        changes.append(_("Gets an invitation e-mail"))
    return _Applied(outcome, changes, user, joined, staff)


def _remember(ctx: _Context, applied: _Applied) -> None:
    """After a row is saved: what later rows are checked against."""
    user = applied.user
    ctx.users[user.email] = user
    old = ctx.staff_of.pop(user.id, None)
    if old is not None:
        ctx.staff_owner.pop(old, None)
    if applied.staff is not None:
        ctx.staff_of[user.id] = applied.staff
        ctx.staff_owner[applied.staff] = user.id
    ctx.open_pairs.update((user.id, group_id) for group_id in applied.joined_group_ids)
    ctx.memberships += len(applied.joined_group_ids)
    if applied.outcome == NEW:
        ctx.invitations += 1
        ctx.new_people.append(user)


def _check_rows(sources: list[SourceRow], today: date) -> list[tuple[SourceRow, _Clean | None, list[str]]]:
    """Each row cleaned, or None with the reasons it is refused before the database is asked (bad values, an
    e-mail address or staff number that an earlier row of the same file already has)."""
    checked = []
    first_email: dict[str, int] = {}
    first_staff: dict[tuple[str, str], int] = {}
    first_platform_id: dict[tuple[str, str], int] = {}
    for source in sources:
        clean, reasons = _clean_row(source, today)
        if clean is not None:
            if clean.email in first_email:
                reasons.append(_("This e-mail address is already in row %(row)d of the file; list several groups "
                                 "in one cell, separated by commas.", row=first_email[clean.email]))
            else:
                first_email[clean.email] = clean.line
            if clean.staff_number:
                key = (rules.name_key(clean.organisation), clean.staff_number)
                if key in first_staff:
                    reasons.append(_("Staff number %(number)s is already in row %(row)d of the file.",
                                     number=clean.staff_number, row=first_staff[key]))
                else:
                    first_staff[key] = clean.line
            for name in rules.PLATFORM_ID_FIELDS:
                value = getattr(clean, name)
                if not value:
                    continue
                if (name, value) in first_platform_id:
                    reasons.append(_("%(column)s %(value)s is already in row %(row)d of the file.",
                                     column=column_label(name), value=value, row=first_platform_id[(name, value)]))
                else:
                    first_platform_id[(name, value)] = clean.line
        checked.append((source, None if reasons else clean, reasons))
    return checked


def _apply_rows(ctx: _Context, checked: list[tuple[SourceRow, _Clean | None, list[str]]]) -> list[RowResult]:
    """Apply every row in a SAVEPOINT of its own: a refused row is rolled back alone and the next one goes on."""
    results: list[RowResult] = []
    for source, clean, reasons in checked:
        email = accounts.normalise_email(rules.clean_text(source.email))[:254]
        shown = (source.line, email, rules.clean_text(source.name)[:120], rules.clean_text(source.organisation)[:200])
        if clean is None:
            results.append(RowResult(*shown, REFUSED, reasons))
            continue
        try:
            with db.session.begin_nested():
                applied = _apply_row(ctx, clean)
        except DomainError as exc:
            results.append(RowResult(*shown, REFUSED, [exc.message]))
            continue
        except sa.exc.IntegrityError:  # another import or page saved the same person at this very moment
            results.append(RowResult(*shown, REFUSED, [
                _("Someone else changed this person at the same moment; import the file again.")]))
            continue
        _remember(ctx, applied)
        user = applied.user
        org = ctx.orgs.get(user.organisation_id)
        results.append(RowResult(source.line, user.email, user.name, org.name if org else "", applied.outcome,
                                 applied.changes, user_id=user.id))
    return results


def import_people(
    actor: User | None, rows: list[SourceRow], *, dry_run: bool = False, source: dict | None = None,
    today: date | None = None, now: datetime | None = None,
) -> ImportResult:
    """Import people (and memberships) row by row; with `dry_run`, only say what would happen.

    `actor` is the coordinator importing (None: the system, as the CLI without --as): a coordinator of one
    organisation imports only into it. `source` (how and what was imported: via, filename, sha256) goes into
    the audit entry. `today` (local) is the start date of memberships without one; `now` (naive UTC) when
    invitations are due. Refusals of single rows are results, not errors.
    Raises NotAllowed when the actor is not a coordinator, DomainError for more than MAX_ROWS rows.
    """
    if actor is not None and not actor.has_role("coordinator"):
        raise NotAllowed(_("Only a coordinator may do this."))
    if len(rows) > rules.MAX_ROWS:
        raise DomainError(_("The file has more than %(n)d rows. Split it into smaller files.", n=rules.MAX_ROWS),
                          field="rows")
    today = today or local_today()
    checked = _check_rows(rows, today)
    prepared = [clean for _source, clean, _reasons in checked if clean is not None]
    if dry_run:
        savepoint = db.session.begin_nested()
        try:
            ctx = _Context(actor, prepared, now or utcnow())
            results = _apply_rows(ctx, checked)
        finally:
            savepoint.rollback()
        for row in results:  # a person the dry run created is gone again, and so is their id
            if row.outcome == NEW:
                row.user_id = None
        return ImportResult(results, dry_run=True, memberships=ctx.memberships, invitations=ctx.invitations)
    ctx = _Context(actor, prepared, now or utcnow())
    rows_done = _apply_rows(ctx, checked)
    queue_invitations(ctx.new_people, actor, ctx.now)
    result = ImportResult(rows_done, dry_run=False, memberships=ctx.memberships, invitations=ctx.invitations)
    scope_org = db.session.get(Organisation, ctx.scope) if ctx.scope is not None else None
    record_action(actor, "people_imported", scope_org, **(source or {}), rows=len(rows), **result.counts,
                  memberships=result.memberships, invitations=result.invitations,
                  refused_rows=[row.line for row in result.refused][:200])
    return result


# --- the template --------------------------------------------------------------------------------


def template_workbook(actor: User | None, language: str) -> bytes:
    """The import template in `language` (en or zh_CN): its headers, an example row (with an organisation and a
    group the coordinator may use, when there are some) and a sheet of notes, in the current locale's words."""
    headers = list(rules.TEMPLATE_HEADERS["zh_CN" if language.startswith("zh") else "en"])
    scope = actor.coordinator_scope if actor is not None else None
    org_query = sa.select(Organisation).where(Organisation.active.is_(True)).order_by(Organisation.name).limit(1)
    if scope is not None:
        org_query = sa.select(Organisation).where(Organisation.id == scope)
    org = db.session.scalar(org_query)
    group = db.session.scalar(
        sa.select(Group).where(Group.organisation_id == org.id, Group.status != "closed").order_by(Group.name).limit(1)
    ) if org is not None else None
    chinese = language.startswith("zh")
    example = [
        "张伟" if chinese else "Zhang Wei", "zhang.wei@example.invalid", "10023",
        org.name if org else ("示例医院" if chinese else "Example Hospital"),
        "儿科" if chinese else "Paediatrics", "医生" if chinese else "Physician", "成员" if chinese else "Member",
        group.name if group else "", local_today().isoformat(), "ZhangWei", "",
    ]
    yes, no = _("yes"), _("no")
    what = {
        "name": _("The person's full name. Needed for a new person."),
        "email": _("Their e-mail address: how the import recognises a person."),
        "staff_number": _("Their staff number in the organisation; one person per number and organisation."),
        "organisation": _("The organisation's name as the app lists it. Left empty, a person keeps theirs (a new "
                          "person gets yours if you coordinate one organisation)."),
        "department": _("Free text, e.g. Paediatrics."),
        "profession": _("Physician, nurse, psychologist or other (医生, 护士, 心理治疗师, 其他; also 医师, 护师 …)."),
        "roles": _("Member or leader (成员, 组长), several separated by commas. Empty: member for a new person. "
                   "Roles are only added, never removed."),
        "groups": _("Groups to join, by name, separated by commas."),
        "joined_on": _("The day they join those groups, e.g. 2027-01-15. Empty: the day of the import."),
        "wecom_userid": _("Their userid in the hospital's WeCom (企业微信): in the WeCom admin console, Contacts. "
                          "Lets them choose WeCom messages. Empty: keeps theirs."),
        "dingtalk_userid": _("Their userid in the hospital's DingTalk (钉钉) organisation: in the DingTalk admin "
                             "console, Contacts. Lets them choose DingTalk messages. Empty: keeps theirs."),
    }
    notes = [[_("Column"), _("Header (English, Chinese)"), _("What to write"), _("Required")]]
    for name, english, chinese in zip(rules.FIELDS, rules.TEMPLATE_HEADERS["en"], rules.TEMPLATE_HEADERS["zh_CN"],
                                      strict=True):
        notes.append([column_label(name), f"{english}, {chinese}", what[name],
                      yes if name in rules.REQUIRED_COLUMNS else no])
    notes.append([])
    notes.append([_("Empty cells leave what is saved unchanged. Delete the example row before importing: its "
                    "address ends in .invalid and is refused.")])
    return template_xlsx(_("People"), headers, example, _("Notes"), notes)
