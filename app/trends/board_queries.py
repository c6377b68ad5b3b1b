"""The programme board: every active group red, amber or green by the named rules of app.trends.rules, with the
reasons — read in a fixed number of statements whatever the number of groups, rounds and meetings.

The figures come from the stored round aggregates and scores through app.disclosure (a hidden round or cell gives
no figure, so the board never says more than the trends pages do); participation, meetings and leaders from their
own tables. The reasons are sentences in the reader's language (app.trends.templating.reason_text).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
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
from app.timeutil import local_date, local_zone
from app.trends import rules

#: The languages a subscale's title is kept in (scoring.localised reads zh* as zh_CN, anything else as en).
TITLE_LANGUAGES = ("en", "zh_CN")
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


def _titles(definitions: dict[int, scoring.Definition]) -> dict[str, Callable[[str], str]]:
    """Each subscale key's title in a language: the latest version's, else English, else its code."""
    titles: dict[str, Callable[[str], str]] = {}
    for _iid, definition in sorted(definitions.items()):
        for sub in definition.subscales:
            titles[subscale_key(definition.code, sub.code)] = functools.partial(_title, sub)
    return titles


def _title(sub, locale: str) -> str:
    return scoring.localised(sub.title, locale) or scoring.localised(sub.title, "en") or sub.code


def _decline_findings(rounds: list[FeedbackRound], release: disclosure.Release, keys: list[str],
                      titles: dict[str, dict[str, str]], t: rules.Thresholds
                      ) -> tuple[list[rules.Finding], dict[str, int]]:
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
        extra = {"titles": titles.get(key, {}), "key": key}
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


def _unled_starts(group_ids: list[int], start: datetime, end: datetime) -> dict[int, list[datetime]]:
    """Per group, the starts (soonest first) of its live meetings in [start, end) that have no eligible lead: no
    lead, or a lead the invariants flag (scheduling.services.invariants.judge, over plain rows; each meeting is
    judged on its own date, so the verdict does not depend on the window). Five statements at most.

    Held meetings of the window count too: ahead of today none is held, and on a past `now` (a quarter's end)
    a meeting held since was still ahead then."""
    if not group_ids:
        return {}
    meetings = bookings_of(
        sa.select(Meeting)
        .where(among(Meeting.group_id, group_ids), Meeting.status.in_(scheduling_rules.LIVE_STATUSES),
               Meeting.starts_at >= start, Meeting.starts_at < end),
        leaderless=True,
    )
    problems = judge(meetings)
    out: dict[int, list[datetime]] = defaultdict(list)
    for meeting in meetings:
        if any(p.code == scheduling_rules.NO_LEAD or p.role == eligibility.LEAD for p in problems[meeting.id]):
            out[meeting.group_id].append(meeting.starts_at)
    return out


def lead_window_end(now: datetime, thresholds: rules.Thresholds) -> datetime:
    """The end of the window the meetings-without-an-eligible-lead rule reads from `now`."""
    return now + timedelta(days=thresholds.lead_days_amber + 1)


@dataclass(frozen=True)
class GroupParts:
    """What the board reads of one group's history, apart from the clock: the findings of the round rules (decline,
    concern share, participation) that raised the group (amber or red: the board shows no other) and the starts
    of the meetings with no eligible lead from a moment on.

    A subscale's finding carries its key and its title in every language (`titles`); the reader's is picked when
    the board is drawn. app.trends.signals stores these with each group's signals."""

    findings: tuple[rules.Finding, ...] = ()
    unled: tuple[datetime, ...] = ()


def group_parts(group_ids: list[int], now: datetime, k: int, thresholds: rules.Thresholds,
                unled_until: datetime | None = None) -> dict[int, GroupParts]:
    """Each group's GroupParts at `now` (the rounds closed by then), the meetings of [now, `unled_until`) (by
    default the rule's own window). A fixed number of statements (about eleven), whatever the number of groups."""
    if not group_ids:
        return {}
    # Each group's last BOARD_ROUNDS closed rounds, as its trends page shows them first: the decline since "the
    # group's first shown round" is since the first of those, and the page costs the same however long the history.
    ranked = (
        sa.select(FeedbackRound.id, sa.func.row_number().over(
            partition_by=FeedbackRound.group_id, order_by=FeedbackRound.number.desc()).label("rank"))
        .where(among(FeedbackRound.group_id, group_ids), closed_by(now))
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
    titles = {key: {language: title(language) for language in TITLE_LANGUAGES}
              for key, title in _titles(release.definitions).items()}
    keys_of = {iid: [subscale_key(d.code, sub.code) for sub in d.subscales] for iid, d in release.definitions.items()}
    answered = release.subscale_keys()
    latest_round = {gid: rs[-1] for gid, rs in rounds_of.items()}
    eligible = _eligible([r.id for r in latest_round.values()])
    unled = _unled_starts(group_ids, now, unled_until or lead_window_end(now, thresholds))

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
                **finding.detail, "titles": titles.get(key, {}), "key": key, "round": number}))
    out: dict[int, GroupParts] = {}
    for gid in group_ids:
        findings = per_group[gid]
        latest = latest_round.get(gid)
        if latest is not None:
            finding = rules.low_participation(release.participation(latest.id), eligible.get(latest.id, 0), thresholds)
            findings.append(rules.Finding(finding.rule, finding.status, {**finding.detail, "round": latest.number}))
        out[gid] = GroupParts(tuple(f for f in findings if f.raised), tuple(unled.get(gid, ())))
    return out


