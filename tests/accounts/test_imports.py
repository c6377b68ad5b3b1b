"""Importing people from HR spreadsheets: the rules of headers and values, reading real XLSX and CSV files,
the preview page that saves nothing, confirming, importing again without changes, refusals row by row,
scoped coordinators, invitations through the outbox, the template and `flask people import`."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.accounts.models import StaffNumber, User
from app.accounts.people_import import rules
from app.accounts.people_import import services as imports
from app.accounts.people_import.spreadsheets import ImportFileError, read_table
from app.audit.models import AuditEntry
from app.notifications.models import Notification
from app.programme import services as programme
from app.programme.models import Membership
from tests.factories import make_group, make_org, make_user

EN = ["Name", "E-mail", "Staff number", "Organisation", "Department", "Profession", "Roles", "Groups", "Start date",
      "WeCom user id", "DingTalk user id"]
ZH = ["姓名", "邮箱", "工号", "单位", "科室", "职业", "角色", "小组", "加入日期", "企业微信账号", "钉钉账号"]


# --- writing real files ----------------------------------------------------------------------------


def xlsx_bytes(header: list, rows: list[list], title_rows: list[list] = ()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in [*title_rows, header, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(header: list, rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def write(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


# --- the world -----------------------------------------------------------------------------------


@pytest.fixture
def hospital(db, org, coordinator, leader, member, group):
    """The persona hospital with its group (led by Leader Li, Member Ma in it) and a second group, committed."""
    make_group(org, "Nurses Balint group", capacity=12)
    db.session.commit()
    return org


def counts(db) -> dict[str, int]:
    """Rows of every table the import can touch."""
    db.session.rollback()
    tables = {"users": User, "memberships": Membership, "staff_numbers": StaffNumber, "audit": AuditEntry,
              "notifications": Notification}
    return {name: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for name, model in tables.items()}


def upload(client, content: bytes, filename: str = "staff.xlsx"):
    """Post a file to the preview; the multipart body is built in memory (the test client would spool a large
    one to a temporary file that it never closes)."""
    data = MultiDict()
    data.add("file", FileStorage(io.BytesIO(content), filename=filename, content_type="application/octet-stream"))
    boundary, body = encode_multipart(data)
    return client.post("/people/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def token_of(response) -> str:
    found = re.search(r'name="token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert found, "the preview offers no confirmation"
    return unescape(found.group(1))


def page_text(response) -> str:
    return unescape(response.get_data(as_text=True))


def good_rows(org_name: str = "Test Hospital") -> list[list]:
    """A new nurse joining the nurses' group, the existing member with a new department, and a new physician."""
    return [
        ["Wang Fang", "wang.fang@example.org", "N0001", org_name, "Paediatrics", "护士", "成员", "Nurses Balint group",
         "2027-01-15"],
        ["Member Ma", "member@example.org", "", "", "Neonatology", "", "", "", ""],
        ["Liu Yang", "liu.yang@example.org", "D0002", org_name, "", "Physician", "member, leader", "", ""],
    ]


# --- the rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "field"), [
    ("Name", "name"), ("姓名", "name"), ("员工姓名", "name"), ("E-mail", "email"), ("EMAIL", "email"),
    ("邮箱", "email"), ("电子邮件", "email"), ("电子 邮箱", "email"), ("E-mail (required)", "email"),
    ("工号", "staff_number"), ("Staff No.", "staff_number"), ("员工编号", "staff_number"),
    ("单位", "organisation"), ("机构", "organisation"), ("Organization", "organisation"), ("科室", "department"),
    ("部门", "department"), ("职业", "profession"), ("职称类别", "profession"), ("角色", "roles"),
    ("小组", "groups"), ("巴林特小组", "groups"), ("加入日期", "joined_on"), ("Start date", "joined_on"),
    ("ＥＭＡＩＬ", "email"), ("身份证号", None), ("Mobile", None), ("企业微信账号", "wecom_userid"),
    ("企业微信 UserID", "wecom_userid"), ("WeCom ID", "wecom_userid"), ("钉钉账号", "dingtalk_userid"),
    ("DingTalk userid", "dingtalk_userid"), ("钉钉ID", "dingtalk_userid"),
])
def test_header_names_in_english_and_chinese_name_the_fields(header, field):
    assert rules.field_of_header(header) == field


def test_the_template_headers_of_both_languages_name_every_field_in_order():
    for headers in rules.TEMPLATE_HEADERS.values():
        assert [rules.field_of_header(h) for h in headers] == list(rules.FIELDS)


