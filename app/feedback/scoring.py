"""Questionnaire scoring (pure): the normalised instrument definition, item and subscale scores, bands and answer
checks. No Flask, no database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ITEM_TYPES = ("likert", "scale", "choice", "text")
NUMERIC_TYPES = frozenset({"likert", "scale"})
LANGUAGES = ("en", "zh_CN")
TEXT_MAX_LENGTH = 2000
#: Standard questions an instrument may mark (`standard: attendance` on a rated item): the app knows what they ask.
#: "attendance": how many of the round's meetings the respondent attended (trends show subscale means by band).
ATTENDANCE = "attendance"
STANDARD_ITEMS = (ATTENDANCE,)

# Problem codes returned by answer_problems(); the submit service turns them into messages.
REQUIRED = "required"
OUT_OF_RANGE = "out_of_range"
NOT_INTEGER = "not_integer"
UNKNOWN_CHOICE = "unknown_choice"
TOO_LONG = "too_long"
NOT_TEXT = "not_text"
UNKNOWN_ITEM = "unknown_item"

Text = dict[str, str]  # {"en": ..., "zh_CN": ...}


def localised(text: Text, locale: str) -> str:
    """The text in the locale's language (zh* reads zh_CN, anything else en), else the other one."""
    key = "zh_CN" if str(locale).startswith("zh") else "en"
    return text.get(key) or text.get("en") or text.get("zh_CN") or ""


@dataclass(frozen=True)
class Choice:
    """One option of a single-choice item."""

    value: str
    label: Text


@dataclass(frozen=True)
class Item:
    """One question: rated (likert, scale), single choice or free text."""

    code: str
    type: str
    text: Text
    required: bool = True
    min: int | None = None
    max: int | None = None
    anchors: dict[int, Text] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    reverse: bool = False
    subscale: str | None = None
    max_length: int = TEXT_MAX_LENGTH
    standard: str | None = None  # one of STANDARD_ITEMS when the item is a standard question

    @property
    def is_numeric(self) -> bool:
        """True for items answered with an integer on a min..max scale."""
        return self.type in NUMERIC_TYPES

    @property
    def values(self) -> range:
        """The integers a numeric item accepts (empty for other types)."""
        if not self.is_numeric or self.min is None or self.max is None:
            return range(0)
        return range(self.min, self.max + 1)


@dataclass(frozen=True)
class Band:
    """A labelled range of subscale scores (bounds inclusive; a missing bound is open)."""

    label: Text
    min: float | None = None
    max: float | None = None
    concern: bool = False

    def contains(self, score: float) -> bool:
        """Whether the score lies within the band."""
        return (self.min is None or score >= self.min) and (self.max is None or score <= self.max)


@dataclass(frozen=True)
class Subscale:
    """A named set of rated items whose answers are averaged; bands label the mean."""

    code: str
    title: Text
    items: tuple[str, ...]
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True)
class Definition:
    """One version of a questionnaire, validated and normalised."""

    code: str
    version: int
    title: Text
    licence: str
    source: str
    items: tuple[Item, ...]
    subscales: tuple[Subscale, ...] = ()
    requires_permission: bool = False
    description: Text | None = None
    #: Members may add a self-generated code (an HMAC built in their browser) so that their answers to two
    #: rounds can be paired without knowing who they are (app.trends.paired). Off unless the file says so.
    self_generated_code: bool = False

    def item(self, code: str) -> Item | None:
        """The item with this code, or None."""
        return next((i for i in self.items if i.code == code), None)

    @property
    def rated_items(self) -> tuple[Item, ...]:
        """The items answered on a numeric scale."""
        return tuple(i for i in self.items if i.is_numeric)

    @property
    def text_items(self) -> tuple[Item, ...]:
        """The free-text items."""
        return tuple(i for i in self.items if i.type == "text")

    @property
    def attendance_item(self) -> Item | None:
        """The standard question "how many of this round's meetings did you attend", if the version asks it."""
        return next((i for i in self.items if i.standard == ATTENDANCE), None)


# --- to and from plain data (the form stored in Instrument.definition) ------------------------


