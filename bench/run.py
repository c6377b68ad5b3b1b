"""`make bench`: generate the programme, serve it with gunicorn and measure every key endpoint under load.

For each scale (hospital on SQLite, city on PostgreSQL):
1. generate the data at 0.1x and count the SQL queries of every endpoint in-process; then at 1x (10x the
   data) and count again: the two counts must be equal;
2. serve the 1x database with gunicorn (2 workers) on 127.0.0.1 and drive each endpoint with wrk on
   loopback: throughput with 8 connections, latency (p50/p95) with one connection and with 8;
3. on the same server, the framework floor (a constant answer, no database) and the auth floor (the
   signed-in user loaded, nothing else); every endpoint's throughput is printed as a ratio to the auth floor;
4. for the trend endpoints, the SQL the page runs replayed directly on the database (no Python, no
   template): the page's time is printed as a ratio to that bare SQL;
5. the workers' peak resident memory (VmHWM);
and writes the table with the machine description to bench/RESULTS.md.

    python -m bench.run                      # both scales (the city takes several minutes to generate)
    python -m bench.run --scales hospital --duration 3
    python -m bench.run --reuse              # skip generation, measure the databases already built
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from bench import import_bench

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "RESULTS.md"
LUA = ROOT / "bench" / "wrk.lua"
SECRET_KEY = "bench-secret-key-not-for-production-use"
USER_AGENT = "balint-bench"
SCALES = {
    "hospital": {"url": f"sqlite:///{DATA / 'hospital.db'}", "small_url": f"sqlite:///{DATA / 'hospital-small.db'}"},
    "city": {"url": os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"),
             "small_url": os.environ.get("BENCH_PG_SMALL_URL",
                                         "postgresql+psycopg://postgres@127.0.0.1:5432/bench_small")},
}
#: The targets of the issue, checked in the printed table.
AUTH_RATIO_TARGET = 0.5
#: p95 latency targets (one user alone) per scale and endpoint.
P95_TARGETS_MS = {
    "hospital": {"group_trends": 50},
    "city": {"coordinator_home": 300, "programme_trends": 250, "group_trends": 150, "xlsx": 500},
}
WORKER_RSS_MB = 200


# --- the endpoints -------------------------------------------------------------------------------

@dataclass
class Endpoint:
    key: str
    label: str
    role: str | None  # whose session: coordinator / leader / member / burst / None (anonymous)
    method: str = "GET"
    path: str = ""
    body: dict = field(default_factory=dict)
    audience: str = ""  # "member"/"leader": held to the auth-floor target
    floor: bool = False
    p95_target_ms: float | None = None


def endpoints(m: dict) -> list[Endpoint]:
    answers = _answers(m)
    eps = [
        Endpoint("framework", "framework floor (constant, no database)", None, path="/_floor/framework", floor=True),
        Endpoint("auth", "auth floor (session user only)", "member", path="/_floor/auth", floor=True),
        Endpoint("login_page", "log-in page", None, path="/login", audience="member"),
        Endpoint("login", "log in (POST, argon2id check)", "anonymous", "POST", "/login",
                 {"email": m["member"], "password": m["password"]}),
        Endpoint("member_home", "member home", "member", path="/", audience="member"),
        Endpoint("form_get", "feedback form (GET)", "member", path=f"/rounds/{m['open_round_id']}/answer",
                 audience="member"),
        Endpoint("form_save", "feedback form (POST, save draft)", "member", "POST",
                 f"/rounds/{m['open_round_id']}/answer", {**answers, "action": "save"}, audience="member"),
        Endpoint("form_submit", "feedback form (POST, submit; each member once)", "burst", "POST", "",
                 {**answers, "action": "submit"}, audience="member"),
        Endpoint("leader_home", "leader home", "leader", path="/", audience="leader"),
        Endpoint("record_get", "leader's meeting record (GET)", "leader",
                 path=f"/meetings/{m['leader_meeting_id']}/record", audience="leader"),
        Endpoint("record_post", "leader's meeting record (POST, re-save)", "leader", "POST",
                 f"/meetings/{m['leader_meeting_id']}/record", audience="leader"),
        Endpoint("coordinator_home", "coordinator home (board, warnings, highlights)", "coordinator", path="/"),
        Endpoint("group_trends", "group trends", "coordinator", path=m["group_trends_path"]),
        Endpoint("programme_trends", "programme trends", "coordinator", path=m["programme_trends_path"]),
        Endpoint("feed", "calendar feed (.ics)", None, path=m["feed_path"], audience="member"),
        Endpoint("xlsx", "XLSX export", "coordinator", path=m["xlsx_export_path"]),
    ]
    targets = P95_TARGETS_MS.get(m["scale"], {})
    for ep in eps:
        ep.p95_target_ms = targets.get(ep.key)
    return eps


def _answers(m: dict) -> dict:
    """A complete, valid questionnaire answer for the shipped instrument."""
    from app.feedback.instrument_files import SHIPPED_FILE, parse_instrument

    values = {}
    for item in parse_instrument(SHIPPED_FILE.read_text(encoding="utf-8"), SHIPPED_FILE.name).items:
        if item.type in ("likert", "scale"):
            values[f"a-{item.code}"] = str(round((item.min + item.max) / 2))
        elif item.type == "choice":
            values[f"a-{item.code}"] = item.choices[0].value
        elif item.type == "text":
            values[f"a-{item.code}"] = "A calmer week on the ward."
    return values


# --- the app in-process: sessions, query counts, bare SQL -------------------------------------

def bench_app(database_url: str):
    from app import create_app

    os.environ.setdefault("SECRET_KEY", SECRET_KEY)
    os.environ.setdefault("BASE_URL", "http://127.0.0.1:8000")
    os.environ["DATABASE_URL"] = database_url
    return create_app("production", {
        "SQLALCHEMY_DATABASE_URI": database_url, "BENCH_ENDPOINTS": True, "SECRET_KEY": SECRET_KEY,
        "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False,
    })


def refresh_signals(app, log) -> None:
    """Store the group signals that are due (missing, stale, over an hour old), as the periodic `flask notify
    send-due` of a running deployment keeps them: a reused database's rows may be days old."""
    from app.extensions import db
    from app.timeutil import utcnow
    from app.trends import signals

    with app.app_context():
        count = signals.refresh(utcnow(), app.config["MIN_RESPONSES"])
        db.session.commit()
    log(f"  stored the signals of {count} group(s) that were due")


