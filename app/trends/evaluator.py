"""The evaluator export: one row per response and subscale (tidy long format, for R, SPSS and Stata) and its data
dictionary in English and Chinese. What may be shown of each response is app.disclosure.evaluator's decision."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.disclosure.evaluator import evaluator_responses
from app.extensions import db
from app.feedback import rules as feedback_rules
from app.feedback import scoring
from app.feedback.models import Instrument
from app.timeutil import local_date
from app.trends import export_queries as eq

#: The profession of a response whose round does not show professions.
NOT_SHOWN = "not_shown"
#: Why a row has no score: the response answered too few of the subscale's items, or the round's subscale cell is
#: hidden (fewer than k responses scored it), so no response's score of it is shown.
NOT_SCORED = "not_scored"
WITHHELD = "withheld"

_random = random.SystemRandom()


@dataclass(frozen=True)
class Column:
    """One column of the file as the data dictionary describes it (texts translated when the dictionary is made)."""

    name: str
    type: str
    meaning: object
    allowed: object
    missing: object


NEVER_MISSING = _l("never empty")
COLUMNS = (
    Column("organisation", "string", _l("Organisation of the group"), _l("the organisations' names"),
           NEVER_MISSING),
    Column("group", "string", _l("Balint group"), _l("the groups' names"), NEVER_MISSING),
    Column("round", "integer", _l("Number of the group's feedback round (1, 2, 3 … in the order they opened)"),
           _l("1 or more"), NEVER_MISSING),
    Column("round_opened", "date",
           _l("Date the round opened (the deployment's local time), when its set of held meetings was complete"),
           _l("YYYY-MM-DD"), NEVER_MISSING),
    Column("instrument", "string", _l("Code of the questionnaire the response answered"),
           _l("the instruments' codes"), NEVER_MISSING),
    Column("instrument_version", "integer", _l("Version of that questionnaire"), _l("1 or more"), NEVER_MISSING),
    Column("response", "integer",
           _l("Number of the response within its round in this file: links the subscale rows of one response. "
              "Dealt afresh by each export; it says nothing of who answered or when"),
           _l("1 to the round's number of responses"), NEVER_MISSING),
    Column("profession", "string", _l("Respondent's profession, where the round shows professions"),
           _l("physician, nurse, psychologist, other, unknown (none given), not_shown (withheld: see README)"),
           NEVER_MISSING),
    Column("subscale", "string", _l("Code of the subscale (see the instrument's file for its items)"),
           _l("the subscales' codes"), NEVER_MISSING),
    Column("score", "decimal",
           _l("The response's subscale score: the mean of its answered items, reverse-scored items flipped "
              "(min + max − answer)"),
           _l("the subscale's scale (e.g. 1 to 5)"), _l("empty: see the column missing")),
    Column("missing", "string", _l("Why score is empty"),
           _l("empty (scored), not_scored (more than half of the subscale's items unanswered), withheld (fewer than "
              "k responses of the round scored the subscale)"), _l("empty when score is given")),
)
CODE_COLUMN = Column(
    "code", "string",
    _l("The respondent's self-generated code, re-keyed by the server: the same person gives the same value in every "
       "round and file made with the same export key, so rounds can be paired"),
    _l("64 hexadecimal digits"),
    _l("empty: the version asks no code, the respondent gave none or gave the same code as another response of the "
       "round, or the round shows no code (see README)"))


@dataclass(frozen=True)
class EvaluatorRow:
    """One row of the file: one response's score of one subscale."""

    organisation: str
    group: str
    round: int
    round_opened: date
    instrument: str
    instrument_version: int
    response: int
    profession: str
    subscale: str
    score: float | None
    missing: str | None
    code: str | None

    def values(self, with_code: bool) -> list:
        values = [self.organisation, self.group, self.round, self.round_opened.isoformat(), self.instrument,
                  self.instrument_version, self.response, self.profession, self.subscale, self.score, self.missing]
        return [*values, self.code] if with_code else values


