"""Messages across channels: 10,000 notifications queued through the app's services and sent by `flask notify
send-due` to a loopback SMTP server, WeCom and DingTalk.

For each database (SQLite always, PostgreSQL when it can be created): a fresh schema with one organisation, 340
groups of 10 members (3,400 people, in English and in Chinese) whose channels are set through the service a
coordinator's page calls — e-mail only (chosen, or the programme's default), WeCom only, DingTalk only, or two or
three of them — each group with a meeting held two days ago and one starting within the reminder lead time. Then,
timed and with their SQL statements counted:
1. queueing the meeting reminders (`queue_due_reminders`, what every send-due run does first) and the "feedback
   round open" messages (opening each group's round, `open_due_rounds`): one row per person and channel, 10,000;
2. sending them: `flask notify send-due` run once, in-process (the real CLI command: claim, render in the
   recipient's language, deliver, record), against an aiosmtpd server and the loopback WeCom and DingTalk of
   tests/chatplatforms.py on free loopback ports. Each message's send is timed by channel (a wrapper round
   `services.send_one` that only measures).
Afterwards every row must be sent after one attempt, and each server must have received exactly the messages
marked sent on its channel, none twice (recipient and subject are unique per message).

The "Messages across channels" section of bench/RESULTS.md (between its markers) is replaced on each run.

    python -m bench.channels                                   # SQLite, and PostgreSQL when it answers
    python -m bench.channels --pg-url ''                       # SQLite only
    python -m bench.channels --no-write                        # print the section only
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import logging
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import sqlalchemy as sa

from bench import import_bench, run

START = "<!-- channels -->"
END = "<!-- /channels -->"
DEFAULT_PG_URL = os.environ.get("BENCH_CHANNELS_PG_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/bench_channels")
SQLITE_PATH = run.DATA / "channels.db"
GROUPS = 340
GROUP_SIZE = 10
#: Who chose what: (label, the channels they chose — None is the programme's default, e-mail —, how many people).
MIX = (
    ("e-mail (the programme's default)", None, 500),
    ("e-mail only (chosen)", ("email",), 500),
    ("WeCom only", ("wecom",), 700),
    ("DingTalk only", ("dingtalk",), 500),
    ("e-mail + WeCom", ("email", "wecom"), 400),
    ("e-mail + DingTalk", ("email", "dingtalk"), 200),
    ("WeCom + DingTalk", ("wecom", "dingtalk"), 200),
    ("all three", ("email", "wecom", "dingtalk"), 400),
)
CHANNELS = ("email", "wecom", "dingtalk")
CHANNEL_LABELS = {"email": "e-mail (SMTP)", "wecom": "WeCom app message", "dingtalk": "DingTalk work notification"}
EMAIL_DOMAIN = "channels.bench.test"
#: How to read the figures when both databases ran.
READING = ("SQLite counts three statements a message more than PostgreSQL: the `BEGIN` the app issues itself "
           "(pysqlite's own transaction handling is off) for each of the three transactions of a send — the claim, "
           "the reading and the outcome. The three channels send at the same pace on each database: what a message "
           "costs is the same claim, rendering and recording whichever way it goes; the loopback transports answer "
           "at once, so a real platform's or mail server's latency comes on top, message after message.")


@dataclass
class Step:
    label: str
    messages: int
    seconds: float
    statements: int


@dataclass
class Result:
    database: str
    people: int
    queued: dict[str, int] = field(default_factory=dict)  # channel → rows
    steps: list[Step] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)  # channel → messages the server accepted
    marked_sent: dict[str, int] = field(default_factory=dict)  # channel → rows marked sent
    duplicates: dict[str, int] = field(default_factory=dict)  # channel → messages received more than once
    other_rows: dict[str, int] = field(default_factory=dict)  # status → rows not sent, or sent after retries
    token_fetches: int = 0
    output: str = ""

    @property
    def ok(self) -> bool:
        return (not self.other_rows and not any(self.duplicates.values())
                and all(self.delivered.get(c, 0) == self.marked_sent.get(c, 0) == self.queued.get(c, 0)
                        for c in CHANNELS))


# --- the app and its data ----------------------------------------------------------------------------

def _app(url: str, smtp_port: int, platforms_base: str):
    """The production configuration, its mail going to the loopback SMTP server, both chat platforms on."""
    from app import create_app
    from tests.chatplatforms import platform_config

    os.environ.setdefault("SECRET_KEY", run.SECRET_KEY)
    os.environ.setdefault("BASE_URL", "https://balint.bench.test")
    os.environ["DATABASE_URL"] = url
    return create_app("production", {
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": run.SECRET_KEY, "BASE_URL": "https://balint.bench.test",
        "RATELIMIT_STORAGE_URI": "memory://",
        # Flask-Mailman reads these once, when the app is made.
        "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None,
        "MAIL_DEFAULT_SENDER": "Balint Groups <noreply@balint.bench.test>",
        **platform_config(platforms_base),
    })


def _fresh(url: str) -> None:
    if url.startswith("postgresql"):
        run.ensure_database(url)
        return
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


def people_plan(seed: int = 1) -> list[tuple[str, tuple[str, ...] | None]]:
    """Every person's (mix label, chosen channels), shuffled so that each group has a mix."""
    plan = [(label, chosen) for label, chosen, count in MIX for _ in range(count)]
    random.Random(seed).shuffle(plan)
    return plan