def mint_session(app, user_id: int | None) -> tuple[str, str]:
    """A signed session cookie for the user (or anonymous) with a CSRF token, as a log-in would give.

    Minting spares the benchmark thousands of argon2 hashes before it starts; the log-in itself is measured.
    """
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from app.accounts.models import User
    from app.extensions import db

    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                  headers={"User-Agent": USER_AGENT}):
        if user_id is not None:
            login_user(db.session.get(User, user_id))
        token = generate_csrf()
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
        db.session.remove()
    return f"{app.config['SESSION_COOKIE_NAME']}={cookie}", token


class _FormState(HTMLParser):
    """The values a browser would send for the page's largest POST form, as it stands."""

    def __init__(self):
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self._form: list | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = []
            self.forms.append(self._form)
        if self._form is None or not a.get("name"):
            if tag == "option" and self._select and "selected" in a and self._form is not None:
                self._form.append((self._select, a.get("value", "")))
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self._form.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "textarea":
            self._textarea = a["name"]
            self._form.append((a["name"], ""))

    def handle_data(self, data):
        if self._textarea and self._form:
            name, value = self._form[-1]
            self._form[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def record_form_body(app, leader_cookie: str, path: str) -> list[tuple[str, str]]:
    """The record form's current values (read from the page), to post back unchanged."""
    page = _client(app, leader_cookie).get(path, headers={"User-Agent": USER_AGENT}).get_data(as_text=True)
    parser = _FormState()
    parser.feed(page)
    return max(parser.forms, key=len)


class QueryCounter:
    def __init__(self, engine):
        import sqlalchemy as sa

        self.engine, self.statements = engine, []
        self._sa = sa

    def __enter__(self):
        self._sa.event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc):
        self._sa.event.remove(self.engine, "before_cursor_execute", self._note)

    def _note(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters))


