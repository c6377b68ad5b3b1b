"""The people import at HR scale: a 2,000-row XLSX previewed and imported through the coordinators' pages, twice.

For each database (SQLite always, PostgreSQL when a URL is given): an empty schema with 20 organisations of 2
groups each and one coordinator; then, in-process through the test client (the real views, templates and
services, one request each): upload and preview, confirm, upload and preview again, confirm again. The second
import must change nothing. The times and SQL statements of each step go into bench/RESULTS.md (its
"People import" section, replaced on each run; `make bench` runs this after the load test).

    python -m bench.import_bench                         # SQLite only
    python -m bench.import_bench --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_import
    python -m bench.import_bench --rows 500              # a smaller file
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "RESULTS.md"
START = "<!-- people-import -->"
END = "<!-- /people-import -->"
ORGANISATIONS = 20
GROUPS_PER_ORGANISATION = 2
COORDINATOR = "import.coordinator@bench.example.org"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
DEPARTMENTS = ("儿科", "新生儿科", "儿童重症监护室", "急诊科", "心理科", "护理部")
PROFESSIONS = ("医生", "护士", "医师", "主管护师", "心理治疗师", "其他")


def organisation_name(index: int) -> str:
    return f"北京第{index + 1}医院"


def group_name(org_index: int, number: int) -> str:
    return f"巴林特{'一二'[number]}组（{org_index + 1}院）"


def xlsx_file(rows: int) -> bytes:
    """An HR export of `rows` people in Chinese: title line, header, one person per row; every third joins a group
    (at most 30 per group, so no group is over its capacity)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["2027年巴林特小组人员名单"])
    sheet.append(["姓名", "邮箱", "工号", "单位", "科室", "职称类别", "角色", "小组", "加入日期", "手机号"])
    per_org = max(rows // ORGANISATIONS, 1)
    for n in range(rows):
        org = min(n // per_org, ORGANISATIONS - 1)
        in_org = n - org * per_org
        group = group_name(org, in_org % GROUPS_PER_ORGANISATION) if in_org % 3 == 0 and in_org < 180 else ""
        sheet.append([
            SURNAMES[n % 20] + GIVEN[(n // 20) % 20] + GIVEN[(n // 400) % 20],
            f"staff{n:05d}@hospital{org + 1}.example.cn",
            f"BJ{org + 1:02d}{n:05d}", organisation_name(org), DEPARTMENTS[n % len(DEPARTMENTS)],
            PROFESSIONS[n % len(PROFESSIONS)], "成员" if n % 50 else "成员、组长", group,
            (date(2027, 1, 4) + timedelta(days=n % 60)).isoformat() if group else "", f"1380000{n:04d}",
        ])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@dataclass
class Step:
    label: str
    seconds: float
    statements: int
    outcome: str


@dataclass
class Run:
    database: str
    rows: int
    file_bytes: int
    steps: list[Step] = field(default_factory=list)


def _app(url: str):
    from app import create_app

    # The Testing config: mail kept in memory, no CSRF to mint; everything else as in production.
    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})


def _ensure_database(url: str) -> None:
    if not url.startswith("postgresql"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}) is None:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def _seed(app) -> str:
    """An empty schema with the organisations, their groups and the coordinator; returns the coordinator's
    session id (what Flask-Login keeps in the session)."""
    from app.accounts import services as accounts
    from app.extensions import db
    from app.programme import services as programme

    with app.app_context():
        db.drop_all()
        db.create_all()
        for index in range(ORGANISATIONS):
            org = programme.create_organisation(None, name=organisation_name(index))
            for number in range(GROUPS_PER_ORGANISATION):
                programme.create_group(None, organisation_id=org.id, name=group_name(index, number), capacity=40)
        coordinator = accounts.create_user(None, email=COORDINATOR, name="协调员", roles=["coordinator"],
                                           password="bench password 123")
        db.session.commit()
        return coordinator.get_id()


class _Counter:
    def __init__(self, engine):
        import sqlalchemy as sa

        self.count = 0
        self.engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1

    def close(self):
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self._count)


def _summary(html: str) -> str:
    """The outcome counts of a preview or result page: new/updated/unchanged/refused."""
    found = dict(re.findall(r'data-outcome="(\w+)" data-count="(\d+)"', html))
    return "/".join(found.get(outcome, "?") for outcome in ("new", "updated", "unchanged", "refused"))