def _text(value: Any) -> Text:
    return {lang: str(value.get(lang, "")) for lang in LANGUAGES} if isinstance(value, dict) else {}


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def definition_from_dict(data: dict) -> Definition:
    """Build a Definition from its plain-data form (as definition_to_dict writes it).

    The data is trusted to be valid (instrument_files.parse_instrument checks uploaded files); anchor keys
    may be integers or strings of digits, as JSON storage turns them into strings.
    Raises KeyError, TypeError or ValueError on data of the wrong shape.
    """
    membership = {code: sub["code"] for sub in data.get("subscales", []) for code in sub["items"]}
    items = []
    for raw in data["items"]:
        items.append(Item(
            code=str(raw["code"]),
            type=str(raw["type"]),
            text=_text(raw["text"]),
            required=bool(raw.get("required", True)),
            min=None if raw.get("min") is None else int(raw["min"]),
            max=None if raw.get("max") is None else int(raw["max"]),
            anchors={int(k): _text(v) for k, v in (raw.get("anchors") or {}).items()},
            choices=tuple(Choice(str(c["value"]), _text(c["label"])) for c in raw.get("choices") or ()),
            reverse=bool(raw.get("reverse", False)),
            subscale=membership.get(raw["code"]),
            max_length=int(raw.get("max_length", TEXT_MAX_LENGTH)),
            standard=None if raw.get("standard") is None else str(raw["standard"]),
        ))
    subscales = tuple(
        Subscale(
            code=str(sub["code"]),
            title=_text(sub["title"]),
            items=tuple(str(c) for c in sub["items"]),
            bands=tuple(
                Band(label=_text(b["label"]), min=_opt_float(b.get("min")), max=_opt_float(b.get("max")),
                     concern=bool(b.get("concern", False)))
                for b in sub.get("bands") or ()
            ),
        )
        for sub in data.get("subscales") or ()
    )
    description = data.get("description")
    return Definition(
        code=str(data["code"]), version=int(data["version"]), title=_text(data["title"]),
        licence=str(data["licence"]), source=str(data["source"]), items=tuple(items), subscales=subscales,
        requires_permission=bool(data.get("requires_permission", False)),
        description=_text(description) if description else None,
        self_generated_code=bool(data.get("self_generated_code", False)),
    )


def definition_to_dict(definition: Definition) -> dict:
    """The plain-data (JSON-safe) form of a Definition; definition_from_dict reads it back unchanged."""
    items = []
    for item in definition.items:
        raw: dict[str, Any] = {"code": item.code, "type": item.type, "text": dict(item.text),
                               "required": item.required}
        if item.is_numeric:
            raw.update(min=item.min, max=item.max, reverse=item.reverse,
                       anchors={str(k): dict(v) for k, v in sorted(item.anchors.items())})
        if item.type == "choice":
            raw["choices"] = [{"value": c.value, "label": dict(c.label)} for c in item.choices]
        if item.type == "text":
            raw["max_length"] = item.max_length
        if item.standard is not None:
            raw["standard"] = item.standard
        items.append(raw)
    subscales = []
    for sub in definition.subscales:
        bands = []
        for band in sub.bands:
            raw_band: dict[str, Any] = {"label": dict(band.label), "concern": band.concern}
            if band.min is not None:
                raw_band["min"] = band.min
            if band.max is not None:
                raw_band["max"] = band.max
            bands.append(raw_band)
        subscales.append({"code": sub.code, "title": dict(sub.title), "items": list(sub.items), "bands": bands})
    data: dict[str, Any] = {
        "code": definition.code, "version": definition.version, "title": dict(definition.title),
        "licence": definition.licence, "source": definition.source,
        "requires_permission": definition.requires_permission, "items": items, "subscales": subscales,
    }
    if definition.description:
        data["description"] = dict(definition.description)
    if definition.self_generated_code:
        data["self_generated_code"] = True
    return data


# --- scoring ---------------------------------------------------------------------------------


_INTEGER = re.compile(r"[+-]?[0-9]+")  # one sign at most, ASCII digits only
_MAX_DIGITS = 18
_BEYOND_EVERY_SCALE = 10**_MAX_DIGITS  # what an answer of more digits counts as: out of range on every scale