@pytest.mark.parametrize(("word", "code"), [
    ("医生", "physician"), ("主治医师", "physician"), ("Doctor", "physician"), ("护士", "nurse"),
    ("主管护师", "nurse"), ("NURSE", "nurse"), ("心理治疗师", "psychologist"), ("Psychologist", "psychologist"),
    ("其他", "other"), ("药师", "other"), ("Astronaut", None),
])
def test_professions_in_both_languages_map_to_the_app_codes(word, code):
    assert rules.profession_code(word) == code


def test_roles_in_both_languages_map_to_the_app_codes_and_lists_split_as_hr_writes_them():
    assert [rules.role_code(w) for w in ("成员", "组长", "Leader", "协调员", "boss")] == [
        "member", "leader", "leader", "coordinator", None]
    assert rules.split_list("成员、组长") == ["成员", "组长"]
    assert rules.split_list("Group A，Group B; Group C\nGroup D") == ["Group A", "Group B", "Group C", "Group D"]
    assert rules.split_list(" , ;") == []


@pytest.mark.parametrize(("text", "day"), [
    ("2027-01-15", date(2027, 1, 15)), ("2027/1/5", date(2027, 1, 5)), ("2027.01.05", date(2027, 1, 5)),
    ("2027年1月5日", date(2027, 1, 5)), ("20270105", date(2027, 1, 5)), ("２０２７-０１-１５", date(2027, 1, 15)),
    ("2027-01-15 00:00:00", date(2027, 1, 15)), ("2027-02-30", None), ("15/01/2027", None), ("soon", None),
])
def test_start_dates_are_read_in_the_ways_hr_writes_them(text, day):
    assert rules.parse_date(text) == day


def test_cells_lose_invisible_characters_and_full_width_forms_and_dashes_mean_empty():
    assert rules.clean_text("\u200bＷａｎｇ\u00a0 Fang\u200e ") == "Wang Fang"
    assert rules.clean_text("—") == "" and rules.clean_text(" / ") == ""
    assert rules.check_email("zhang.wei@example.invalid") == rules.UNDELIVERABLE_EMAIL
    assert rules.check_email("no-at-sign.example.org") == rules.BAD_EMAIL
    assert rules.check_email("x@y") == rules.BAD_EMAIL
    assert rules.check_email("wang.fang@example.org") is None


# --- reading files -------------------------------------------------------------------------------


