"""The people-import benchmark (bench/import_bench.py): its file, its steps and its section of bench/RESULTS.md,
run small on a database of its own (SQLite, or a throw-away database beside TEST_DATABASE_URL's)."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.accounts.people_import.spreadsheets import read_table
from bench import import_bench


@pytest.fixture
def bench_url(tmp_path):
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'import-bench.db'}"
        return
    url = sa.engine.make_url(test_url).set(database=f"import_bench_{uuid.uuid4().hex[:8]}")
    yield url.render_as_string(hide_password=False)
    admin = sa.create_engine(sa.engine.make_url(test_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def test_the_generated_file_is_an_hr_export_the_import_reads_whole():
    import io

    content = import_bench.xlsx_file(90)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[0] == "2027年巴林特小组人员名单"  # a title line above the header
    table = read_table(content)
    assert len(table.rows) == 90 and table.ignored == ["手机号"]
    emails = [cells[table.columns["email"]] for _line, cells in table.rows]
    assert len(set(emails)) == 90


def test_a_small_run_previews_imports_and_then_changes_nothing(bench_url):
    run = import_bench.measure(bench_url, "test", rows=60, log=lambda line: None)
    assert [(s.label, s.outcome) for s in run.steps] == [
        ("preview 1", "60/0/0/0"), ("import 1", "60/0/0/0"), ("preview 2", "0/0/60/0"), ("import 2", "0/0/60/0")]
    assert all(s.statements > 0 and s.seconds > 0 for s in run.steps)
    assert run.steps[3].statements < run.steps[1].statements / 10


def test_the_section_replaces_its_old_self_in_the_results_and_leaves_the_rest():
    run = import_bench.Run("SQLite", 2000, 100_000, [import_bench.Step("import 2", 1.5, 29, "0/0/2000/0")])
    first = import_bench.with_section("# Benchmark results\n\nThe load test.\n", import_bench.section([run]))
    assert first.startswith("# Benchmark results\n\nThe load test.\n\n<!-- people-import -->")
    assert "| SQLite | import 2 | 1.50 | 29 | 0/0/2000/0 |" in first
    again = import_bench.with_section(first + "\nAfter.\n", import_bench.section([run]))
    assert again.count("<!-- people-import -->") == 1 and again.endswith("After.\n")
    assert again.startswith("# Benchmark results\n\nThe load test.\n")