def seed(app, log=print) -> tuple[list[int], dict[str, str], dict[str, str]]:
    """The programme: groups, people and their channels, a held meeting and an upcoming one per group.

    Groups, channels and meetings go through the services; the people, their memberships and the held meeting's
    attendance are written in bulk. Returns the group ids and the people's WeCom and DingTalk ids (id → e-mail).
    """
    from app.accounts.models import RoleAssignment, User
    from app.extensions import db
    from app.feedback.services import instruments
    from app.meetings.models import Attendance
    from app.notifications import services as notifications
    from app.programme import services as programme
    from app.programme.models import Membership
    from app.scheduling import services as scheduling
    from app.sqlite import write_intent
    from app.timeutil import local_today, local_zone

    plan = people_plan()
    wecom_ids, ding_ids = {}, {}
    with app.app_context(), write_intent():
        db.drop_all()
        db.create_all()
        instruments.ensure_shipped_instrument()
        org = programme.create_organisation(None, name="Beijing Children's Hospital (channels)")
        groups = [programme.create_group(None, organisation_id=org.id, name=f"Balint group {n + 1}",
                                         capacity=GROUP_SIZE, feedback_interval=1, feedback_window_days=2,
                                         location=f"Room {n % 40 + 1}, Building {n // 40 + 1}")
                  for n in range(GROUPS)]
        now = datetime.now(UTC).replace(tzinfo=None)
        db.session.execute(sa.insert(User), [
            {"email": f"person{n:05d}@{EMAIL_DOMAIN}", "name": f"Person {n:05d}",
             "locale": "en" if n % 3 == 0 else "zh_CN", "organisation_id": org.id, "active": True,
             "email_reminders": True, "created_at": now} for n in range(len(plan))])
        users = db.session.scalars(sa.select(User).where(User.email.like(f"%@{EMAIL_DOMAIN}"))
                                   .order_by(User.email)).all()
        db.session.execute(sa.insert(RoleAssignment), [{"user_id": u.id, "role": "member"} for u in users])
        joined = local_today() - timedelta(days=60)
        db.session.execute(sa.insert(Membership), [
            {"group_id": groups[n // GROUP_SIZE].id, "user_id": u.id, "joined_on": joined}
            for n, u in enumerate(users)])
        for n, (user, (_label, chosen)) in enumerate(zip(users, plan, strict=True)):
            if chosen is None:
                continue
            wecom = f"wx{n:05d}" if "wecom" in chosen else None
            ding = f"dd{n:05d}" if "dingtalk" in chosen else None
            notifications.set_channels(None, user, wecom, ding, chosen)
            if wecom:
                wecom_ids[wecom] = user.email
            if ding:
                ding_ids[ding] = user.email
        log(f"  {len(users):,} people in {GROUPS} groups, channels set")
        upcoming = (datetime.now(local_zone()) + timedelta(hours=12)).replace(minute=0, second=0, microsecond=0)
        attendance = []
        for n, group in enumerate(groups):
            held = scheduling.add_extra_meeting(None, group, day=local_today() - timedelta(days=2),
                                                at=clock(14, 0))
            held.status = "held"
            scheduling.add_extra_meeting(None, group, day=upcoming.date(), at=upcoming.time())
            db.session.flush()
            attendance += [{"meeting_id": held.id, "user_id": u.id, "status": "present"}
                           for u in users[n * GROUP_SIZE:(n + 1) * GROUP_SIZE]]
        db.session.execute(sa.insert(Attendance), attendance)
        db.session.commit()
        group_ids = [g.id for g in groups]
        db.session.remove()
    log(f"  a held meeting and one at {upcoming:%Y-%m-%d %H:%M} (local) for each group")
    return group_ids, wecom_ids, ding_ids


# --- measuring -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def timed_sends(counter: import_bench._Counter, channel_of: dict[int, str]):
    """Time `services.send_one` (what send_pending calls once per message) by channel: seconds, messages and
    statements. Yields the dict it fills; the wrapper only measures."""
    from app.notifications import services

    original = services.send_one
    by_channel: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0])

    def send_one(notification_id, now, commit):
        statements, started = counter.count, time.perf_counter()
        try:
            return original(notification_id, now, commit)
        finally:
            row = by_channel[channel_of.get(notification_id, "?")]
            row[0] += time.perf_counter() - started
            row[1] += 1
            row[2] += counter.count - statements

    services.send_one = send_one
    try:
        yield by_channel
    finally:
        services.send_one = original