def test_a_gb18030_csv_with_chinese_headers_is_read_as_chinese(tmp_path):
    content = csv_bytes(ZH, [["王芳", "wang.fang@example.org", "N0001", "北京儿童医院", "儿科", "护士", "成员",
                              "巴林特一组", "2027年1月15日"]], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")  # it really is GB18030, not UTF-8
    table = read_table(write(tmp_path, "hr.csv", content).read_bytes())
    assert table.kind == "csv" and table.encoding == "gb18030"
    row = imports.rows_from_table(table)[0]
    assert (row.line, row.name, row.organisation, row.profession, row.groups, row.joined_on) == (
        2, "王芳", "北京儿童医院", "护士", ["巴林特一组"], "2027年1月15日")


def test_a_utf8_csv_with_bom_semicolons_and_a_title_line_above_the_header_is_read(tmp_path):
    text = "职工名单 2027\r\n" + csv_bytes(ZH, [["王芳", "wang.fang@example.org", "", "", "", "", "", "", ""]],
                                        delimiter=";").decode()
    table = read_table(("\ufeff" + text).encode("utf-8"))
    assert table.encoding == "utf-8" and table.headers[0] == "姓名"
    assert [(r.line, r.email) for r in imports.rows_from_table(table)] == [(3, "wang.fang@example.org")]


def test_excel_unicode_text_utf16_with_tabs_is_read():
    table = read_table(("\ufeff" + "姓名\t邮箱\r\n王芳\twang.fang@example.org\r\n").encode("utf-16-le"))
    assert table.encoding == "utf-16"
    assert imports.rows_from_table(table)[0].name == "王芳"


def test_an_xlsx_cell_holding_a_formula_gives_its_saved_value_never_the_formula():
    content = xlsx_bytes(EN[:5], [["Wang Fang", "wang.fang@example.org", 1023, "Test Hospital", "=1+1"]])
    row = imports.rows_from_table(read_table(content))[0]
    assert row.staff_number == "1023"  # a number cell, without ".0"
    assert row.department == ""  # a formula saved without a computed value: nothing, never "=1+1"


@pytest.mark.parametrize(("content", "code"), [
    (b"", "empty"),
    (b"  \r\n ", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old_excel"),
    (b"PK\x03\x04not really a zip", "bad_xlsx"),
    (b"\x00\x01\x02\x03binary\x00", "not_a_spreadsheet"),
    (b"name,email\r\n\xff\xfe\xfd,\x81\x30\r\n", "encoding"),
    (b"just,some,words\r\n1,2,3\r\n", "no_header"),
    ("姓名,科室\r\n王芳,儿科\r\n".encode(), "missing_columns"),
    ("姓名,邮箱,电子邮件\r\n王芳,a@example.org,b@example.org\r\n".encode(), "duplicate_columns"),
    ("姓名,邮箱\r\n".encode(), "no_rows"),
    (b"x" * (rules.MAX_FILE_BYTES + 1), "too_large"),
    (("name,email\r\n" + "a,a@example.org\r\n" * (rules.MAX_ROWS + 1)).encode(), "too_many_rows"),
])
def test_files_that_cannot_be_imported_are_refused_with_a_reason(content, code):
    with pytest.raises(ImportFileError) as refused:
        read_table(content)
    assert refused.value.code == code


# --- the page: preview, confirm, again -------------------------------------------------------------


def test_the_people_list_links_to_the_import_and_the_page_offers_both_templates(auth, client, hospital, coordinator):
    auth.login(coordinator)
    assert 'href="/people/import"' in client.get("/people").get_data(as_text=True)
    page = client.get("/people/import").get_data(as_text=True)
    assert "/people/import/template.xlsx?lang=en" in page and "/people/import/template.xlsx?lang=zh_CN" in page


def test_the_preview_shows_every_rows_outcome_and_saves_nothing(db, auth, client, hospital, coordinator):
    auth.login(coordinator)
    db.session.commit()
    before = counts(db)
    rows = [*good_rows(), ["Member Ma", "member@example.org", "", "", "", "", "", "", ""],  # duplicate e-mail
            ["Nobody", "not-an-address", "", "", "", "", "", "", ""],
            ["Zhao Lei", "zhao.lei@example.org", "", "No Such Hospital", "", "", "", "", ""],
            ["Sun Li", "sun.li@example.org", "", "Test Hospital", "", "", "", "No such group", ""],
            ["Leader Li", "leader@example.org", "", "", "", "", "", "Paediatrics Balint group", ""]]
    response = upload(client, xlsx_bytes(EN, rows))

    assert response.status_code == 200
    text = page_text(response)
    assert counts(db) == before  # nothing saved: no person, membership, staff number, audit entry or e-mail
    assert "Nothing has been saved yet" in text
    for expected in ("Department: — → Neonatology", "Joins Nurses Balint group from 2027-01-15",
                     "Gets an invitation e-mail", "Roles: Leader, Member",
                     "This e-mail address is already in row 3 of the file",
                     "“not-an-address” is not a valid e-mail address.",
                     "Unknown organisation “No Such Hospital”.",
                     "Unknown group “No such group” in Test Hospital.",
                     "Leader Li leads this group and cannot also be a member of it."):
        assert expected in text, expected
    assert text.count("badge text-bg-danger") == 1 + 5  # the summary's badge and five refused rows


def test_confirming_applies_the_preview_and_the_same_file_again_changes_nothing(db, auth, client, hospital,
                                                                                 coordinator):
    auth.login(coordinator)
    content = xlsx_bytes(EN, [*good_rows(), ["", "bad address", "", "", "", "", "", "", ""]])
    response = client.post("/people/import/confirm", data={"token": token_of(upload(client, content))})

    assert response.status_code == 200
    db.session.rollback()
    fang = db.session.scalar(sa.select(User).where(User.email == "wang.fang@example.org"))
    assert (fang.name, fang.profession, fang.department, fang.organisation_id, fang.roles) == (
        "Wang Fang", "nurse", "Paediatrics", hospital.id, {"member"})
    assert [(m.group.name, m.joined_on) for m in db.session.scalars(
        sa.select(Membership).where(Membership.user_id == fang.id))] == [("Nurses Balint group", date(2027, 1, 15))]
    assert db.session.get(StaffNumber, fang.id).number == "N0001"
    yang = db.session.scalar(sa.select(User).where(User.email == "liu.yang@example.org"))
    assert yang.roles == {"member", "leader"} and yang.profession == "physician"
    ma = db.session.scalar(sa.select(User).where(User.email == "member@example.org"))
    assert ma.department == "Neonatology" and ma.name == "Member Ma"
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "people_imported")).all()
    assert len(audit) == 1 and audit[0].actor_id == coordinator.id
    assert (audit[0].detail["new"], audit[0].detail["updated"], audit[0].detail["refused"]) == (2, 1, 1)
    assert audit[0].detail["via"] == "page" and audit[0].detail["filename"] == "staff.xlsx"

    after_first = counts(db)
    again = client.post("/people/import/confirm", data={"token": token_of(upload(client, content))})
    assert again.status_code == 200
    after_second = counts(db)
    assert after_second == {**after_first, "audit": after_first["audit"] + 1}  # only the import's own entry
    last = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "people_imported")
                              .order_by(AuditEntry.id.desc())).first()
    assert (last.detail["new"], last.detail["updated"], last.detail["unchanged"], last.detail["refused"]) == (
        0, 0, 3, 1)


