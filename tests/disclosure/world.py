"""A programme of organisations, groups, rounds and anonymous responses written straight to the database, with
the ground truth kept beside it: who is in which round, source and profession, and every answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.extensions import db
from app.feedback import scoring as rules
from app.feedback.models import Answer, FeedbackRound, Instrument, Response
from app.programme.models import Group, Organisation
from app.timeutil import utcnow
from tests.factories import ATTACK, make_instrument

DEF = rules.definition_from_dict(ATTACK)
SUBSCALES = {f"attack/{s.code}": s for s in DEF.subscales}
NUMERIC = [i.code for i in DEF.items if i.is_numeric]
COUNTED = NUMERIC + ["c1"]


@dataclass
class Truth:
    """One response as the test knows it (the app stores no link from it to anyone)."""

    id: str
    round_id: int
    source: str
    profession: str  # "unknown" when none was given
    answers: dict  # item code -> int value (a choice as its position) or text

    def category(self, dimension: str | None) -> str | None:
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


def make_world(spec: dict, now: datetime | None = None) -> World:
    """Write a programme from a plain spec (as the hypothesis strategy draws it) and return it with the truth.

    spec = {"orgs": [{"groups": [{"rounds": [{"closed": bool, "mode": str, "month": int,
            "responses": [{"source": str, "profession": str | None, "answers": {...}}]}]}]}]}
    """
    now = now or utcnow()
    instrument = make_instrument(ATTACK, title_en="Attack", title_zh="Attack", active=True)
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
