"""Early warnings for coordinators: a subscale fell between a group's last two rounds, participation fell
below the setting, or a group has held no meeting for too long. Read from each group's signals (app.trends.signals):
two statements when the stored rows are valid, a fixed number more for those that are not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.feedback import scoring
from app.feedback.models import Instrument
from app.programme.models import Group
from app.trends import signals

DROP = "drop"
PARTICIPATION = "participation"
NO_MEETING = "no_meeting"
KINDS = (DROP, PARTICIPATION, NO_MEETING)


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the domain's word; never used beside the builtin
    """One early warning about a group; `detail` holds the numbers the message shows."""

    group: Group | signals.GroupFacts  # id, name, status, created_at: the group as it is now
    kind: str
    detail: dict = field(default_factory=dict)


def _subscale_titles(keys: set[str], locale: str) -> dict[str, str]:
    """The title of each subscale key ("<instrument code>/<subscale code>") in the reader's language, from the
    instrument's latest version that has it."""
    codes = {key.partition("/")[0] for key in keys}
    titles: dict[str, str] = {}
    for instrument in db.session.scalars(
        sa.select(Instrument).where(Instrument.code.in_(sorted(codes))).order_by(Instrument.version)
    ):
        definition = scoring.definition_from_dict(instrument.definition)
        for sub in definition.subscales:
            key = scoring.subscale_key(definition.code, sub.code)
            if key in keys:
                titles[key] = scoring.localised(sub.title, locale)
    return titles


def early_warnings(now: datetime, scope_org_id: int | None, drop: float, participation: float, days: int,
                   k: int = 3, locale: str = "en",
                   current: tuple[list[signals.GroupFacts], dict[int, signals.Signals]] | None = None,
                   stored: bool = True) -> list[Warning]:
    """Every early warning about the active groups a coordinator sees (all, or one organisation's).

    - drop: a subscale mean fell by more than `drop` points between the group's last two closed rounds,
      both shown at k or more;
    - participation: its latest closed round had responses / eligible below `participation`;
    - no_meeting: its last held meeting started `days` or more days before `now` (or, never held, the group
      was created that long ago).
    Paused and closed groups raise none. Sorted by group name, then kind.

    The facts are each group's signals (app.trends.signals: stored where valid, live otherwise; all live when
    `stored` is False); `current` passes those the caller already read. The thresholds apply here, when read.
    """
    groups, found_signals = current if current is not None else signals.current(scope_org_id, now, k, stored=stored)
    found: list[Warning] = []
    falls = []
    limit = timedelta(days=days)
    for group in groups:
        if group.status != "active":
            continue
        s = found_signals[group.id]
        last = s.last_held_at
        since = last if last is not None else group.created_at
        if now - since >= limit:
            found.append(Warning(group, NO_MEETING, {
                "last_held": last, "days": (now - since).days, "never": last is None,
            }))
        for key, before, after in s.pairs:
            if before - after > drop:
                falls.append((group, s.round_number, key, before, after, before - after))
        if s.eligible:
            rate = s.responses / s.eligible
            if rate < participation:
                found.append(Warning(group, PARTICIPATION, {
                    "round": s.round_number, "responses": s.responses, "eligible": s.eligible,
                    "participation": rate,
                }))
    titles = _subscale_titles({key for _g, _n, key, *_rest in falls}, locale) if falls else {}
    found += [
        Warning(group, DROP, {"subscale": titles.get(key, key), "round": number, "before": before, "after": after,
                              "fall": fall})
        for group, number, key, before, after, fall in falls
    ]
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(found, key=lambda w: (w.group.name, w.group.id, order[w.kind]))