def test_a_refused_membership_refuses_only_its_row_and_rolls_back_what_the_row_did(db, hospital, leader):
    rows = [imports.SourceRow(2, "Leader Li", "leader@example.org", department="Psychiatry",
                              groups=["Paediatrics Balint group"]),
            imports.SourceRow(3, "Wang Fang", "wang.fang@example.org", groups=["Nurses Balint group"])]
    result = imports.import_people(None, rows)
    db.session.commit()

    assert [r.outcome for r in result.rows] == [imports.REFUSED, imports.NEW]
    assert result.rows[0].details == ["Leader Li leads this group and cannot also be a member of it."]
    db.session.refresh(leader)
    assert leader.department is None  # the refused row's profile change went back with it
    assert result.memberships == 1 and result.invitations == 1


def test_a_deactivated_person_cannot_be_put_into_a_group_by_import(db, hospital, outsider):
    from app.accounts import services as accounts

    accounts.set_active(None, outsider, False)
    result = imports.import_people(None, [imports.SourceRow(2, "Outsider Ou", "outsider@example.org",
                                                            groups=["Nurses Balint group"])])
    assert result.rows[0].outcome == imports.REFUSED
    assert result.rows[0].details == ["This account is deactivated."]


def test_empty_cells_change_nothing_and_roles_are_only_added(db, hospital, leader):
    result = imports.import_people(None, [imports.SourceRow(2, "", "LEADER@example.org", roles=["成员"])])
    db.session.commit()
    assert (result.rows[0].outcome, result.rows[0].details) == (imports.UPDATED, ["Roles: + Member"])
    db.session.refresh(leader)
    assert leader.name == "Leader Li" and leader.roles == {"leader", "member"}
    again = imports.import_people(None, [imports.SourceRow(2, "", "leader@example.org", roles=["member"])])
    assert again.rows[0].outcome == imports.UNCHANGED and again.changes == 0


def test_someone_who_left_a_group_rejoins_only_with_a_start_date_after_they_left(db, hospital, member, group, today):
    membership = db.session.scalars(sa.select(Membership).where(Membership.user_id == member.id)).one()
    programme.end_membership(None, membership, today - timedelta(days=3))
    db.session.commit()
    listed = imports.SourceRow(2, "Member Ma", "member@example.org", groups=["Paediatrics Balint group"])
    result = imports.import_people(None, [listed])
    assert (result.rows[0].outcome, result.rows[0].details) == (imports.UNCHANGED, [
        f"Left Paediatrics Balint group on {(today - timedelta(days=3)).isoformat()}: rejoins only with a start "
        "date after that day."])
    listed.joined_on = today.isoformat()
    again = imports.import_people(None, [listed])
    assert again.rows[0].outcome == imports.UPDATED and again.memberships == 1


def test_staff_numbers_identify_people_within_their_organisation(db, hospital, member, outsider):
    first = imports.import_people(None, [imports.SourceRow(2, "Member Ma", "member@example.org", "S-1")])
    db.session.commit()
    assert first.rows[0].details == ["Staff number: — → S-1"]
    reason = "Staff number S-1 of Test Hospital belongs to Member Ma (member@example.org)."
    for row in (imports.SourceRow(2, "Outsider Ou", "outsider@example.org", "S-1"),
                imports.SourceRow(2, "New Person", "new@example.org", "S-1", "Test Hospital")):
        clash = imports.import_people(None, [row])
        assert [(r.outcome, r.details) for r in clash.rows] == [(imports.REFUSED, [reason])]
    homeless = imports.import_people(None, [imports.SourceRow(2, "New Person", "new@example.org", "S-2")])
    assert homeless.rows[0].details == ["A staff number needs the organisation it belongs to."]
    twice = imports.import_people(None, [imports.SourceRow(2, "A", "a@example.org", "S-9", "Test Hospital"),
                                         imports.SourceRow(3, "B", "b@example.org", "S-9", "Test Hospital")])
    assert twice.rows[1].details == ["Staff number S-9 is already in row 2 of the file."]
    other = make_org("Second Hospital")
    moved = imports.import_people(None, [imports.SourceRow(2, "", "member@example.org", "S-1", other.name)])
    assert moved.rows[0].outcome == imports.UPDATED
    assert (db.session.get(StaffNumber, member.id).organisation_id, member.organisation_id) == (other.id, other.id)


