"""The programme board: every active group red, amber or green by the named rules of app.trends.rules, with the
reasons — read in a fixed number of statements whatever the number of groups, rounds and meetings.

The figures come from the stored round aggregates and scores through app.disclosure (a hidden round or cell gives
no figure, so the board never says more than the trends pages do); participation, meetings and leaders from their
own tables. The reasons are sentences in the reader's language (app.trends.templating.reason_text).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app import disclosure
from app.accounts import rules as eligibility
from app.disclosure.queries import subscale_key
from app.extensions import db
from app.feedback import scoring
from app.feedback.models import FeedbackRound, RoundMeeting
from app.meetings.models import Attendance
from app.programme.models import Group, Organisation
from app.scheduling import rules as scheduling_rules
from app.scheduling.models import Meeting
from app.scheduling.queries import bookings_of
from app.scheduling.services.invariants import among, judge
from app.timeutil import local_date
from app.trends import rules

#: The closed rounds of each group the board reads: the last ten, the span the group's trends page shows first.
BOARD_ROUNDS = 10


@dataclass(frozen=True)
class BoardRow:
    """One group on the board: its status (the worst of its rules) and the rules that raised it, worst first."""

    group_id: int
    group: str
    organisation_id: int
    organisation: str
    status: str
    findings: tuple[rules.Finding, ...] = ()


@dataclass
class Board:
    """The board of the groups in view, by status (red first), then group name."""

    thresholds: rules.Thresholds
    rows: list[BoardRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """How many groups have each status."""
        counts = {status: 0 for status in rules.STATUSES}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def raised(self) -> list[BoardRow]:
        """The amber and red rows."""
        return [row for row in self.rows if row.status != rules.GREEN]


def _titles(definitions: dict[int, scoring.Definition], locale: str) -> dict[str, str]:
    titles: dict[str, str] = {}
    for _iid, definition in sorted(definitions.items()):
        for sub in definition.subscales:
            titles[subscale_key(definition.code, sub.code)] = (
                scoring.localised(sub.title, locale) or scoring.localised(sub.title, "en") or sub.code)
    return titles


def _decline_findings(rounds: list[FeedbackRound], release: disclosure.Release, keys: list[str],
                      titles: dict[str, str], t: rules.Thresholds) -> tuple[list[rules.Finding], dict[str, int]]:
    """Both decline rules for every subscale of one group's closed rounds (oldest first), from shown cells only.

    Returns the findings and, per subscale, the number of the latest round that shows it.
    """
    found: list[rules.Finding] = []
    latest_shown: dict[str, int] = {}
    recent = rounds[-t.decline_rounds:]
    for key in keys:
        cells = [(r.number, release.stat(r.id, disclosure.subscale_measure(key))) for r in rounds]
        shown = [(number, stat) for number, stat in cells if stat.shown]
        if not shown:
            continue
        latest_shown[key] = shown[-1][0]
        extra = {"subscale": titles.get(key, key), "key": key}
        recent_numbers = {r.number for r in recent}
        points = [(number, stat.mean) for number, stat in shown if number in recent_numbers]
        slope = rules.decline_by_slope(points, t)
        (first_n, first), (last_n, last) = shown[0], shown[-1]
        change = rules.decline_by_change((first_n, first.n, first.mean, first.sd), (last_n, last.n, last.mean, last.sd),
                                         t)
        for finding in (slope, change):
            found.append(rules.Finding(finding.rule, finding.status, {**finding.detail, **extra}))
    return found, latest_shown


def closed_by(now: datetime) -> sa.ColumnElement[bool]:
    """Rounds closed at `now`: their closing time has passed (closed or not yet marked so), or a coordinator
    closed them before it. A round closed after `now` (a quarter's end) was still open then; one marked closed
    without a closing time counts from its opening."""
    return sa.or_(FeedbackRound.closes_at <= now,
                  sa.and_(FeedbackRound.status == "closed", FeedbackRound.opens_at <= now,
                          sa.or_(FeedbackRound.closed_at.is_(None), FeedbackRound.closed_at <= now)))


def _eligible(round_ids: list[int]) -> dict[int, int]:
    """Members present at one or more of each round's meetings (one statement)."""
    if not round_ids:
        return {}
    return dict(db.session.execute(
        sa.select(RoundMeeting.round_id, sa.func.count(sa.distinct(Attendance.user_id)))
        .join(Attendance, Attendance.meeting_id == RoundMeeting.meeting_id)
        .where(Attendance.status == "present", RoundMeeting.round_id.in_(round_ids))
        .group_by(RoundMeeting.round_id)
    ).all())


def _without_eligible_lead(group_ids: list[int], now: datetime, horizon_days: int) -> dict[int, list[int]]:
    """Per group, how many days ahead each scheduled meeting of the horizon starts that has no eligible lead:
    no lead, or a lead the invariants flag (scheduling.services.invariants.judge, over plain rows). Five
    statements at most.

    Held meetings of the horizon count too: ahead of today none is held, and on a past `now` (a quarter's end)
    a meeting held since was still ahead then."""
    if not group_ids:
        return {}
    meetings = bookings_of(
        sa.select(Meeting)
        .where(among(Meeting.group_id, group_ids), Meeting.status.in_(scheduling_rules.LIVE_STATUSES),
               Meeting.starts_at >= now,
               Meeting.starts_at < now + timedelta(days=horizon_days + 1)),
        leaderless=True,
    )
    problems = judge(meetings)
    today = local_date(now)
    out: dict[int, list[int]] = defaultdict(list)
    for meeting in meetings:
        if any(p.code == scheduling_rules.NO_LEAD or p.role == eligibility.LEAD for p in problems[meeting.id]):
            out[meeting.group_id].append((local_date(meeting.starts_at) - today).days)
    return out


def programme_board(scope_org_id: int | None, now: datetime, k: int, thresholds: rules.Thresholds,
                    organisation_id: int | None = None, locale: str = "en", as_of: bool = False,
                    group_id: int | None = None) -> Board:
    """Every active group the coordinator sees (all, or one organisation's), with its status and reasons.

    `scope_org_id` is the coordinator's own limit, `organisation_id` the page's filter, `group_id` one group's row
    alone (an export for one group: every rule reads the group's own rounds and meetings only).
    Rules (app.trends.rules): both decline rules per subscale over the group's closed rounds shown at k (a hidden
    round gives no point), the concern share of the latest round that shows the subscale (only where
    app.disclosure publishes it), participation of the latest closed round, days since the last held meeting,
    meetings ahead without an eligible lead. A fixed number of statements (about fourteen), whatever the number
    of groups and rounds.

    Only rounds that had closed at `now` and meetings held by then count. With `as_of` the board is drawn as it
    stood at a past `now` (the quarterly report's, at the quarter's end): groups created after it are left out
    too. What no table keeps a history of is read as it is today: a group's status (active) and the leaders'
    training records.
    """
    board = Board(thresholds)
    last_held = (
        sa.select(Meeting.group_id, sa.func.max(Meeting.starts_at).label("last"))
        .where(Meeting.status == "held", Meeting.starts_at <= now)
        .group_by(Meeting.group_id)
        .subquery("last_held")
    )
    query = (
        sa.select(Group.id, Group.name, Group.created_at, Organisation.id, Organisation.name, last_held.c.last)
        .join(Organisation, Organisation.id == Group.organisation_id)
        .outerjoin(last_held, last_held.c.group_id == Group.id)
        .where(Group.status == "active")
        .order_by(Group.name, Group.id)
    )
    if scope_org_id is not None:
        query = query.where(Group.organisation_id == scope_org_id)
    if organisation_id is not None:
        query = query.where(Group.organisation_id == organisation_id)
    if group_id is not None:
        query = query.where(Group.id == group_id)
    if as_of:
        query = query.where(Group.created_at <= now)
    groups = db.session.execute(query).all()
    if not groups:
        return board
    group_ids = [g[0] for g in groups]

    # Each group's last BOARD_ROUNDS closed rounds, as its trends page shows them first: the decline since "the
    # group's first shown round" is since the first of those, and the page costs the same however long the history.
    ranked = (
        sa.select(FeedbackRound.id, sa.func.row_number().over(
            partition_by=FeedbackRound.group_id, order_by=FeedbackRound.number.desc()).label("rank"))
        .where(FeedbackRound.group_id.in_(group_ids), closed_by(now))
        .subquery("ranked")
    )
    closed = [r for r in db.session.scalars(
        sa.select(FeedbackRound)
        .join(ranked, ranked.c.id == FeedbackRound.id)
        .where(ranked.c.rank <= BOARD_ROUNDS)
        .order_by(FeedbackRound.group_id, FeedbackRound.number)
    )]
    rounds_of: dict[int, list[FeedbackRound]] = defaultdict(list)
    for r in closed:
        rounds_of[r.group_id].append(r)
    release = disclosure.Release(closed, k=k, now=now)
    titles = _titles(release.definitions, locale)
    keys_of = {iid: [subscale_key(d.code, sub.code) for sub in d.subscales] for iid, d in release.definitions.items()}
    answered = release.subscale_keys()
    latest_round = {gid: rs[-1] for gid, rs in rounds_of.items()}
    eligible = _eligible([r.id for r in latest_round.values()])
    ahead = _without_eligible_lead(group_ids, now, thresholds.lead_days_amber)

    per_group: dict[int, list[rules.Finding]] = {}
    latest_shown_of: dict[int, dict[str, int]] = {}
    for gid in group_ids:
        rounds = rounds_of.get(gid, [])
        keys = sorted({key for r in rounds for key in (*keys_of.get(r.instrument_id, ()), *answered.get(r.id, ()))})
        per_group[gid], latest_shown_of[gid] = _decline_findings(rounds, release, keys, titles, thresholds)
    # The concern share of the latest round that shows each subscale: one statement for every group.
    by_number = {(r.group_id, r.number): r.id for r in closed}
    wanted = {by_number[(gid, number)] for gid, shown in latest_shown_of.items() for number in shown.values()}
    shares = disclosure.concern_shares(release, sorted(wanted))
    for gid, shown in latest_shown_of.items():
        for key, number in sorted(shown.items()):
            share = shares.get((by_number[(gid, number)], key))
            if share is None or not share.shown:
                continue
            finding = rules.concern_share(share.in_band, share.n, thresholds)
            per_group[gid].append(rules.Finding(finding.rule, finding.status, {
                **finding.detail, "subscale": titles.get(key, key), "key": key, "round": number}))

    for gid, name, created_at, org_id, org_name, last in groups:
        findings = per_group[gid]
        latest = latest_round.get(gid)
        if latest is not None:
            finding = rules.low_participation(release.participation(latest.id), eligible.get(latest.id, 0), thresholds)
            findings.append(rules.Finding(finding.rule, finding.status, {**finding.detail, "round": latest.number}))
        since = last if last is not None else created_at
        findings.append(rules.days_without_meeting(max((now - since).days, 0), last is None, thresholds))
        findings.append(rules.meetings_without_eligible_lead(ahead.get(gid, ()), thresholds))
        raised = sorted((f for f in findings if f.raised),
                        key=lambda f: (-rules.STATUSES.index(f.status), rules.RULES.index(f.rule)))
        board.rows.append(BoardRow(gid, name, org_id, org_name, rules.worst(f.status for f in raised),
                                   tuple(raised)))
    board.rows.sort(key=lambda row: (-rules.STATUSES.index(row.status), row.group, row.group_id))
    return board


def board_for(scope_org_id: int | None, organisation_id: int | None = None, now: datetime | None = None,
              group_id: int | None = None) -> Board:
    """The board as a page shows it: the thresholds and k of the app's config, the reader's language, now — or as
    it stood at a past `now` (groups created after it left out).

    Raises ValueError when the configured thresholds contradict each other (`flask check` reports it too).
    """
    from flask import current_app
    from flask_babel import get_locale

    from app.timeutil import utcnow

    config = current_app.config
    return programme_board(scope_org_id, now or utcnow(), config["MIN_RESPONSES"],
                           rules.Thresholds.from_config(config), organisation_id, str(get_locale()),
                           as_of=now is not None, group_id=group_id)