@dataclass(frozen=True)
class GroupLine:
    """A group as the board lists it, read now: name, organisation, creation and its last held meeting."""

    id: int
    name: str
    created_at: datetime
    organisation_id: int
    organisation: str
    last_held_at: datetime | None


def assemble(groups: list[GroupLine], parts: dict[int, GroupParts], now: datetime, thresholds: rules.Thresholds,
             locale: str) -> Board:
    """The board of `groups` at `now` from their parts: the round rules' findings as stored or computed, the two
    rules the clock moves (days without a held meeting, meetings ahead without an eligible lead) applied now."""
    board = Board(thresholds)
    zone = local_zone()
    today = local_date(now, zone)
    until = lead_window_end(now, thresholds)
    for group in groups:
        part = parts.get(group.id, GroupParts())
        findings = [_in_language(f, locale) for f in part.findings]
        since = group.last_held_at if group.last_held_at is not None else group.created_at
        findings.append(rules.days_without_meeting(max((now - since).days, 0), group.last_held_at is None, thresholds))
        days = [(local_date(start, zone) - today).days for start in part.unled if now <= start < until]
        findings.append(rules.meetings_without_eligible_lead(days, thresholds))
        raised = sorted((f for f in findings if f.raised),
                        key=lambda f: (-rules.STATUSES.index(f.status), rules.RULES.index(f.rule)))
        board.rows.append(BoardRow(group.id, group.name, group.organisation_id, group.organisation,
                                   rules.worst(f.status for f in raised), tuple(raised)))
    board.rows.sort(key=lambda row: (-rules.STATUSES.index(row.status), row.group, row.group_id))
    return board


def _in_language(finding: rules.Finding, locale: str) -> rules.Finding:
    """A subscale's finding with its title in `locale` (`subscale`), as the reasons print it."""
    titles = finding.detail.get("titles")
    if titles is None:
        return finding
    detail = {name: value for name, value in finding.detail.items() if name != "titles"}
    detail["subscale"] = titles.get("zh_CN" if locale.startswith("zh") else "en") or detail.get("key", "")
    return rules.Finding(finding.rule, finding.status, detail)


def programme_board(scope_org_id: int | None, now: datetime, k: int, thresholds: rules.Thresholds,
                    organisation_id: int | None = None, locale: str = "en", as_of: bool = False,
                    group_id: int | None = None) -> Board:
    """Every active group the coordinator sees (all, or one organisation's), with its status and reasons, computed
    live (the pages read the stored parts instead: app.trends.signals.board).

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
    groups = [GroupLine(*row) for row in db.session.execute(query)]
    parts = group_parts([g.id for g in groups], now, k, thresholds)
    return assemble(groups, parts, now, thresholds, locale)


def board_for(scope_org_id: int | None, organisation_id: int | None = None, now: datetime | None = None,
              group_id: int | None = None) -> Board:
    """The board as a page shows it: the thresholds and k of the app's config, the reader's language, now (from
    the stored group signals, app.trends.signals.board) — or as it stood at a past `now` (groups created after it
    left out), or one group's row, both computed live.

    Raises ValueError when the configured thresholds contradict each other (`flask check` reports it too).
    """
    from flask import current_app
    from flask_babel import get_locale

    from app.timeutil import utcnow
    from app.trends import signals

    config = current_app.config
    thresholds = rules.Thresholds.from_config(config)
    if now is None and group_id is None:
        return signals.board(scope_org_id, utcnow(), config["MIN_RESPONSES"], thresholds, str(get_locale()),
                             organisation_id)
    return programme_board(scope_org_id, now or utcnow(), config["MIN_RESPONSES"], thresholds, organisation_id,
                           str(get_locale()), as_of=now is not None, group_id=group_id)