def _email_received(inbox) -> list[tuple[str, str]]:
    out = []
    for envelope in inbox.envelopes:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        out += [(rcpt, str(message["Subject"])) for rcpt in envelope.rcpt_tos]
    return out


def measure(url: str, label: str, log=print) -> Result:
    """Seed the database at `url`, queue the 10,000 messages and send them; returns the figures and checks."""
    from aiosmtpd.controller import Controller

    from app.extensions import db
    from app.feedback.services.rounds import open_due_rounds
    from app.notifications import services
    from app.notifications.models import Notification
    from app.programme.models import Group
    from app.sqlite import write_intent
    from app.timeutil import utcnow
    from tests.chatplatforms import FakeClock, serve_platforms
    from tests.loopback import free_port
    from tests.mailserver import Inbox

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the loopback platforms' access log: 10,000 lines
    _fresh(url)
    inbox = Inbox()
    port = free_port()  # aiosmtpd's Controller(port=0) fails its own start-up check
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with serve_platforms(FakeClock(datetime.now(UTC).replace(tzinfo=None))) as platforms:
            app = _app(url, port, platforms.base)
            log(f"[channels] {label}: seeding ...")
            group_ids, wecom_ids, ding_ids = seed(app, log)
            platforms.wecom_users = set(wecom_ids)
            platforms.ding_users = set(ding_ids)
            result = Result(database=label, people=sum(count for _, _, count in MIX))
            with app.app_context():
                engine = db.engine
            counter = import_bench._Counter(engine)
            try:
                # 1. queueing, as a send-due run queues reminders and as a recorded meeting opens a round
                with app.app_context(), write_intent():
                    now = utcnow()
                    counter.count, started = 0, time.perf_counter()
                    services.queue_due_reminders(now)
                    db.session.commit()
                    seconds, statements = time.perf_counter() - started, counter.count
                    reminders = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
                    result.steps.append(Step("queue meeting reminders (`queue_due_reminders`)", reminders, seconds,
                                             statements))
                    counter.count, started = 0, time.perf_counter()
                    for group_id in group_ids:
                        open_due_rounds(None, db.session.get(Group, group_id), now)
                    db.session.commit()
                    seconds, statements = time.perf_counter() - started, counter.count
                    total = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
                    result.steps.append(Step("open the rounds, queue \"round open\" (`open_due_rounds`)",
                                             total - reminders, seconds, statements))
                    result.queued = dict(db.session.execute(
                        sa.select(Notification.channel, sa.func.count()).group_by(Notification.channel)).all())
                    channel_of = dict(db.session.execute(sa.select(Notification.id, Notification.channel)).all())
                    db.session.remove()
                log(f"  queued {total:,} ({', '.join(f'{c} {n:,}' for c, n in sorted(result.queued.items()))}) in "
                    f"{sum(s.seconds for s in result.steps):.1f} s")
                # 2. sending: the real `flask notify send-due`, once
                runner = app.test_cli_runner()
                counter.count, started = 0, time.perf_counter()
                with timed_sends(counter, channel_of) as by_channel:
                    outcome = runner.invoke(args=["notify", "send-due"])
                seconds, statements = time.perf_counter() - started, counter.count
                if outcome.exit_code != 0:
                    raise RuntimeError(f"send-due exited with {outcome.exit_code}: {outcome.output}"
                                       f"{outcome.exception!r}")
                result.output = next((line for line in outcome.output.splitlines() if line.startswith("Closed")),
                                     outcome.output.strip())
                for channel in CHANNELS:
                    spent, count, used = by_channel.get(channel, (0.0, 0, 0))
                    result.steps.append(Step(f"send: {CHANNEL_LABELS[channel]}", count, spent, used))
                result.steps.append(Step("send all (`flask notify send-due`, whole run)", len(channel_of), seconds,
                                         statements))
                log(f"  sent in {seconds:.1f} s: {result.output}")
            finally:
                counter.close()
            # 3. the checks: every row sent once, every server got exactly those, none twice
            with app.app_context():
                rows = db.session.execute(
                    sa.select(Notification.channel, Notification.status, Notification.attempts, sa.func.count())
                    .group_by(Notification.channel, Notification.status, Notification.attempts)).all()
                db.session.remove()
                db.engine.dispose()
            for channel, status, attempts, count in rows:
                if status == "sent":
                    result.marked_sent[channel] = result.marked_sent.get(channel, 0) + count
                if status != "sent" or attempts != 1:
                    result.other_rows[f"{channel} {status} after {attempts}"] = count
            received = {
                "email": _email_received(inbox),
                "wecom": [(r.body["touser"], r.body["markdown"]["content"].split("\n", 1)[0])
                          for r in platforms.messages("/cgi-bin/message/send")],
                "dingtalk": [(r.body["userid_list"], r.body["msg"]["markdown"]["title"])
                             for r in platforms.messages("/topapi/message/corpconversation/asyncsend_v2")],
            }
            for channel, messages in received.items():
                result.delivered[channel] = len(messages)
                result.duplicates[channel] = sum(n - 1 for n in Counter(messages).values() if n > 1)
            result.token_fetches = platforms.token_fetches
    finally:
        smtp.stop()
    log(f"  delivered {result.delivered}, marked sent {result.marked_sent}, twice {result.duplicates}, "
        f"other rows {result.other_rows or 'none'}: {'OK' if result.ok else 'MISMATCH'}")
    return result


