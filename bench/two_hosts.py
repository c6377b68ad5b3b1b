"""Two app hosts sharing one PostgreSQL and one Redis: daily pages' throughput with one host and with two.

The benchmark's PostgreSQL data is served by gunicorn (production config, BENCH_ENDPOINTS) on loopback ports,
every host with the same SECRET_KEY, DATABASE_URL, BASE_URL and Redis rate-limit storage, and each page is
driven with wrk, 8 connections in all (split evenly between the hosts, as a load balancer would):
- one host with 2 workers (the deployment `make bench` measures);
- two hosts with 1 worker each: the same processes split across two hosts — what sharing costs;
- two hosts with 2 workers each: twice the processes.
One member's session cookie, minted once, goes to every host. Before measuring, each page must answer 200 on
every host with it (a host that did not accept the session would redirect to the log-in page). Each page is then
measured under the three set-ups in turn, three rounds over (the median kept), so the machine's other load falls
on all of them alike.
On one machine the hosts share its CPUs: the figures show what splitting costs, not what a second machine adds.
The "Two hosts" section of bench/RESULTS.md (between its markers) is replaced; `make bench` runs this after
`bench.run`, on the city scale's PostgreSQL database (and skips it when that was never generated).

    python -m bench.two_hosts                          # the city scale's data (its manifest, bench/data/city-1.json)
    python -m bench.two_hosts --generate --database-url postgresql+psycopg://postgres@127.0.0.1:5432/two_hosts
                                                       # hospital-scale data generated into a new, empty database
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import import_bench, run

START = "<!-- two-hosts -->"
END = "<!-- /two-hosts -->"
CONNECTIONS = 8
SETUPS = (("one host × 2 workers", 1, 2), ("two hosts × 1 worker", 2, 1), ("two hosts × 2 workers", 2, 2))
DEFAULT_MANIFEST = run.DATA / "city-1.json"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"  # production's default RATELIMIT_STORAGE_URI


@dataclass
class Page:
    key: str
    label: str
    path: str


@dataclass
class Measured:
    """One page under one set-up: throughput summed over the hosts, the worst host's latency."""

    rps: float
    p50: float
    p95: float
    failed: int
    per_host_rps: list[float] = field(default_factory=list)
    busiest_worker: float | None = None  # the busiest worker's share of all the workers' CPU time


def cpu_ticks(pid: int) -> int:
    """User and system CPU time the process has used, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def pages(m: dict) -> list[Page]:
    return [
        Page("auth", "auth floor (session user only)", "/_floor/auth"),
        Page("member_home", "member home", "/"),
        Page("form_get", "feedback form (GET)", f"/rounds/{m['open_round_id']}/answer"),
    ]


def member_session(app, email: str) -> str:
    """The member's session cookie, signed with the key every host shares."""
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.extensions import db

    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == email))
        db.session.remove()
    return run.mint_session(app, user_id)[0]


def check_answers(url: str, page: Page, cookie: str) -> None:
    """The page answers 200 with the session on this host; raises RuntimeError otherwise (a redirect too)."""
    request = urllib.request.Request(url + page.path, headers={"Cookie": cookie, "User-Agent": run.USER_AGENT})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        with exc:
            status = exc.code
    if status != 200:
        raise RuntimeError(f"{page.path} answered {status} on {url}: the hosts do not share the session")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def drive(urls: list[str], requests_file: Path, duration: float, workers: list[int] = ()) -> Measured:
    """wrk against every host at once, the connections split evenly; throughput summed, the worst latency, and
    how the work fell on the `workers` (process ids)."""
    share = CONNECTIONS // len(urls)
    before = {pid: cpu_ticks(pid) for pid in workers}
    processes = [subprocess.Popen(run.wrk_command(url, requests_file, share, duration), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True) for url in urls]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"wrk exited with {process.returncode}")
        results.append(run.wrk_result(out))
    used = [cpu_ticks(pid) - ticks for pid, ticks in before.items()]
    return Measured(rps=sum(r["rps"] for r in results), p50=max(r["p50"] for r in results),
                    p95=max(r["p95"] for r in results), failed=sum(r["failed"] for r in results),
                    per_host_rps=[r["rps"] for r in results],
                    busiest_worker=max(used) / sum(used) if sum(used) else None)