@dataclass
class EvaluatorFile:
    """The rows, whether the file has the code column, and the subscales of the instrument versions it covers."""

    rows: list[EvaluatorRow]
    with_code: bool
    subscales: list[tuple[str, int, str, dict]]  # (instrument, version, subscale code, title)

    @property
    def columns(self) -> tuple[Column, ...]:
        return (*COLUMNS, CODE_COLUMN) if self.with_code else COLUMNS

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


def export_key() -> str:
    """The server-only key this deployment re-keys self-generated codes with (EVALUATOR_CODE_KEY, else derived from
    SECRET_KEY): never the programme key, which every member's page carries."""
    config = current_app.config
    return feedback_rules.export_code_key(config.get("EVALUATOR_CODE_KEY"), config["SECRET_KEY"])


def _response_order(code: str | None) -> tuple:
    """Responses of a round by re-keyed code (uncoded ones after, in the random order they came): nothing follows
    the order of submission or the responses' ids."""
    return (code is None, code or "")


def evaluator_file(filters: eq.Filters, k: int, *, key: str, now: datetime) -> EvaluatorFile:
    """The rows of the rounds the filters cover, by organisation, group and round, then response and subscale.

    `key` is the export key (feedback.rules.export_code_key). Rounds below k or still open are absent.
    """
    rounds = eq.rounds_of(filters)
    released = evaluator_responses(rounds, k=k, now=now, rekey=lambda code: feedback_rules.rekeyed_code(code, key))
    ids = sorted({resp.instrument_id for r in released.values() for resp in r.responses})
    instruments = {i.id: i for i in db.session.scalars(sa.select(Instrument).where(Instrument.id.in_(ids)))} if ids \
        else {}
    definitions = {iid: scoring.definition_from_dict(i.definition) for iid, i in instruments.items()}
    rows: list[EvaluatorRow] = []
    for feedback_round in rounds:
        found = released.get(feedback_round.id)
        if found is None:
            continue
        group = feedback_round.group
        opened = local_date(feedback_round.opens_at)
        responses = sorted(found.responses, key=lambda resp: _response_order(resp.code))
        for number, resp in enumerate(responses, start=1):
            instrument, definition = instruments[resp.instrument_id], definitions[resp.instrument_id]
            for sub in definition.subscales:
                subscale_key = scoring.subscale_key(definition.code, sub.code)
                if subscale_key not in resp.scores:
                    continue
                score = resp.scores[subscale_key]
                missing = (WITHHELD if subscale_key in found.withheld else NOT_SCORED) if score is None else None
                rows.append(EvaluatorRow(
                    group.organisation.name, group.name, feedback_round.number, opened, instrument.code,
                    instrument.version, number, resp.profession or NOT_SHOWN, sub.code, score, missing, resp.code))
    with_code = any(definitions[resp.instrument_id].self_generated_code
                    for r in released.values() for resp in r.responses)
    subscales = [(instruments[iid].code, instruments[iid].version, sub.code, sub.title)
                 for iid in sorted(definitions, key=lambda i: (instruments[i].code, instruments[i].version))
                 for sub in definitions[iid].subscales]
    return EvaluatorFile(rows, with_code, subscales)


def dictionary_header() -> list[str]:
    return [_("Column"), _("Type"), _("Meaning (English)"), _("Meaning (Chinese)"), _("Allowed values (English)"),
            _("Allowed values (Chinese)"), _("Missing values (English)"), _("Missing values (Chinese)")]


def _both(text) -> tuple[str, str]:
    """The text in English and in Simplified Chinese, whatever the reader's language."""
    with force_locale("en"):
        english = str(text)
    with force_locale("zh_CN"):
        chinese = str(text)
    return english, chinese


def dictionary_rows(found: EvaluatorFile) -> list[list[str]]:
    """Every column of the file (name, type, meaning, allowed values, missing values, in both languages), then
    every subscale code of the instrument versions it covers with its title."""
    rows = []
    for column in found.columns:
        meaning, allowed, missing = _both(column.meaning), _both(column.allowed), _both(column.missing)
        rows.append([column.name, column.type, *meaning, *allowed, *missing])
    for instrument, version, code, title in found.subscales:
        rows.append([f"subscale = {code}", f"{instrument} v{version}", scoring.localised(title, "en"),
                     scoring.localised(title, "zh_CN"), "", "", "", ""])
    return rows