def pg_available(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be used (None when its database exists or was created)."""
    try:
        run.ensure_database(url)
    except Exception as exc:  # no server, no rights: the SQLite figures still stand
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


# --- the report ----------------------------------------------------------------------------------------

def section(results: list[Result], skipped: str | None = None) -> str:
    """The "Messages across channels" section of bench/RESULTS.md, between its markers."""
    total = sum(r.queued.get(c, 0) for r in results[:1] for c in CHANNELS)
    people = results[0].people if results else 0
    mix = ", ".join(f"{label} {count:,}" for label, _, count in MIX)
    out = [
        START,
        f"## Messages across channels ({total:,} messages)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.channels` (part of `make bench`). "
        f"Machine: {run.machine().split('; load generator')[0]}; load average {os.getloadavg()[0]:.1f} when it ended "
        "(other work on the machine slows every step alike).",
        "",
        f"{people:,} people in {GROUPS} groups of {GROUP_SIZE}, a third reading English and the rest Chinese, with "
        f"their channels set through the coordinators' service: {mix}. Each person gets a meeting reminder and a "
        "\"feedback round open\" message on each of their channels, queued through the app's services: "
        "`queue_due_reminders` (what every `flask notify send-due` run does first) and `open_due_rounds` (what "
        "recording a group's meeting does; it also opens the round). They are then sent by one run of "
        "`flask notify send-due` in-process (claim, render in the recipient's language, deliver, record, a commit "
        "after each step), one message after another, to an aiosmtpd server (one SMTP connection per message, as "
        "the app sends) and the loopback WeCom and DingTalk of `tests/chatplatforms.py` (access tokens fetched "
        "once and cached), all on 127.0.0.1. A send row's *seconds* is the time spent in `send_one` for that "
        "channel's messages; *statements* counts the SQL statements.",
        "",
        "| database | step | messages | seconds | messages/s | statements | statements/message |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for s in r.steps:
            rate = f"{s.messages / s.seconds:,.0f}" if s.seconds else "–"
            per = f"{s.statements / s.messages:.1f}" if s.messages else "–"
            out.append(f"| {r.database} | {s.label} | {s.messages:,} | {s.seconds:.2f} | {rate} | {s.statements:,} "
                       f"| {per} |")
    out += ["", "| database | channel | queued | marked sent | received by the server | received twice |",
            "|---|---|---:|---:|---:|---:|"]
    for r in results:
        for channel in CHANNELS:
            out.append(f"| {r.database} | {CHANNEL_LABELS[channel]} | {r.queued.get(channel, 0):,} | "
                       f"{r.marked_sent.get(channel, 0):,} | {r.delivered.get(channel, 0):,} | "
                       f"{r.duplicates.get(channel, 0)} |")
    out.append("")
    for r in results:
        verdict = "✅ every message sent once, after one attempt, and received once" if r.ok else \
            f"❌ rows not sent or retried: {r.other_rows or 'none'}"
        out.append(f"- {r.database}: {verdict}; access tokens fetched {r.token_fetches} times; send-due said: "
                   f"\"{r.output}\"")
    if skipped:
        out.append(f"- PostgreSQL not measured: {skipped}")
    if len(results) > 1:
        out += ["", READING]
    out += ["", END]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help="also measure on this PostgreSQL database (created if missing, emptied); '' for none")
    parser.add_argument("--no-write", action="store_true", help="print the section; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    results = [measure(f"sqlite:///{SQLITE_PATH}", "SQLite")]
    skipped = None
    if args.pg_url:
        skipped = pg_available(args.pg_url)
        if skipped is None:
            results.append(measure(args.pg_url, "PostgreSQL"))
    text = section(results, skipped)
    if not args.no_write:
        results_text = run.RESULTS.read_text() if run.RESULTS.exists() else "# Benchmark results\n"
        run.RESULTS.write_text(import_bench.with_section(results_text, text, START, END))
    print(text)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