def test_wecom_and_dingtalk_user_ids_come_in_with_the_file_and_reach_the_person_there(
    app, db, hospital, member, leader, monkeypatch
):
    from app.notifications import services as notifications

    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", "email,wecom,dingtalk")
    monkeypatch.setitem(app.config, "NOTIFY_DEFAULT_CHANNELS", "wecom")
    leader.channels = "email,dingtalk"
    leader.dingtalk_userid = "dd-old"
    db.session.commit()
    content = xlsx_bytes(ZH, [
        ["王芳", "wang.fang@example.org", "", "Test Hospital", "", "护士", "", "", "", "wx-wang", "dd-wang"],
        ["", "member@example.org", "", "", "", "", "", "", "", "ｗｘ－ｍａ", ""],
        ["", "leader@example.org", "", "", "", "", "", "", "", "", "dd-li"],
    ])
    rows = imports.rows_from_table(read_table(content))
    result = imports.import_people(None, rows)
    db.session.commit()
    assert [r.outcome for r in result.rows] == [imports.NEW, imports.UPDATED, imports.UPDATED]
    assert result.rows[1].details == ["WeCom user id: — → wx-ma"]  # full-width forms made ordinary
    assert result.rows[2].details == ["DingTalk user id: dd-old → dd-li"]
    wang = db.session.scalars(sa.select(User).where(User.email == "wang.fang@example.org")).one()
    assert (wang.wecom_userid, wang.dingtalk_userid, wang.channels) == ("wx-wang", "dd-wang", None)
    db.session.refresh(leader)
    assert (leader.dingtalk_userid, leader.channels) == ("dd-li", "email,dingtalk")  # their choice is kept
    assert notifications.channels_of(wang, "meeting_reminder") == ("wecom",)
    assert notifications.channels_of(db.session.get(User, member.id), "meeting_reminder") == ("wecom",)
    again = imports.import_people(None, rows)
    assert again.changes == 0 and {r.outcome for r in again.rows} == {imports.UNCHANGED}
    changes = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "user_channels_changed")).all()
    assert len(changes) == 3


def test_a_platform_user_id_that_is_malformed_twice_in_the_file_or_someone_elses_refuses_its_row(
    db, hospital, member, leader
):
    leader.wecom_userid = "wx-li"
    db.session.commit()
    result = imports.import_people(None, [
        imports.SourceRow(2, "A", "a@example.org", wecom_userid="has space"),
        imports.SourceRow(3, "B", "b@example.org", dingtalk_userid="dd-1"),
        imports.SourceRow(4, "C", "c@example.org", dingtalk_userid="dd-1"),
        imports.SourceRow(5, "", "member@example.org", wecom_userid="wx-li"),
        imports.SourceRow(6, "D", "d@example.org", dingtalk_userid="x" * 65),
    ])
    assert [(r.outcome, r.details) for r in result.rows if r.outcome == imports.REFUSED] == [
        (imports.REFUSED, ["WeCom user id “has space” is not a user id: letters, digits and _ . @ - only."]),
        (imports.REFUSED, ["DingTalk user id dd-1 is already in row 3 of the file."]),
        (imports.REFUSED, ["The user id wx-li already belongs to Leader Li."]),
        (imports.REFUSED, ["DingTalk user id is longer than 64 characters."]),
    ]
    db.session.refresh(member)
    assert member.wecom_userid is None
    own = imports.import_people(None, [imports.SourceRow(2, "", "leader@example.org", wecom_userid="wx-li")])
    assert own.rows[0].outcome == imports.UNCHANGED  # the leader keeping their own id


def test_a_new_person_needs_a_name_and_a_coordinator_role_is_never_given_by_import(db, hospital):
    result = imports.import_people(None, [imports.SourceRow(2, "", "nameless@example.org"),
                                          imports.SourceRow(3, "Boss", "boss@example.org", roles=["协调员"])])
    assert [r.details for r in result.rows] == [["A new person needs a name."],
                                                ["Coordinators are appointed on the person's page, not by import."]]
    assert counts(db)["users"] == 3  # the coordinator, leader and member only


