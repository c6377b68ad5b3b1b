"""A programme of organisations, groups, rounds and anonymous responses written straight to the database, with
the ground truth kept beside it: who is in which round, source and profession, and every answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import strategies as st

from app import disclosure
from app.extensions import db
from app.feedback import scoring as rules
from app.feedback.models import Answer, FeedbackRound, Instrument, Response
from app.feedback.stats import attendance_band
from app.programme.models import Group, Organisation
from app.timeutil import utcnow
from tests.factories import ATTACK, ATTACK_ATTENDANCE, make_instrument

DEF = rules.definition_from_dict(ATTACK_ATTENDANCE)
SUBSCALES = {f"attack/{s.code}": s for s in DEF.subscales}
NUMERIC = [i.code for i in DEF.items if i.is_numeric]
COUNTED = NUMERIC + ["c1"]
K = 3
PROFESSIONS = ("physician", "nurse", "psychologist", None)


@dataclass
class Truth:
    """One response as the test knows it (the app stores no link from it to anyone)."""

    id: str
    round_id: int
    source: str
    profession: str  # "unknown" when none was given
    answers: dict  # item code -> int value (a choice as its position) or text

    def category(self, dimension: str | None) -> str | None:
        if dimension == "attendance":
            return attendance_band(self.answers.get("m1")) or "none"
        return {None: None, "source": self.source, "profession": self.profession}[dimension]

    def subscale_score(self, key: str) -> float | None:
        given = {c: v for c, v in self.answers.items() if c in NUMERIC}
        return rules.subscale_score(DEF, SUBSCALES[key], given)

    def value(self, measure: str) -> float | None:
        """The response's value for a measure (None: it has none, so it is not in the measure's population)."""
        kind, _sep, key = measure.partition(":")
        if kind == "subscale":
            return self.subscale_score(key)
        if kind == "item":
            value = self.answers.get(key)
            return None if value is None or isinstance(value, str) else float(value)
        return 1.0  # responses: everyone counts


@dataclass
class World:
    """What was written, and the truth about it."""

    now: datetime
    instrument: Instrument
    organisations: list[Organisation] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    rounds: list[FeedbackRound] = field(default_factory=list)
    responses: list[Truth] = field(default_factory=list)

    def in_parts(self, parts: Iterable, measure: str) -> list[Truth]:
        """The responses a published cell covers: its parts, restricted to those with a value for the measure."""
        found = []
        for part in parts:
            for r in self.responses:
                if (r.round_id == part.round_id and r.value(measure) is not None
                        and (part.dimension is None or r.category(part.dimension) == part.category)):
                    found.append(r)
        return found


def make_world(spec: dict, now: datetime | None = None, attendance: bool = False) -> World:
    """Write a programme from a plain spec (as the hypothesis strategy draws it) and return it with the truth.

    spec = {"orgs": [{"groups": [{"rounds": [{"closed": bool, "mode": str, "month": int,
            "responses": [{"source": str, "profession": str | None, "answers": {...}}]}]}]}]}
    """
    now = now or utcnow()
    # With `attendance` the instrument asks the standard attendance question (answers "m1" are written either way).
    instrument = make_instrument(ATTACK_ATTENDANCE if attendance else ATTACK, title_en="Attack", title_zh="Attack",
                                 active=True)
    world = World(now=now, instrument=instrument)
    for o, org_spec in enumerate(spec["orgs"]):
        org = Organisation(name=f"Organisation {o}")
        db.session.add(org)
        db.session.flush()
        world.organisations.append(org)
        for g, group_spec in enumerate(org_spec["groups"]):
            group = Group(organisation_id=org.id, name=f"Group {o}.{g}")
            db.session.add(group)
            db.session.flush()
            world.groups.append(group)
            for number, round_spec in enumerate(group_spec["rounds"], start=1):
                opens_at = now - timedelta(days=30 * round_spec["month"] + 20)
                closed = round_spec["closed"]
                the_round = FeedbackRound(
                    group_id=group.id, number=number, status="closed" if closed else "open",
                    mode=round_spec["mode"], opens_at=opens_at,
                    closes_at=opens_at + timedelta(days=14) if closed else now + timedelta(days=10),
                    closed_at=opens_at + timedelta(days=14) if closed else None, instrument_id=instrument.id,
                )
                db.session.add(the_round)
                db.session.flush()
                world.rounds.append(the_round)
                for given in round_spec["responses"]:
                    response = Response(round_id=the_round.id, instrument_id=instrument.id, source=given["source"],
                                        profession=given["profession"])
                    response.answers = [
                        Answer(item_code=code, text=value, review="released") if isinstance(value, str)
                        else Answer(item_code=code, value=value)
                        for code, value in given["answers"].items()
                    ]
                    db.session.add(response)
                    db.session.flush()
                    world.responses.append(Truth(response.id, the_round.id, given["source"],
                                                 given["profession"] or "unknown", dict(given["answers"])))
    db.session.flush()
    return world


# --- generated programmes ----------------------------------------------------------------------

@st.composite
def answers(draw, attended: tuple[int, ...] = (1, 2, 3, 4, 5)) -> dict:
    given = {"a1": draw(st.integers(1, 5))}
    for code in ("a2", "a3"):
        if draw(st.booleans()) or draw(st.booleans()):
            given[code] = draw(st.integers(1, 5))
    if draw(st.integers(0, 3)):
        given["b1"] = draw(st.integers(0, 10))
    if draw(st.booleans()):
        given["c1"] = draw(st.integers(0, 1))
    if draw(st.integers(0, 4)):  # how many of the round's meetings: mostly answered, now and then not
        given["m1"] = draw(st.sampled_from(attended))
    if draw(st.integers(0, 3)) == 0:
        given["t1"] = draw(st.sampled_from(["Felt heard.", "A hard week.", "感觉被理解。"]))
    return given


@st.composite
def rounds(draw) -> dict:
    mode = draw(st.sampled_from(["questionnaire", "questionnaire", "interview"]))
    # Mostly the mode's source; now and then a mixed round, which the app never makes but the policy must bear.
    mixed = draw(st.integers(0, 5)) == 0
    few_professions = draw(st.sampled_from([PROFESSIONS[:2], PROFESSIONS, PROFESSIONS[:3]]))
    # Meetings attended: often all in one or two bands, so that rounds whose every band holds k or more occur.
    attended = draw(st.sampled_from([(5,), (1, 5), (4, 5), (2, 3, 5), (1, 2, 3, 4, 5)]))
    responses = []
    for _ in range(draw(st.integers(2, 12))):
        source = draw(st.sampled_from(["questionnaire", "interview"])) if mixed else mode
        profession = None if source == "interview" else draw(st.sampled_from(few_professions))
        responses.append({"source": source, "profession": profession, "answers": draw(answers(attended))})
    return {"closed": draw(st.integers(0, 4)) > 0, "mode": mode, "month": draw(st.integers(0, 7)),
            "responses": responses}


programmes = st.fixed_dictionaries({"orgs": st.lists(
    st.fixed_dictionaries({"groups": st.lists(
        st.fixed_dictionaries({"rounds": st.lists(rounds(), min_size=1, max_size=3)}), min_size=1, max_size=2)}),
    min_size=1, max_size=2)})


# --- what every role can read ------------------------------------------------------------------

def read_everything(world) -> list[disclosure.Published]:
    """Call what every page, filter, export, report and API call of every role calls; collect what is published."""
    from app.api.resources_trends import group_trend_data, programme_trend_data
    from app.feedback import queries as results_queries
    from app.trends import evaluator, group_queries, programme_queries, warnings
    from app.trends import export_queries as eq
    from app.trends.board_queries import programme_board
    from app.trends.rules import Thresholds

    now = world.now
    scopes = [None] + [o.id for o in world.organisations]
    with disclosure.observe() as seen:
        # Leaders and coordinators: each round's results page, by source; each group's trends (page, chart, API).
        for r in world.rounds:
            for source in results_queries.SOURCES:
                results_queries.round_results(r, k=K, now=now, text_filter="all", sources=source)
        for group in world.groups:
            for source in group_queries.SOURCES:
                # With the item breakdown: everything the page shows without it, and more.
                group_queries.chart_data(group_queries.group_trend(group, k=K, sources=source, items=True, now=now))
            group_trend_data(group, K)
        # Coordinators: programme trends under every filter (a coordinator of one organisation sees a subset of
        # these cells; their pools and exports differ and are read below), the API, exports and the report.
        # (An organisation or period filter only leaves groups or rounds out: their cells are the same numbers.)
        professions = sorted({r.profession for r in world.responses if r.profession != "unknown"}) + ["other"]
        for profession in (None, *professions):
            for by in programme_queries.BY:
                programme_queries.programme_trend(None, profession=profession, by=by, k=K, now=now)
            programme_queries.programme_reliability(None, profession=profession, k=K, now=now)
        for organisation in world.organisations:
            programme_queries.programme_trend(None, organisation_id=organisation.id, by="quarter", k=K, now=now)
        programme_queries.programme_trend(None, k=K, start=(now - timedelta(days=100)).date(), now=now)
        for g in world.groups:
            for filters in (eq.Filters(group_id=g.id), eq.Filters(group_id=g.id, since=now - timedelta(days=100))):
                eq.aggregate_rows(filters, K, now=now)
                eq.response_rows(filters, K, now=now)
                programme_queries.programme_reliability(None, k=K, rounds_among=eq.round_ids(filters), now=now)
        for scope in scopes:
            programme_trend_data(scope, K)
            eq.aggregate_rows(eq.Filters(scope=scope), K, now=now)
            eq.response_rows(eq.Filters(scope=scope), K, now=now)
            eq.text_rows(eq.Filters(scope=scope), K, now=now)
            evaluator.evaluator_file(eq.Filters(scope=scope), K, key="attacker", now=now)
            for months in range(0, 9, 3):
                eq.quarter_report(scope, now - timedelta(days=30 * months + 120), now - timedelta(days=30 * months), K,
                                  "en")
            warnings.early_warnings(now, scope, drop=0.0, participation=0.0, days=10_000, k=K)
            programme_board(scope, now, K, Thresholds())
            programme_board(scope, now - timedelta(days=60), K, Thresholds(), as_of=True)  # a past quarter's board
            programme_queries.programme_reliability(scope, k=K, now=now)
            for months in range(0, 9, 3):  # the quarterly report's alpha: the rounds closed in its quarter
                programme_queries.programme_reliability(scope, k=K, now=now, rounds_among=eq.closed_in(
                    now - timedelta(days=30 * months + 120), now - timedelta(days=30 * months)))
    return seen