def _client(app, cookie: str | None):
    client = app.test_client()
    if cookie:
        name, value = cookie.split("=", 1)
        client.set_cookie(name, value, domain="localhost")
    return client


def measure_in_process(app, sessions: dict, eps: list[Endpoint], bodies: dict) -> dict:
    """SQL statements of one request for each endpoint (the second request, once caches are warm)."""
    from app.extensions import db

    out = {}
    with app.app_context():
        engine = db.engine
    for ep in eps:
        counts, statements = [], []
        for attempt in range(2):
            path, data = _request_of(ep, sessions, bodies, index=attempt)
            cookie = sessions["burst"][attempt][0] if ep.key == "form_submit" else sessions.get(ep.role)
            client = _client(app, cookie)
            with QueryCounter(engine) as counter:
                response = client.open(path, method=ep.method, data=data, headers={
                    "User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"})
            if response.status_code >= 400:
                raise RuntimeError(f"{ep.key}: {path} answered {response.status_code}")
            counts.append(len(counter.statements))
            statements = counter.statements
        out[ep.key] = {"queries": counts[-1], "statements": statements}
    return out


def _request_of(ep: Endpoint, sessions: dict, bodies: dict, index: int = 0) -> tuple[str, str | None]:
    if ep.method == "GET":
        return ep.path, None
    if ep.key == "form_submit":
        cookie, token, round_id = sessions["burst"][index]
        return f"/rounds/{round_id}/answer", urllib.parse.urlencode({**ep.body, "csrf_token": token})
    if ep.key == "record_post":
        return ep.path, urllib.parse.urlencode(bodies["record_post"])
    token = sessions["tokens"][ep.role]
    return ep.path, urllib.parse.urlencode({**ep.body, "csrf_token": token})


def bare_sql_ms(app, statements: list, repeats: int = 15) -> float:
    """The median time of the page's SQL statements replayed back to back on one connection."""
    from app.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                for statement, parameters in statements:
                    conn.exec_driver_sql(statement, parameters).fetchall() if statement.lstrip().upper().startswith(
                        ("SELECT", "WITH")) else None
                times.append(time.perf_counter() - start)
            conn.rollback()
        db.engine.dispose()
    return statistics.median(times) * 1000


# --- gunicorn and wrk ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, database_url: str, workers: int = 2, threads: int = 4, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "BENCH_DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
               "DATABASE_URL": database_url, "BASE_URL": self.url, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--worker-class", "gthread", "--threads", str(threads), "--timeout", "120",
             "bench.run:wsgi_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_floor/framework", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("gunicorn exited") from None
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not start")

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def peak_rss_mb(self) -> list[float]:
        """Each worker's peak resident set (VmHWM), in MB."""
        peaks = []
        for pid in self.workers():
            status = Path(f"/proc/{pid}/status").read_text()
            peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
        return peaks

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def wsgi_app():
    """gunicorn's entry point for the benchmark: the production config on the benchmark database."""
    return bench_app(os.environ["BENCH_DATABASE_URL"])


def wrk_command(url: str, requests_file: Path, connections: int, duration: float, once: bool = False) -> list[str]:
    """The wrk command line that replays the prepared requests against `url` (each line once with `once`)."""
    # One wrk thread: each thread replays the request list on its own, so two would submit each member twice
    # (one thread drives 8 connections far faster than this server answers).
    return ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(duration))}s",
            "--timeout", "30s", "-s", str(LUA), url, "--", str(requests_file), *(["once"] if once else [])]


