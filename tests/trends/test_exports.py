"""Exports and the quarterly report: the formula guard, the anonymity threshold, random anonymised rows,
released text only, audit entries, the coordinator's scope, and the report in the user's language."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.audit.models import AuditEntry
from app.feedback.models import Answer, FeedbackRound, Response
from app.feedback.services.responses import submit_response
from app.meetings import services as meetings
from app.timeutil import utcnow
from app.trends import export_queries as eq
from app.trends.charts import bar_chart
from app.trends.files import xlsx_cell
from tests.factories import EXPORT, make_group, make_org, make_user, round_of_five
from tests.querylog import recorded_statements

EVIL = ("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR")


@pytest.fixture
def feedback_round(db, group, crew, past_meetings):
    """Round 1 of the persona group, opened by five held meetings all eight members attended."""
    found = round_of_five(group, past_meetings[:5], crew, EXPORT, title_en="Export", title_zh="导出")
    db.session.commit()
    return found


def answer(db, feedback_round, people, texts=None, close=True):
    """The people answer; then the round closes (unless told otherwise): answers are exported only after."""
    for i, person in enumerate(people):
        given = {"a1": 1 + i % 5, "a2": 2}
        if texts:
            given["t1"] = texts[i % len(texts)]
        submit_response(person, feedback_round, given, utcnow())
    if close:
        feedback_round.close(utcnow())
    db.session.commit()


def release_all(db, feedback_round):
    for a in db.session.scalars(sa.select(Answer).join(Response).where(Response.round_id == feedback_round.id,
                                                                          Answer.item_code == "t1")):
        a.review = "released"
    db.session.commit()


def csv_rows(response) -> list[list[str]]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def xlsx_rows(response, sheet: int = 0) -> list[list]:
    workbook = load_workbook(io.BytesIO(response.get_data()))
    return [list(row) for row in workbook.worksheets[sheet].iter_rows(values_only=True)]


def audits(db) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "export")
                                   .order_by(AuditEntry.id)))


# --- the files ---------------------------------------------------------------------------------

def test_the_aggregates_csv_has_a_bom_and_a_header_in_the_users_language(client, auth, db, feedback_round, crew,
                                                                        coordinator, today):
    answer(db, feedback_round, crew[:4])
    auth.login(coordinator)
    response = client.get("/exports/aggregates.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"balint-round-aggregates-{today.isoformat()}.csv" in response.headers["Content-Disposition"]
    header, row = csv_rows(response)[:2]
    assert header[:3] == ["Group", "Organisation", "Round"]
    assert row[0] == "Paediatrics Balint group" and row[5:7] == ["export-feedback", "2"]
    assert row[8:10] == ["8", "4"] and row[11] == "A" and row[12] == "Being heard" and row[-1] == "no"
    assert float(row[14]) == pytest.approx((1 + 2 + 3 + 4) / 4 / 2 + 2, abs=1e-3)  # a2=2 reversed scores 4

    coordinator.locale = "zh_CN"
    db.session.commit()
    header, row = csv_rows(client.get("/exports/aggregates.csv"))[:2]
    assert header[:2] == ["小组", "单位"] and "参与率" in header
    assert row[12] == "被倾听"


def test_the_xlsx_has_bold_headers_and_a_sheet_of_items_in_both_languages(client, auth, db, feedback_round, crew,
                                                                          coordinator):
    answer(db, feedback_round, crew[:3])
    auth.login(coordinator)
    response = client.get("/exports/aggregates.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(response.get_data()))
    first, reliability, board, items = workbook.worksheets
    assert first["A1"].value == "Group" and first["A1"].font.bold
    assert [reliability.title, board.title] == ["Reliability", "Programme board"]
    rows = [list(r) for r in items.iter_rows(values_only=True)]
    assert items["A1"].font.bold
    assert ["export-feedback", 2, "a2", "I felt tense", "我感到紧张", "likert", "A", "yes"] in rows


@pytest.mark.parametrize("evil", EVIL)
def test_a_group_name_or_free_text_that_a_spreadsheet_would_run_is_neutralised_in_csv_and_xlsx(
        client, auth, db, group, feedback_round, crew, coordinator, evil):
    group.name = evil + " group"
    answer(db, feedback_round, crew[:3], texts=["placeholder"])
    for a in db.session.scalars(sa.select(Answer).where(Answer.item_code == "t1")):
        a.text = evil + " text"  # as stored: the form strips leading whitespace, an import might not
    release_all(db, feedback_round)
    auth.login(coordinator)
    for kind in ("aggregates", "responses", "free-text"):
        rows = csv_rows(client.get(f"/exports/{kind}.csv"))[1:]
        cells = [c for r in rows for c in r if evil.strip() in c]
        assert cells and all(c.startswith("'") for c in cells), cells
    for kind, sheet in (("aggregates", 0), ("responses", 0), ("responses", 1)):
        rows = xlsx_rows(client.get(f"/exports/{kind}.xlsx"), sheet)[1:]
        cells = [c for r in rows for c in r if isinstance(c, str) and evil.strip() in c]
        # (XML reads a stored CR back as LF: what matters is the quote in front.)
        assert cells and all(c.startswith("'") for c in cells), cells
    assert len([c for r in rows for c in r if isinstance(c, str) and c.startswith("'") and c.endswith(" text")]) == 3


def test_xlsx_cells_keep_numbers_and_drop_characters_xml_cannot_hold():
    assert xlsx_cell(-3) == -3 and xlsx_cell(None) == ""
    assert xlsx_cell("=1+1") == "'=1+1" and xlsx_cell("a\x00b\x07c") == "abc"


# --- anonymity ---------------------------------------------------------------------------------

def test_a_round_below_k_exports_no_numbers_and_no_responses(client, auth, db, feedback_round, crew,
                                                             coordinator):
    answer(db, feedback_round, crew[:2], texts=["Quite private"])
    release_all(db, feedback_round)
    auth.login(coordinator)
    header, row = csv_rows(client.get("/exports/aggregates.csv"))
    assert row[0] == "Paediatrics Balint group"
    assert row[8:18] == [""] * 10 and row[-1].startswith("yes")
    for fmt in ("csv", "xlsx"):
        rows = (csv_rows if fmt == "csv" else xlsx_rows)(client.get(f"/exports/responses.{fmt}"))
        assert len(rows) == 1  # the header only
    sheet = xlsx_rows(client.get("/exports/aggregates.xlsx"))
    assert all(cell in ("", None) for cell in sheet[1][8:18])


def test_responses_come_in_random_order_with_random_row_numbers_and_no_ids_users_or_times(
        client, auth, db, feedback_round, crew, coordinator):
    answer(db, feedback_round, crew, texts=[f"Comment {i}" for i in range(8)])
    release_all(db, feedback_round)
    ids = set(db.session.scalars(sa.select(Response.id)))
    names = {p.name for p in crew} | {p.email for p in crew}
    auth.login(coordinator)
    orders, text_orders = set(), set()
    for _attempt in range(6):
        rows = csv_rows(client.get("/exports/responses.csv"))
        header, body = rows[0], rows[1:]
        assert header == ["Row", "Group", "Organisation", "Round", "Instrument", "Version", "Source", "Item",
                          "Item text", "Answer"]
        flat = {c for r in body for c in r}
        assert not flat & ids and not flat & names
        assert not any(str(feedback_round.opens_at.year) + "-" in c for c in flat)
        assert not any("Comment" in c for c in flat)  # free text is exported apart
        numbers = sorted({int(r[0]) for r in body})
        assert numbers == list(range(1, 9))
        orders.add(tuple(r[9] for r in sorted(body, key=lambda r: int(r[0])) if r[7] == "a1"))
        texts = csv_rows(client.get("/exports/free-text.csv"))
        assert texts[0] == ["Group", "Organisation", "Round", "Instrument", "Version", "Item", "Item text",
                            "Free text"]
        text_orders.add(tuple(r[7] for r in texts[1:]))
    assert len(orders) > 1 and len(text_orders) > 1  # six identical draws of 8 shuffled: 1 in 40320**5


def test_only_released_free_text_is_exported(client, auth, db, feedback_round, crew, coordinator):
    answer(db, feedback_round, crew[:4], texts=["Pending words", "Withheld words", "Released words", "Pending 2"])
    for a in db.session.scalars(sa.select(Answer).where(Answer.item_code == "t1")):
        a.review = {"Withheld words": "withheld", "Released words": "released"}.get(a.text, "pending")
    db.session.commit()
    auth.login(coordinator)
    body = client.get("/exports/free-text.csv").get_data(as_text=True)
    assert "Released words" in body
    assert "Pending" not in body and "Withheld" not in body
    assert client.get("/exports/responses.csv").get_data(as_text=True).count("I felt heard") == 4


# --- audit, scope and access -------------------------------------------------------------------

def test_each_export_creates_an_audit_entry_naming_kind_format_filters_and_rows(client, auth, db, group,
                                                                                  feedback_round, crew,
                                                                                  coordinator):
    answer(db, feedback_round, crew[:3])
    auth.login(coordinator)
    client.get("/exports/aggregates.csv")
    client.get(f"/exports/responses.xlsx?group={group.id}&from=2000-01-01&until=2999-12-31")
    first, second = audits(db)
    assert first.actor_id == coordinator.id
    assert first.detail["kind"] == "aggregates" and first.detail["format"] == "csv" and first.detail["rows"] == 1
    assert second.detail["kind"] == "responses" and second.detail["format"] == "xlsx"
    assert second.detail["filters"]["group"] == group.id and second.detail["rows"] == 6  # 3 responses x 2 items
    assert "2000-01-01" in str(second.detail["filters"])


def test_date_filters_limit_the_rounds_and_a_bad_date_is_a_message(client, auth, db, feedback_round, crew,
                                                                   coordinator):
    answer(db, feedback_round, crew[:3])
    auth.login(coordinator)
    assert len(csv_rows(client.get("/exports/aggregates.csv?until=2001-01-01"))) == 1
    assert len(csv_rows(client.get("/exports/aggregates.csv?from=2001-01-01"))) == 2
    response = client.get("/exports/aggregates.csv?from=yesterday", follow_redirects=True)
    assert response.status_code == 200 and "YYYY-MM-DD" in response.get_data(as_text=True)
    assert len(audits(db)) == 2


def test_a_scoped_coordinator_exports_and_reports_only_their_organisation(client, auth, db, feedback_round, crew,
                                                                        org_coordinator):
    answer(db, feedback_round, crew[:3])
    elsewhere = make_group(make_org("Far Hospital"), "Far group")
    db.session.commit()
    auth.login(org_coordinator)
    body = client.get("/exports/aggregates.csv").get_data(as_text=True)
    assert "Paediatrics Balint group" in body
    assert client.get(f"/exports/responses.csv?group={elsewhere.id}").status_code == 403
    page = client.get("/reports/quarter").get_data(as_text=True)
    assert "Paediatrics Balint group" in page and "Far group" not in page
    auth.logout()

    far = make_user("farcoord@example.org", roles=["coordinator"])
    far.role_assignments[0].organisation_id = elsewhere.organisation_id
    db.session.commit()
    auth.login(far)
    body = client.get("/exports/aggregates.csv").get_data(as_text=True)
    assert "Paediatrics" not in body
    assert len(xlsx_rows(client.get("/exports/aggregates.xlsx"))) == 1


@pytest.mark.parametrize("path", ["/exports/aggregates.csv", "/exports/aggregates.xlsx", "/exports/responses.csv",
                                  "/exports/responses.xlsx", "/reports/quarter"])
def test_leaders_and_members_are_refused(client, auth, db, feedback_round, leader, member, path):
    for persona in (leader, member):
        auth.login(persona)
        assert client.get(path).status_code == 403
        auth.logout()
    assert client.get(path).status_code in (302, 401)
    assert audits(db) == []


def test_an_unknown_format_is_not_found(client, auth, coordinator):
    auth.login(coordinator)
    assert client.get("/exports/aggregates.pdf").status_code == 404


# --- the quarterly report ----------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _quarter_of(moment: datetime) -> tuple[int, int]:
    local = moment.replace(tzinfo=UTC).astimezone(SHANGHAI)
    return local.year, (local.month - 1) // 3 + 1


def _closed_in_quarter(db, feedback_round, past_meetings):
    """Close the round in the quarter of its first meeting; return that quarter and the meetings held in it."""
    year, quarter = _quarter_of(past_meetings[0].starts_at)
    held = [m for m in past_meetings[:5] if _quarter_of(m.starts_at) == (year, quarter)]
    cancelled = past_meetings[5]
    if _quarter_of(cancelled.starts_at) == (year, quarter):
        meetings.record_meeting(None, cancelled, status="cancelled", now=utcnow(), cancel_reason="Holiday")
    feedback_round.status, feedback_round.closed_at = "closed", past_meetings[0].starts_at + timedelta(hours=2)
    db.session.commit()
    n_cancelled = 1 if _quarter_of(cancelled.starts_at) == (year, quarter) else 0
    return year, quarter, len(held), n_cancelled


def test_the_report_shows_meetings_attendance_and_the_rounds_closed_in_the_quarter(
        client, auth, db, feedback_round, crew, past_meetings, coordinator):
    answer(db, feedback_round, crew[:4])
    year, quarter, held, cancelled = _closed_in_quarter(db, feedback_round, past_meetings)
    auth.login(coordinator)
    response = client.get(f"/reports/quarter?year={year}&quarter={quarter}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/static/report-print.css" media="print"' in page
    assert "<script>" not in page and " style=" not in page and " onclick" not in page
    summary = page.split('id="summary-group-')[1].split("</tr>")[0]
    assert f'<td class="text-end">{held}</td><td class="text-end">{cancelled}</td>' in summary
    assert "100%" in summary  # everyone was present
    assert "Participation: 4 of 8 eligible members (50%)" in page
    assert "Being heard" in page and "<svg" in page and 'id="chart-group-' in page
    # The next quarter has no round closed.
    nxt = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    later = client.get(f"/reports/quarter?year={nxt[0]}&quarter={nxt[1]}").get_data(as_text=True)
    assert "No feedback round closed in this quarter." in later and "Participation:" not in later


def test_the_report_hides_a_round_below_k(client, auth, db, feedback_round, crew, past_meetings,
                                         coordinator):
    answer(db, feedback_round, crew[:2])
    year, quarter, _held, _cancelled = _closed_in_quarter(db, feedback_round, past_meetings)
    auth.login(coordinator)
    page = client.get(f"/reports/quarter?year={year}&quarter={quarter}").get_data(as_text=True)
    assert "Results are hidden to protect anonymity: fewer than 3 responses." in page
    assert "Participation:" not in page and "Being heard" not in page and 'id="chart-group-' not in page


def test_the_report_is_in_chinese_for_a_chinese_user(client, auth, db, feedback_round, crew, past_meetings,
                                                     coordinator):
    answer(db, feedback_round, crew[:4])
    year, quarter, held, _cancelled = _closed_in_quarter(db, feedback_round, past_meetings)
    coordinator.locale = "zh_CN"
    db.session.commit()
    auth.login(coordinator)
    page = client.get(f"/reports/quarter?year={year}&quarter={quarter}").get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    assert "第1轮" in page and "被倾听" in page and "均值" in page and "小组" in page
    assert "Paediatrics Balint group" in page


@pytest.mark.parametrize("query", ["year=abc&quarter=1", "year=2024&quarter=5", "year=1900&quarter=1",
                                   "year=2024&quarter=", "year=99999999999999999999&quarter=2"])
def test_a_bad_year_or_quarter_is_a_message_not_an_error(client, auth, db, coordinator, query):
    auth.login(coordinator)
    response = client.get(f"/reports/quarter?{query}")
    assert response.status_code == 400
    assert "Choose a year from 2000 and a quarter from 1 to 4" in response.get_data(as_text=True)


def test_the_default_quarter_is_the_last_complete_one():
    assert eq.last_complete_quarter(date(2025, 2, 10)) == (2024, 4)
    assert eq.last_complete_quarter(date(2025, 7, 1)) == (2025, 2)
    assert eq.quarter_bounds(2024, 4) == (date(2024, 10, 1), date(2025, 1, 1))
    with pytest.raises(ValueError):
        eq.quarter_bounds(2024, 0)


def test_bar_chart_bars_and_confidence_intervals_stay_on_the_scale():
    chart = bar_chart("t", [("a", 3.0, "3", 2.0, 6.0), ("b", None, "—", None, None)], 1, 5, "1", "5")
    first, second = chart.bars
    assert first.width == pytest.approx(chart.span / 2) and first.ci_low == pytest.approx(chart.span / 4)
    assert first.ci_high == chart.span  # clipped at the scale's top
    assert second.width == 0 and second.y == chart.row


def test_the_nav_links_exports_and_report_for_coordinators_only(client, auth, db, coordinator, member):
    auth.login(coordinator)
    assert 'href="/reports/quarter"' in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(member)
    assert 'href="/reports/quarter"' not in client.get("/").get_data(as_text=True)


def _statements(run) -> int:
    with recorded_statements() as seen:
        result = run()
    return len(seen), result


def test_aggregate_rows_are_the_per_round_rows_in_a_fixed_number_of_statements(db, feedback_round, crew, group):
    answer(db, feedback_round, crew[:5])
    few, rows = _statements(lambda: eq.aggregate_rows(eq.Filters(), k=3))
    assert rows == [eq.aggregate_row(feedback_round, 3, "en")]
    # Twelve more rounds (some below k) with responses written straight to the database.
    for number in range(2, 14):
        extra = FeedbackRound(group_id=group.id, number=number, opens_at=feedback_round.opens_at + timedelta(
            days=number), closes_at=feedback_round.closes_at + timedelta(days=number), status="closed",
            instrument_id=feedback_round.instrument_id)
        db.session.add(extra)
        db.session.flush()
        for i in range(number % 5):
            db.session.add(Response(round_id=extra.id, instrument_id=extra.instrument_id, answers=[
                Answer(item_code="a1", value=1 + (i + number) % 5), Answer(item_code="a2", value=1 + i % 5)]))
    db.session.commit()
    many, rows = _statements(lambda: eq.aggregate_rows(eq.Filters(), k=3))
    assert many == few and len(rows) == 13
    rounds = db.session.scalars(sa.select(FeedbackRound).order_by(FeedbackRound.number)).all()
    assert rows == [eq.aggregate_row(r, 3, "en") for r in rounds]
    assert [r.suppressed for r in rows[1:]] == [(n % 5) < 3 for n in range(2, 14)]