def measure(m: dict, duration: float, redis_url: str, rounds: int = 3, log=print) -> dict:
    """Every page under every set-up on the manifest's database; returns what `section` writes.

    Every set-up's servers run from the start (an idle server costs nothing), and each page is measured under the
    set-ups in turn, `rounds` times over, so a change in the machine's other load falls on all of them alike; the
    round with the median throughput is kept.
    """
    database_url = m["database_url"]
    app = run.bench_app(database_url)
    cookie = member_session(app, m["member"])
    run._dispose(app)
    shared = {"RATELIMIT_STORAGE_URI": redis_url, "BASE_URL": "http://127.0.0.1:8000"}
    figures: dict[str, dict[str, Measured]] = {}
    servers: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for label, count, workers in SETUPS:
                log(f"[two hosts] starting {label} ...")
                servers[label] = []
                for _ in range(count):
                    servers[label].append(run.Gunicorn(database_url, workers=workers, threads=4, env=shared))
            for page in pages(m):
                file = Path(tmp) / f"{page.key}.tsv"
                file.write_text(f"GET\t{page.path}\t{cookie}\t\n")
                runs: dict[str, list[Measured]] = {label: [] for label, _, _ in SETUPS}
                for hosts in servers.values():
                    for server in hosts:
                        check_answers(server.url, page, cookie)
                    drive([server.url for server in hosts], file, 1.0)  # warm every worker
                for _ in range(rounds):
                    for label, hosts in servers.items():
                        pids = [pid for server in hosts for pid in server.workers()]
                        runs[label].append(drive([server.url for server in hosts], file, duration, pids))
                figures[page.key] = {label: sorted(found, key=lambda r: r.rps)[len(found) // 2]
                                     for label, found in runs.items()}
                for label, result in figures[page.key].items():
                    log(f"  {page.label:<34} {label:<22} {result.rps:8.1f} req/s  p95 {result.p95:7.1f} ms  "
                        f"(per host: {', '.join(f'{r:.1f}' for r in result.per_host_rps)}; busiest worker "
                        f"{result.busiest_worker or 0:.0%} of the CPU)")
        finally:
            for hosts in servers.values():
                for server in hosts:
                    server.stop()
    return {"manifest": m, "duration": duration, "rounds": rounds, "figures": figures, "pages": pages(m),
            "load": os.getloadavg()[0]}


def section(result: dict) -> str:
    """The "Two hosts" section of bench/RESULTS.md, between its markers."""
    m, figures = result["manifest"], result["figures"]
    database = "PostgreSQL" if m["database_url"].startswith("postgresql") else "SQLite"
    c = m.get("counts", {})
    data = (f"{m['scale']} scale at {m['factor']:g}× ({m['groups']} groups × {m['years']} years, "
            f"{c.get('users', 0):,} users, {c.get('responses', 0):,} responses)")
    labels = [label for label, _, _ in SETUPS]
    head = ("| page | " + " | ".join(f"{label}: req/s | p95@8 ms" for label in labels)
            + " | × one host | busiest worker (one host) | failed |")
    out = [
        START,
        "## Two hosts sharing PostgreSQL and Redis",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.two_hosts` (part of `make bench`; wrk "
        f"{result['duration']:g} s per measurement, each set-up {result['rounds']} times in turn, the median kept), "
        f"on {database}: {data}. Machine: {run.machine()}; load average {result['load']:.1f} when it ended "
        "(other work on the machine slows every set-up alike).",
        "",
        "Every host is gunicorn (gthread, 4 threads a worker, production config) on its own loopback port with the "
        "same SECRET_KEY, database, BASE_URL and Redis rate-limit storage; one member's session cookie, minted once, "
        f"is sent to every host, and each page first answered 200 on each. {CONNECTIONS} connections in all, split "
        "evenly between the hosts; *req/s* is summed over the hosts, *p95@8* is the worse host's. *× one host*: the "
        "two set-ups' throughput over the one host's. All the hosts run on this one machine and share its CPUs, so "
        "the figures say what splitting the app across hosts costs, not what a second machine would add.",
        "",
        head,
        "|---|" + "---:|---:|" * len(labels) + "---|---:|---:|",
    ]
    for page in result["pages"]:
        row = figures[page.key]
        one = row[labels[0]].rps
        cells = " | ".join(f"{row[label].rps:.1f} | {row[label].p95:.1f}" for label in labels)
        ratios = " / ".join(f"{row[label].rps / one:.2f}" if one else "–" for label in labels[1:])
        failed = sum(row[label].failed for label in labels)
        busiest = row[labels[0]].busiest_worker
        out.append(f"| {page.label} | {cells} | {ratios} | {f'{busiest:.0%}' if busiest is not None else '–'} | "
                   f"{failed} |")
    split = [figures[page.key][labels[1]].rps / figures[page.key][labels[0]].rps for page in result["pages"]
             if figures[page.key][labels[0]].rps]
    if split:
        out += ["", f"The same two workers split across two hosts served {min(split):.2f}–{max(split):.2f}× what one "
                "host served: a request costs no more when the hosts share one session key, one database and one "
                "Redis. Above 1× is the even split, not the hosts: *busiest worker* is the share "
                "of the one host's CPU time used by the busier of its two workers while wrk's 8 kept-alive "
                "connections ran — gunicorn leaves it to the kernel which worker accepts a connection, and one "
                "worker (4 threads, one Python interpreter) can end up with most of them, while each of two hosts' "
                "single worker gets exactly 4. `bench/run.py`'s one-host figures, measured the same way, share this."]
    out += ["", END]
    return "\n".join(out) + "\n"


def generate_into(database_url: str, log=print) -> dict:
    """Hospital-scale data generated into a new or empty PostgreSQL database (schema made by the models)."""
    import sqlalchemy as sa

    from app import create_app
    from app.extensions import db
    from bench.generate import generate

    run.ensure_database(database_url)
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        if sa.inspect(db.engine).get_table_names():
            raise SystemExit(f"{database_url} is not empty: pass an empty database, or --manifest of its data")
        db.create_all()
    manifest = generate(None, "hospital", app=app, manifest_path=run.DATA / "two-hosts.json", log=log)
    run._dispose(app)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                        help="the generated data to serve (default: the city scale's)")
    parser.add_argument("--generate", action="store_true",
                        help="generate hospital-scale data into --database-url first (an empty database)")
    parser.add_argument("--database-url", help="with --generate: the PostgreSQL database to fill")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
                        help="the hosts' shared rate-limit storage (default BENCH_REDIS_URL, else Redis db 0)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of wrk per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each page under each set-up")
    parser.add_argument("--no-write", action="store_true", help="print the section; leave bench/RESULTS.md alone")
    parser.add_argument("--if-data", action="store_true",
                        help="without the manifest, say so and exit 0 (what `make bench` runs)")
    args = parser.parse_args(argv)
    run.DATA.mkdir(parents=True, exist_ok=True)
    if args.generate:
        if not (args.database_url or "").startswith("postgresql"):
            parser.error("--generate needs --database-url of a PostgreSQL database")
        manifest = generate_into(args.database_url)
    elif args.manifest.exists():
        manifest = json.loads(args.manifest.read_text())
    elif args.if_data:
        print(f"Two hosts: no PostgreSQL data ({args.manifest} is missing); bench/RESULTS.md's section left as it is.")
        return 0
    else:
        parser.error(f"{args.manifest} does not exist: run `make bench` first, or pass --generate")
    text = section(measure(manifest, args.duration, args.redis_url, args.rounds))
    if not args.no_write:
        results = run.RESULTS.read_text() if run.RESULTS.exists() else "# Benchmark results\n"
        run.RESULTS.write_text(import_bench.with_section(results, text, START, END))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