def wrk(url: str, requests_file: Path, connections: int, duration: float, once: bool = False) -> dict:
    """Drive the server with wrk over the prepared requests; returns rps, p50/p95 (ms) and failures."""
    command = wrk_command(url, requests_file, connections, duration, once)
    return wrk_result(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def wrk_result(out: str) -> dict:
    """rps, p50/p95 (ms), failures and the request count from the JSON line wrk.lua prints."""
    result = json.loads(out.strip().splitlines()[-1])
    seconds = result["duration_us"] / 1e6
    return {
        "rps": result["requests"] / seconds if seconds else 0.0,
        "p50": result["p50_us"] / 1000, "p95": result["p95_us"] / 1000,
        "failed": result["errors_status"] + result["errors_connect"] + result["errors_read"]
        + result["errors_timeout"], "requests": result["requests"],
        "detail": {k: result[k] for k in ("status_4xx", "status_5xx", "errors_connect", "errors_read",
                                          "errors_timeout") if result[k]},
    }


def write_requests(ep: Endpoint, sessions: dict, bodies: dict, directory: Path, limit: int | None = None) -> Path:
    """One request per line for the Lua script: method, path, cookie, body (tab-separated)."""
    lines = []
    if ep.key == "form_submit":
        for i in range(len(sessions["burst"]) if limit is None else limit):
            path, body = _request_of(ep, sessions, bodies, i)
            lines.append((ep.method, path, sessions["burst"][i][0], body or ""))
    else:
        path, body = _request_of(ep, sessions, bodies)
        cookie = sessions.get(ep.role) or ""
        lines.append((ep.method, path, cookie, body or ""))
    file = directory / f"{ep.key}.tsv"
    file.write_text("".join("\t".join(line) + "\n" for line in lines))
    return file


# --- one scale --------------------------------------------------------------------------------

def _sessions(app, m: dict) -> dict:
    """Signed sessions for the personas, and one per burst member with the round each may answer."""
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.extensions import db
    from app.feedback.models import Completion

    with app.app_context():
        emails = [m["coordinator"], m["leader"], m["member"], *m["burst_members"]]
        ids = dict(db.session.execute(sa.select(User.email, User.id).where(User.email.in_(emails))).all())
        answered = set(db.session.execute(sa.select(Completion.user_id, Completion.round_id)).all())
        db.session.remove()
    sessions: dict = {"tokens": {}}
    for role, email in (("coordinator", m["coordinator"]), ("leader", m["leader"]), ("member", m["member"])):
        sessions[role], sessions["tokens"][role] = mint_session(app, ids[email])
    sessions["anonymous"], sessions["tokens"]["anonymous"] = mint_session(app, None)
    # Members who answered already (an earlier run on the same data) are left out: each submits once.
    sessions["burst"] = [(*mint_session(app, ids[email]), round_id)
                         for email, round_id in zip(m["burst_members"], m["burst_round_ids"], strict=True)
                         if (ids[email], round_id) not in answered]
    return sessions


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of the benchmark when it does not exist yet."""
    if not url.startswith("postgresql"):
        return
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}) is None:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


def generate(scale: str, factor: float, url: str) -> dict:
    from bench.generate import generate as build

    ensure_database(url)
    path = DATA / f"{scale}-{factor:g}.json"
    return build(url, scale, factor=factor, manifest_path=path)


def count_queries(m: dict) -> dict[str, int]:
    app = bench_app(m["database_url"])
    eps = endpoints(m)
    sessions = _sessions(app, m)
    bodies = {"record_post": record_form_body(app, sessions["leader"], f"/meetings/{m['leader_meeting_id']}/record")}
    measured = measure_in_process(app, sessions, eps, bodies)
    _dispose(app)
    return {key: value["queries"] for key, value in measured.items()}, measured


def _dispose(app) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def run_scale(scale: str, duration: float, reuse: bool, log) -> dict:
    config = SCALES[scale]
    DATA.mkdir(parents=True, exist_ok=True)
    manifests = {}
    counts = {}
    for factor, url in ((0.1, config["small_url"]), (1.0, config["url"])):
        manifest_file = DATA / f"{scale}-{factor:g}.json"
        if reuse and manifest_file.exists() and factor == 1.0:
            manifests[factor] = json.loads(manifest_file.read_text())
        else:
            log(f"[{scale}] generating at {factor}x ...")
            manifests[factor] = generate(scale, factor, url)
        refreshing = bench_app(manifests[factor]["database_url"])
        refresh_signals(refreshing, log)
        _dispose(refreshing)
        log(f"[{scale}] {factor}x: counting queries per endpoint ...")
        counts[factor], measured = count_queries(manifests[factor])
    m = manifests[1.0]

    app = bench_app(m["database_url"])
    sessions = _sessions(app, m)
    bodies = {"record_post": record_form_body(app, sessions["leader"], f"/meetings/{m['leader_meeting_id']}/record")}
    eps = endpoints(m)
    bare = {ep.key: bare_sql_ms(app, measured[ep.key]["statements"]) for ep in eps
            if ep.role == "coordinator" and ep.key.endswith(("trends", "home"))}

    rows = {}
    log(f"[{scale}] serving with gunicorn (2 workers) and measuring with wrk ...")
    server = Gunicorn(m["database_url"])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            for ep in eps:
                if ep.key == "form_submit":
                    continue
                file = write_requests(ep, sessions, bodies, directory)
                wrk(server.url, file, 2, 1.0)  # warm both workers
                single = wrk(server.url, file, 1, duration)
                loaded = wrk(server.url, file, 8, duration)
                rows[ep.key] = {"single": single, "loaded": loaded}
                log(f"  {ep.label:<48} {loaded['rps']:8.1f} req/s  p50 {single['p50']:7.1f} ms  "
                    f"p95 {single['p95']:7.1f} ms  (8 conns: p95 {loaded['p95']:7.1f} ms)")
            # Submissions: each burst member once, 8 at a time, until the members run out.
            ep = next(e for e in eps if e.key == "form_submit")
            half = len(sessions["burst"]) // 2
            single = wrk(server.url, write_requests(ep, _slice(sessions, 0, half), bodies, directory), 1,
                         min(duration, 2.0), once=True)
            loaded = wrk(server.url, write_requests(ep, _slice(sessions, half, None), bodies, directory), 8,
                         min(duration, 2.0), once=True)
            rows[ep.key] = {"single": single, "loaded": loaded}
            log(f"  {ep.label:<48} {loaded['rps']:8.1f} req/s  p50 {single['p50']:7.1f} ms  "
                f"p95 {single['p95']:7.1f} ms  (8 conns: p95 {loaded['p95']:7.1f} ms)")
        rss = server.peak_rss_mb()
    finally:
        server.stop()
    _dispose(app)
    return {"scale": scale, "manifest": m, "small": manifests[0.1], "counts": counts, "rows": rows, "bare": bare,
            "rss": rss, "endpoints": eps}


def _slice(sessions: dict, start: int, end: int | None) -> dict:
    return {**sessions, "burst": sessions["burst"][start:end]}


# --- the report -------------------------------------------------------------------------------

def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // 1024 // 1024
    return (f"{cpu}, {os.cpu_count()} cores, {memory} GiB RAM; {platform.platform()}; Python "
            f"{platform.python_version()}; load generator wrk on the same machine (loopback)")


def report(results: list[dict], duration: float) -> str:
    out = [
        "# Benchmark results", "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench` (wrk {duration:g} s per measurement).",
        f"Machine: {machine()}.", "",
        "Each endpoint runs on gunicorn (2 gthread workers × 4 threads, production config, Redis rate-limit "
        "storage) on 127.0.0.1. *req/s* is the throughput with 8 concurrent connections; *p50/p95* the latency "
        "of one user alone (1 connection, no queueing); *p95@8* the latency with 8 connections (includes "
        "waiting for a free worker on 2 cores). *× auth* is the throughput as a share of the auth floor's; "
        "*× SQL* the page's p50 over the median time of the same SQL statements replayed on one connection; "
        "*queries* the SQL statements of one request at 0.1× and at 1× data (10 times as much).", "",
    ]
    for r in results:
        m, rows, counts = r["manifest"], r["rows"], r["counts"]
        auth_rps = rows["auth"]["loaded"]["rps"]
        database = "PostgreSQL" if m["database_url"].startswith("postgresql") else "SQLite"
        c = m["counts"]
        out += [
            f"## {r['scale']} scale on {database}", "",
            f"Data at 1×: {m['groups']} groups × {m['years']} years — {c['users']:,} users, {c['meetings']:,} "
            f"meetings, {c['attendances']:,} attendances, {c['feedback_rounds']:,} rounds, {c['responses']:,} "
            f"responses, {c['answers']:,} answers; generated in {m['seconds']['total']:.0f} s "
            f"(0.1×: {r['small']['groups']} groups × {r['small']['years']} years, "
            f"{r['small']['seconds']['total']:.0f} s).", "",
            "| endpoint | req/s | × auth | p50 ms | p95 ms | p95@8 ms | × SQL | queries 0.1× | queries 1× "
            "| failed | target |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for ep in r["endpoints"]:
            row = rows[ep.key]
            single, loaded = row["single"], row["loaded"]
            ratio = loaded["rps"] / auth_rps if auth_rps else 0
            sql = f"{single['p50'] / r['bare'][ep.key]:.1f} ({r['bare'][ep.key]:.1f} ms)" if ep.key in r["bare"] \
                else ""
            small, full = counts[0.1].get(ep.key), counts[1.0].get(ep.key)
            targets = []
            if ep.audience:
                targets.append(("≥ 0.5× auth", ratio >= AUTH_RATIO_TARGET))
            if ep.p95_target_ms:
                # No request answered within the measurement (wrk reports 0) is a miss, not a p95 of 0.
                answered = single["rps"] > 0 and single["p95"] > 0
                targets.append((f"p95 ≤ {ep.p95_target_ms:g} ms", answered and single["p95"] <= ep.p95_target_ms))
            targets.append(("queries equal", small == full))
            target = "; ".join(f"{name} {'✅' if ok else '❌'}" for name, ok in targets)
            failed = single["failed"] + loaded["failed"]
            if failed:
                detail = {k: single["detail"].get(k, 0) + loaded["detail"].get(k, 0)
                          for k in {*single["detail"], *loaded["detail"]}}
                failed = f"{failed} ({', '.join(f'{k} {v}' for k, v in sorted(detail.items()))})"
            out.append(f"| {ep.label} | {loaded['rps']:.1f} | {ratio:.2f} | {single['p50']:.1f} | "
                       f"{single['p95']:.1f} | {loaded['p95']:.1f} | {sql} | {small} | {full} | "
                       f"{failed} | {target} |")
        rss = ", ".join(f"{v:.0f} MB" for v in r["rss"])
        ok = all(v < WORKER_RSS_MB for v in r["rss"])
        out += ["", f"Workers' peak resident memory (VmHWM): {rss} — target < {WORKER_RSS_MB} MB each "
                f"{'✅' if ok else '❌'}.", ""]
    out += [
        "## Reading the table", "",
        "- The floors are what any page costs at least: *framework* is Flask answering a constant; *auth* adds "
        "the session and the signed-in user's row. A page at 0.5× auth spends as much again on its own work.",
        "- *log in (POST)* is slow by design: an argon2id check at the production cost (19 MiB, 2 passes).",
        "- *failed* counts answers other than 2xx/3xx and socket errors; it must be 0. Submissions stop when "
        "the benchmark's members with an open round have all answered once (each member submits once).",
        "- Query counts must be equal at 0.1× and 1×: a page whose count grows with the data has an N+1 query.",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="hospital,city")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of wrk per measurement")
    parser.add_argument("--reuse", action="store_true", help="measure the 1x databases already generated")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(line, flush=True)

    results = [run_scale(scale.strip(), args.duration, args.reuse, log) for scale in args.scales.split(",")]
    text = report(results, args.duration)
    # The people import: a 2,000-row XLSX previewed and imported twice (PostgreSQL beside the city scale's server).
    pg_url = import_bench.pg_url_beside(SCALES["city"]["url"]) if "city" in args.scales else None
    text = import_bench.with_section(text, import_bench.section(import_bench.run_all(2000, pg_url, log)))
    # Sections other commands write (`python -m bench.two_hosts`, which `make bench` runs next) stay as they were.
    for (start, end), kept in import_bench.sections(RESULTS.read_text() if RESULTS.exists() else "").items():
        if start not in text:
            text = import_bench.with_section(text, kept, start, end)
    RESULTS.write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