def test_a_scoped_coordinator_imports_only_into_their_organisation(db, auth, client, hospital, org_coordinator,
                                                                   other_org):
    stranger = make_user("stranger@example.org", organisation_id=other_org.id)
    make_group(other_org, "Other group")
    db.session.commit()
    auth.login(org_coordinator)
    rows = [["Wang Fang", "wang.fang@example.org", "", "", "", "", "", "Nurses Balint group", ""],
            ["Zhao Lei", "zhao.lei@example.org", "", "Other Hospital", "", "", "", "", ""],
            ["Stranger", "stranger@example.org", "", "", "Surgery", "", "", "", ""],
            ["Sun Li", "sun.li@example.org", "", "", "", "", "", "Other group", ""]]
    client.post("/people/import/confirm", data={"token": token_of(upload(client, xlsx_bytes(EN, rows)))})

    db.session.rollback()
    fang = db.session.scalar(sa.select(User).where(User.email == "wang.fang@example.org"))
    assert fang.organisation_id == hospital.id
    assert db.session.scalar(sa.select(User).where(User.email == "zhao.lei@example.org")) is None
    assert db.session.get(User, stranger.id).department is None
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "people_imported")).one()
    assert entry.object_type == "Organisation" and entry.object_id == hospital.id
    assert (entry.detail["new"], entry.detail["refused"], entry.detail["refused_rows"]) == (1, 3, [3, 4, 5])
    result = imports.import_people(org_coordinator, [
        imports.SourceRow(2, "Zhao Lei", "zhao.lei@example.org", organisation="Other Hospital"),
        imports.SourceRow(3, "Stranger", "stranger@example.org", department="Surgery"),
        imports.SourceRow(4, "Sun Li", "sun.li@example.org", groups=["Other group"])])
    assert [r.details for r in result.rows] == [
        ["You coordinate another organisation only."], ["stranger@example.org belongs to another organisation."],
        ["Unknown group “Other group” in Test Hospital."]]


def test_a_member_cannot_open_or_post_the_import(auth, client, hospital, member):
    auth.login(member)
    assert client.get("/people/import").status_code == 403
    assert upload(client, xlsx_bytes(EN, good_rows())).status_code == 403
    assert client.get("/people/import/template.xlsx").status_code == 403


