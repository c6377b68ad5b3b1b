"""Read-only feedback aggregates: a round's results (counts, subscale and question statistics, distributions, free
text) and what the coordinator's home warns about when no questionnaire is active.

Every number comes from app.disclosure, which hides what the anonymity policy does not allow (an open
round, fewer than k responses, a small category, a small distribution count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app import disclosure
from app.feedback import scoring
from app.feedback.models import INTERVIEW_NOTES, FeedbackRound
from app.feedback.services.instruments import default_instrument, waiting_rounds
from app.feedback.services.responses import round_instrument
from app.feedback.services.review import text_ref
from app.feedback.services.rounds import eligible_count, groups_one_meeting_from_a_round

SOURCES = ("all", "questionnaire", "interview")
TEXT_FILTERS = ("all", "released")


@dataclass(frozen=True)
class SubscaleSummary:
    """One subscale over the responses that have a score for it; numbers None when `reason` hides them."""

    code: str
    title: str
    n: int | None
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None = None

    @property
    def hidden(self) -> bool:
        return self.reason is not None

    @property
    def shown(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class ItemSummary:
    """One question's answers on its own scale (reverse-scored items are shown as answered).

    `distribution` maps each anchor or choice label to its count; None marks a count hidden to protect
    anonymity. Everything is None when `reason` hides the question.
    """

    code: str
    text: str
    type: str
    reverse: bool
    n: int | None
    mean: float | None
    sd: float | None
    distribution: dict[int | str, int | None]
    scale: tuple = ()
    reason: str | None = None

    @property
    def hidden(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class FreeText:
    """One free-text answer; `ref` names it for the review buttons without naming its response."""

    item_code: str
    item_text: str
    text: str
    review: str
    ref: str


@dataclass
class RoundResults:
    """What a results page may show of a round; when `suppressed`, only participation is filled in.

    `reason` says why (disclosure.OPEN while the round is open, BELOW_K under k, COMPLEMENT when the chosen
    source is a small part of the round).
    """

    eligible: int
    responses: int
    participation: float | None
    suppressed: bool
    k: int
    sources: str = "all"
    reason: str | None = None
    source_responses: int | None = None  # responses of the chosen source, when it may be shown
    subscales: list[SubscaleSummary] = field(default_factory=list)
    items: list[ItemSummary] = field(default_factory=list)
    free_text: list[FreeText] = field(default_factory=list)


def _definition(feedback_round: FeedbackRound) -> scoring.Definition | None:
    instrument = round_instrument(feedback_round)
    return scoring.definition_from_dict(instrument.definition) if instrument is not None else None


def _filter(sources: str) -> tuple[str | None, str | None]:
    return (None, None) if sources == "all" else (disclosure.SOURCE, sources)


def subscale_summary(code: str, title: str, stat: disclosure.Stat) -> SubscaleSummary:
    """A subscale's published cell as the pages show it."""
    return SubscaleSummary(code, title, stat.n, stat.mean, stat.sd, stat.ci_low, stat.ci_high, stat.reason)


def _item_summaries(release: disclosure.Release, feedback_round: FeedbackRound, definition: scoring.Definition,
                    sources: str, locale: str) -> list[ItemSummary]:
    dimension, category = _filter(sources)
    summaries = []
    for item in definition.items:
        if not item.is_numeric and item.type != "choice":
            continue
        if item.is_numeric:
            scale = tuple(item.values)
            values = list(scale)
        else:
            scale = tuple(scoring.localised(c.label, locale) for c in item.choices)
            values = list(range(len(scale)))
        stat = release.stat(feedback_round.id, disclosure.item_measure(item.code), dimension, category)
        counts = release.distribution(feedback_round.id, item.code, values, dimension, category).counts
        distribution = dict(zip(scale, (counts.get(v) for v in values), strict=True))
        summaries.append(ItemSummary(
            code=item.code, text=scoring.localised(item.text, locale), type=item.type, reverse=item.reverse,
            n=stat.n, mean=stat.mean if item.is_numeric else None, sd=stat.sd if item.is_numeric else None,
            distribution=distribution, scale=scale, reason=stat.reason,
        ))
    return summaries


def round_results(
    feedback_round: FeedbackRound, k: int, now: datetime, include_text: bool = True, text_filter: str = "released",
    sources: str = "all", locale: str = "en", notes_label: str = "Interview notes",
) -> RoundResults:
    """The round's results for one view, as far as the anonymity policy allows.

    While the round is open, or below k responses (after the source filter), only participation. `text_filter`
    is "released" for leaders (only text a coordinator released) or "all" for coordinators. Raises ValueError
    on an unknown source or text filter.
    """
    if sources not in SOURCES or text_filter not in TEXT_FILTERS:
        raise ValueError(f"unknown filter {sources!r} / {text_filter!r}")
    definition = _definition(feedback_round)
    option_codes = [i.code for i in definition.items if i.is_numeric or i.type == "choice"] if definition else []
    release = disclosure.Release([feedback_round], k=k, now=now, split=True, items=True, options=option_codes)
    eligible = eligible_count(feedback_round)
    responses = release.participation(feedback_round.id)
    dimension, category = _filter(sources)
    cell = release.stat(feedback_round.id, disclosure.RESPONSES, dimension, category)
    results = RoundResults(
        eligible=eligible, responses=responses, participation=responses / eligible if eligible else None,
        suppressed=cell.hidden, k=k, sources=sources, reason=cell.reason, source_responses=cell.n,
    )
    if results.suppressed:
        return results
    if definition is not None:
        results.subscales = [
            subscale_summary(sub.code, scoring.localised(sub.title, locale), release.stat(
                feedback_round.id, disclosure.subscale_measure(f"{definition.code}/{sub.code}"), dimension, category))
            for sub in definition.subscales
        ]
        results.items = _item_summaries(release, feedback_round, definition, sources, locale)
    if include_text:
        labels = {i.code: scoring.localised(i.text, locale) for i in definition.text_items} if definition else {}
        texts = release.texts(feedback_round.id, [*labels, INTERVIEW_NOTES], released_only=text_filter == "released",
                              dimension=dimension, category=category) or []
        results.free_text = [
            FreeText(t.item_code, labels.get(t.item_code, notes_label), t.text, t.review,
                     text_ref(t.response_id, t.item_code))
            for t in texts
        ]
    return results


# --- no active questionnaire ----------------------------------------------------------------


@dataclass(frozen=True)
class MissingQuestionnaire:
    """No questionnaire is active: rounds waiting for one, and groups whose next held meeting opens a round."""

    waiting: list[FeedbackRound]
    groups_due: list  # groups one held meeting away from their next round


def missing_questionnaire(scope_org_id: int | None = None) -> MissingQuestionnaire | None:
    """What the coordinator's home warns about when no questionnaire is active (None when one is).

    `scope_org_id` limits it to one organisation's groups (a scoped coordinator). A fixed number of statements.
    """
    if default_instrument() is not None:
        return None
    waiting = [r for r in waiting_rounds() if scope_org_id is None or r.group.organisation_id == scope_org_id]
    groups = groups_one_meeting_from_a_round()
    if scope_org_id is not None:
        groups = [g for g in groups if g.organisation_id == scope_org_id]
    return MissingQuestionnaire(waiting, sorted(groups, key=lambda g: (g.name, g.id)) if groups else [])