def measure(url: str, label: str, rows: int = 2000, log=print) -> Run:
    """Preview and import the file twice on the database at `url`; the second import must change nothing."""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    from app.extensions import db

    _ensure_database(url)
    app = _app(url)
    login_id = _seed(app)
    content = xlsx_file(rows)
    run = Run(database=label, rows=rows, file_bytes=len(content))
    with app.app_context():
        engine = db.engine
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"], session["lang"] = login_id, True, "zh_CN"
    counter = _Counter(engine)
    try:
        for attempt in (1, 2):
            data = MultiDict()
            data.add("file", FileStorage(io.BytesIO(content), filename="人员名单.xlsx"))
            boundary, body = encode_multipart(data)
            counter.count, started = 0, time.perf_counter()
            preview = client.post("/people/import", data=body,
                                  content_type=f"multipart/form-data; boundary={boundary}")
            seconds, statements = time.perf_counter() - started, counter.count
            page = preview.get_data(as_text=True)
            if preview.status_code != 200:
                raise RuntimeError(f"preview answered {preview.status_code}")
            run.steps.append(Step(f"preview {attempt}", seconds, statements, _summary(page)))
            log(f"  {label}: preview {attempt} {seconds:.2f} s, {statements} statements ({_summary(page)})")
            token = re.search(r'name="token"[^>]*value="([^"]+)"', page)
            if token is None:
                raise RuntimeError("the preview offers no confirmation")
            counter.count, started = 0, time.perf_counter()
            result = client.post("/people/import/confirm", data={"token": unescape(token.group(1))})
            seconds, statements = time.perf_counter() - started, counter.count
            done = result.get_data(as_text=True)
            if result.status_code != 200:
                raise RuntimeError(f"confirmation answered {result.status_code}")
            run.steps.append(Step(f"import {attempt}", seconds, statements, _summary(done)))
            log(f"  {label}: import {attempt} {seconds:.2f} s, {statements} statements ({_summary(done)})")
        if not run.steps[-1].outcome.startswith("0/0/"):
            raise RuntimeError(f"the second import changed something: {run.steps[-1].outcome}")
    finally:
        counter.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return run


def section(runs: list[Run]) -> str:
    """The "People import" section of bench/RESULTS.md, between its markers."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = runs[0].rows if runs else 0
    size = runs[0].file_bytes / 1024 if runs else 0
    out = [
        START,
        f"## People import ({rows:,} rows)",
        "",
        f"Run {stamp} with `python -m bench.import_bench` (part of `make bench`); Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} when it ended "
        "(other work on the machine slows every step alike). "
        f"The file: an XLSX of {rows:,} people ({size:.0f} KB) in Chinese, as an HR export "
        f"gives it (a title line above the header, a column the import does not use), {ORGANISATIONS} "
        f"organisations, every third person of the first 180 of each organisation joining one of its "
        f"{GROUPS_PER_ORGANISATION} groups. Each step is one request through the coordinators' pages in-process "
        "(views, templates and services, no network); *statements* counts the SQL statements it ran. "
        "The preview runs the whole import in a SAVEPOINT and rolls it back; *outcome* is new/updated/unchanged/"
        "refused.",
        "",
        "| database | step | seconds | statements | outcome |",
        "|---|---|---:|---:|---|",
    ]
    for run in runs:
        for step in run.steps:
            out.append(f"| {run.database} | {step.label} | {step.seconds:.2f} | {step.statements:,} | {step.outcome} |")
    out += ["", "The second import changes nothing (0 new, 0 updated) and costs a few statements per 500 rows: "
                "people, staff numbers and memberships are read in bulk, and a row with nothing to change calls no "
                "service.", END]
    return "\n".join(out) + "\n"


def with_section(text: str, new: str, start: str = START, end: str = END) -> str:
    """`text` (RESULTS.md) with its section between the markers `start` and `end` (the people import's unless
    told) replaced by `new`, or `new` appended."""
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        return before + new + ("\n" + after if after else "")
    return text.rstrip("\n") + "\n\n" + new


def sections(text: str) -> dict[tuple[str, str], str]:
    """Every section of `text` between a pair of markers (`<!-- name -->` … `<!-- /name -->`), by its markers."""
    found = {}
    for match in re.finditer(r"^<!-- ([a-z-]+) -->$.*?^<!-- /\1 -->$\n?", text, re.M | re.S):
        found[(f"<!-- {match.group(1)} -->", f"<!-- /{match.group(1)} -->")] = match.group(0).rstrip("\n") + "\n"
    return found


def pg_url_beside(url: str) -> str:
    """A database of its own (bench_import) on the PostgreSQL server of `url`: never the load test's data."""
    import sqlalchemy as sa

    return sa.engine.make_url(url).set(database="bench_import").render_as_string(hide_password=False)


def run_all(rows: int, pg_url: str | None, log=print) -> list[Run]:
    runs = [measure(f"sqlite:///{DATA / 'import.db'}", "SQLite", rows, log)]
    if pg_url:
        runs.append(measure(pg_url, "PostgreSQL", rows, log))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_IMPORT_PG_URL"),
                        help="also measure on this PostgreSQL database (created if missing, emptied)")
    parser.add_argument("--no-write", action="store_true", help="print the section; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    text = section(run_all(args.rows, args.pg_url))
    if not args.no_write:
        RESULTS.write_text(with_section(RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n", text))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