@pytest.mark.parametrize(("content", "filename", "message"), [
    (b"", "empty.csv", "The file is empty."),
    (b"%PDF-1.7\n\x00\x01\x02\x03 binary", "scan.pdf", "This is not a spreadsheet."),
    (b"x" * (10 * 1024 * 1024), "huge.csv", "The file is larger than 5 MB."),
    (b"name,email\r\n\xff\xfe\xfd,\x81\x30\r\n", "latin.csv", "neither UTF-8 nor GB18030"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.xls", "old Excel file (.xls)"),
    ("姓名,科室\r\n王芳,儿科\r\n".encode(), "no-email.csv", "The file has no column for: E-mail."),
])
def test_a_file_that_cannot_be_imported_is_refused_with_a_message_and_saves_nothing(
    db, auth, client, hospital, coordinator, content, filename, message
):
    auth.login(coordinator)
    before = counts(db)
    response = upload(client, content, filename)
    assert response.status_code == 422
    assert message in page_text(response)
    assert counts(db) == before


def test_a_post_without_a_file_asks_for_one(auth, client, hospital, coordinator):
    auth.login(coordinator)
    response = client.post("/people/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a file." in page_text(response)


def test_an_altered_expired_or_foreign_preview_token_is_refused_and_saves_nothing(
    db, auth, client, hospital, coordinator, org_coordinator
):
    auth.login(coordinator)
    token = token_of(upload(client, xlsx_bytes(EN, good_rows())))
    before = counts(db)
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for sent in (altered, "", "not-a-token"):
        response = client.post("/people/import/confirm", data={"token": sent})
        assert response.status_code == 422
        assert "This preview has expired or is not valid." in page_text(response)
    with pytest.raises(Exception) as foreign:
        imports.rows_from_token(db.session.get(User, org_coordinator.id), token)
    assert "expired or is not valid" in str(foreign.value)
    assert counts(db) == before


def test_a_preview_older_than_two_hours_cannot_be_confirmed(db, app, auth, client, hospital, coordinator):
    import time_machine

    auth.login(coordinator)
    token = token_of(upload(client, xlsx_bytes(EN, good_rows())))
    with time_machine.travel(timedelta(hours=1, minutes=59), tick=False):
        rows, filename, _digest = imports.rows_from_token(db.session.get(User, coordinator.id), token)
        assert (len(rows), filename) == (3, "staff.xlsx")
    with time_machine.travel(timedelta(hours=2, minutes=1), tick=False):
        response = client.post("/people/import/confirm", data={"token": token})
    assert response.status_code == 422
    assert "This preview has expired or is not valid." in page_text(response)
    assert counts(db)["users"] == 3


def test_a_preview_too_large_to_carry_in_the_page_says_so_and_offers_no_confirmation(auth, client, hospital,
                                                                                   coordinator):
    import random

    rng = random.Random(14)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def noise(n: int) -> str:
        return "".join(rng.choice(letters) for _ in range(n))

    rows = [[noise(120), f"{noise(60)}-no-at-sign", noise(30)] for _ in range(rules.MAX_ROWS)]
    auth.login(coordinator)
    response = upload(client, csv_bytes(["姓名", "邮箱", "科室"], rows), "huge.csv")
    assert response.status_code == 200
    text = page_text(response)
    assert "This file is too large to confirm from this page." in text
    assert 'name="token"' not in text


# --- invitations ---------------------------------------------------------------------------------


def test_invitations_are_queued_in_the_outbox_and_sent_by_send_due_not_in_the_request(
    db, auth, client, hospital, coordinator, outbox
):
    from app.notifications.services import send_pending
    from app.timeutil import utcnow

    auth.login(coordinator)
    client.post("/people/import/confirm", data={"token": token_of(upload(client, xlsx_bytes(EN, good_rows())))})
    assert outbox == []  # nothing is sent inside the request
    db.session.rollback()
    queued = db.session.scalars(sa.select(Notification).order_by(Notification.id)).all()
    assert [(n.kind, n.user.email, n.status) for n in queued] == [
        ("invitation", "wang.fang@example.org", "pending"), ("invitation", "liu.yang@example.org", "pending")]
    assert all(n.user.invited_at is not None for n in queued)

    result = send_pending(utcnow() + timedelta(seconds=1), commit=db.session.commit)
    assert result.sent == 2
    assert sorted(m.to[0] for m in outbox) == ["liu.yang@example.org", "wang.fang@example.org"]
    assert "/invite/" in outbox[0].body and "Coordinator Chen" in outbox[0].body
    assert send_pending(utcnow() + timedelta(minutes=5), commit=db.session.commit).sent == 0


def test_an_invitation_for_someone_who_chose_a_password_meanwhile_is_dropped(db, hospital, outbox):
    from app.accounts import services as accounts
    from app.notifications.services import send_pending
    from app.timeutil import utcnow

    imports.import_people(None, [imports.SourceRow(2, "Wang Fang", "wang.fang@example.org")])
    db.session.commit()
    accounts.set_password(accounts.find_user_by_email("wang.fang@example.org"), "a long enough password")
    db.session.commit()
    assert send_pending(utcnow() + timedelta(seconds=1), commit=db.session.commit).dropped == 1
    assert outbox == []


# --- languages and the template ------------------------------------------------------------------


def test_a_chinese_reader_sees_the_reasons_in_chinese(app, db, auth, client, hospital, org_coordinator, other_org):
    auth.login(org_coordinator)
    with client.session_transaction() as session:
        session["lang"] = "zh_CN"
    response = upload(client, csv_bytes(ZH, [["赵磊", "zhao.lei@example.org", "", "Other Hospital", "", "", "", "",
                                              ""]], encoding="gb18030"), "名单.csv")
    assert response.status_code == 200
    text = page_text(response)
    assert "您仅负责协调其他单位，无权操作此单位。" in text
    with app.test_request_context(), force_locale("zh_CN"):
        assert _("Nothing has been saved yet. Check every row, then import.") in text


@pytest.mark.parametrize(("lang", "headers", "example_name"), [("en", EN, "Zhang Wei"), ("zh_CN", ZH, "张伟")])
def test_the_template_has_headers_and_an_example_row_in_the_readers_language(
    db, auth, client, hospital, coordinator, lang, headers, example_name
):
    auth.login(coordinator)
    response = client.get(f"/people/import/template.xlsx?lang={lang}")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == headers
    assert rows[1][0] == example_name and rows[1][3] == "Test Hospital"
    table = read_table(response.data)  # the template reads back with every column recognised
    assert sorted(table.columns) == sorted(rules.FIELDS)
    result = imports.import_people(None, imports.rows_from_table(table), dry_run=True)
    assert result.rows[0].outcome == imports.REFUSED  # the example row is refused if left in


def test_a_chinese_reader_gets_chinese_headers_by_default(db, auth, client, hospital, coordinator):
    auth.login(coordinator)
    with client.session_transaction() as session:
        session["lang"] = "zh_CN"
    sheet = load_workbook(io.BytesIO(client.get("/people/import/template.xlsx").data)).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[:2] == ("姓名", "邮箱")


def test_the_template_neutralises_a_formula_in_an_organisation_name(db, auth, client, coordinator):
    org = make_org("=HYPERLINK(\"http://evil.example\")")
    make_group(org, "+Group")
    db.session.commit()
    auth.login(coordinator)
    sheet = load_workbook(io.BytesIO(client.get("/people/import/template.xlsx?lang=en").data)).worksheets[0]
    example = list(sheet.iter_rows(values_only=True))[1]
    assert example[3] == "'=HYPERLINK(\"http://evil.example\")" and example[7] == "'+Group"
    assert sheet.cell(row=2, column=4).data_type == "s"


# --- the command line ----------------------------------------------------------------------------


def test_the_cli_dry_run_prints_every_row_changes_nothing_and_exits_3_when_rows_are_refused(
    app, db, hospital, tmp_path
):
    path = write(tmp_path, "staff.csv", csv_bytes(EN, [*good_rows(), ["X", "bad", "", "", "", "", "", "", ""]],
                                                  encoding="gb18030"))
    before = counts(db)
    result = app.test_cli_runner().invoke(args=["people", "import", str(path), "--dry-run"])
    assert result.exit_code == 3, result.output
    assert "2\tnew\twang.fang@example.org" in result.output
    assert "5\trefused\tbad\tX\t\t“bad” is not a valid e-mail address." in result.output
    assert "Dry run: 2 new, 1 updated, 0 unchanged, 1 refused" in result.output
    assert counts(db) == before


def test_the_cli_imports_a_file_and_a_second_run_changes_nothing(app, db, hospital, tmp_path):
    path = write(tmp_path, "staff.xlsx", xlsx_bytes(ZH, good_rows()))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["people", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "2 new, 1 updated, 0 unchanged, 0 refused; 1 memberships, 2 invitations." in first.output
    second = runner.invoke(args=["people", "import", str(path)])
    assert second.exit_code == 0 and "0 new, 0 updated, 3 unchanged, 0 refused" in second.output
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2


def test_the_cli_refuses_a_bad_file_and_acts_as_a_scoped_coordinator_with_as(app, db, hospital, org_coordinator,
                                                                             tmp_path):
    db.session.commit()
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["people", "import", str(write(tmp_path, "x.csv", b"\x00\x01binary"))])
    assert bad.exit_code == 1 and "This is not a spreadsheet." in bad.output
    path = write(tmp_path, "staff.csv", csv_bytes(EN, [["Zhao Lei", "zhao.lei@example.org", "", "Other Org", "", "",
                                                        "", "", ""]]))
    make_org("Other Org")
    db.session.commit()
    scoped = runner.invoke(args=["people", "import", str(path), "--as", "orgcoord@example.org", "--lang", "zh_CN"])
    assert scoped.exit_code == 3, scoped.output
    assert "您仅负责协调" in scoped.output
    unknown = runner.invoke(args=["people", "import", str(path), "--as", "member@example.org"])
    assert unknown.exit_code == 1 and "No coordinator" in unknown.output


# --- a bigger file -------------------------------------------------------------------------------


def test_three_hundred_rows_in_twelve_groups_import_once_and_then_change_nothing(db, hospital, today):
    org = hospital
    for number in range(12):
        programme.create_group(None, organisation_id=org.id, name=f"Group {number:02d}", capacity=30)
    db.session.commit()
    rows = [imports.SourceRow(n + 2, f"Person {n}", f"person{n}@example.org", f"P{n:05d}", org.name, "Ward",
                              ["nurse", "physician"][n % 2], [], [f"Group {n % 12:02d}"] if n % 3 else [],
                              (today - timedelta(days=n)).isoformat()) for n in range(300)]
    first = imports.import_people(None, rows)
    db.session.commit()
    assert first.counts == {"new": 300, "updated": 0, "unchanged": 0, "refused": 0}
    assert first.memberships == 200 and first.invitations == 300
    second = imports.import_people(None, rows)
    db.session.commit()
    assert second.changes == 0 and second.counts["unchanged"] == 300