def _as_int(answer: Any) -> int | None:
    """The answer as an integer, or None when it is not one (booleans and fractions are not)."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int):
        return answer
    if isinstance(answer, str):
        stripped = answer.strip()
        if _INTEGER.fullmatch(stripped):
            if len(stripped.lstrip("+-").lstrip("0")) > _MAX_DIGITS:  # int() refuses past 4300 digits
                return -_BEYOND_EVERY_SCALE if stripped.startswith("-") else _BEYOND_EVERY_SCALE
            return int(stripped)
    return None


def _blank(answer: Any) -> bool:
    return answer is None or (isinstance(answer, str) and not answer.strip())


def item_score(item: Item, answer: Any) -> int | None:
    """The score of one answer: the integer on the item's scale, reversed (min + max - answer) if reverse-scored.

    None for items that are not rated, and for answers that are missing, not integers or out of range.
    """
    if not item.is_numeric:
        return None
    value = _as_int(answer)
    if value is None or value not in item.values:
        return None
    return item.min + item.max - value if item.reverse else value


def _item_scores(definition: Definition, subscale: Subscale, answers: dict[str, Any]) -> list[int]:
    """The scores of the subscale's items that have one (answered, rated, in range), in the subscale's order."""
    scores = []
    for code in subscale.items:
        item = definition.item(code)
        score = item_score(item, answers.get(code)) if item is not None else None
        if score is not None:
            scores.append(score)
    return scores


def _mean_unless_half_missing(scores: list[int], size: int) -> float | None:
    missing = size - len(scores)
    if not scores or missing * 2 > size:
        return None
    return sum(scores) / len(scores)


def subscale_score(definition: Definition, subscale: Subscale, answers: dict[str, Any]) -> float | None:
    """The mean of the subscale's answered items; None when more than half its items are unanswered."""
    return _mean_unless_half_missing(_item_scores(definition, subscale, answers), len(subscale.items))


def subscale_scores(definition: Definition, answers: dict[str, Any]) -> dict[str, float | None]:
    """Each subscale's score for one response ({item_code: answer}), by subscale code."""
    return {sub.code: subscale_score(definition, sub, answers) for sub in definition.subscales}


def subscale_key(instrument_code: str, subscale_code: str) -> str:
    """The key of a subscale across an instrument's versions: "<instrument code>/<subscale code>"."""
    return f"{instrument_code}/{subscale_code}"


@dataclass(frozen=True)
class SubscaleResult:
    """One response's result on one subscale, as it is stored (app.feedback.models.ResponseScore).

    `score` is subscale_score's (None when more than half the items are unanswered); `answered` counts the
    items with a score and `missing` the others, so a reader can tell a complete answer from a partial one.
    """

    subscale: str  # subscale_key(instrument code, subscale code)
    score: float | None
    answered: int
    missing: int


def subscale_results(definition: Definition, answers: dict[str, Any]) -> list[SubscaleResult]:
    """One response's result on every subscale of its instrument version, in the definition's order (the score
    is subscale_score's)."""
    results = []
    for sub in definition.subscales:
        scores = _item_scores(definition, sub, answers)
        results.append(SubscaleResult(subscale_key(definition.code, sub.code),
                                      _mean_unless_half_missing(scores, len(sub.items)), len(scores),
                                      len(sub.items) - len(scores)))
    return results


def band_for(subscale: Subscale, score: float | None) -> Band | None:
    """The first of the subscale's bands that contains the score (None for no score or no band)."""
    if score is None:
        return None
    return next((band for band in subscale.bands if band.contains(score)), None)


def concerns(definition: Definition, scores: dict[str, float | None]) -> list[Band]:
    """The bands flagged as a concern that the subscale scores fall in, in subscale order."""
    found = []
    for sub in definition.subscales:
        band = band_for(sub, scores.get(sub.code))
        if band is not None and band.concern:
            found.append(band)
    return found


# --- checking answers ------------------------------------------------------------------------


def answer_problem(item: Item, answer: Any) -> str | None:
    """What is wrong with one answer to the item (a problem code), or None when it is acceptable."""
    if _blank(answer):
        return REQUIRED if item.required else None
    if item.is_numeric:
        value = _as_int(answer)
        if value is None:
            return NOT_INTEGER
        return None if value in item.values else OUT_OF_RANGE
    if item.type == "choice":
        return None if str(answer).strip() in {c.value for c in item.choices} else UNKNOWN_CHOICE
    if not isinstance(answer, str):
        return NOT_TEXT
    return TOO_LONG if len(answer) > item.max_length else None


def answer_problems(definition: Definition, answers: dict[str, Any]) -> dict[str, str]:
    """Every problem with a set of answers, {item_code: problem_code}; empty means the set may be submitted.

    Codes: required (a required item unanswered), not_integer, out_of_range, unknown_choice, too_long,
    not_text, unknown_item (an answer to an item the instrument does not have).
    """
    problems = {}
    for item in definition.items:
        problem = answer_problem(item, answers.get(item.code))
        if problem is not None:
            problems[item.code] = problem
    for code in answers:
        if definition.item(code) is None:
            problems[code] = UNKNOWN_ITEM
    return problems
