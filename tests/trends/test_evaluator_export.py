"""The evaluator export: rows equal the scores computed here from the answers, rounds below k absent, codes
re-keyed (not the stored ones, the same across rounds), professions only where their cells are published, the data
dictionary in both languages, and who may download it (pages and API)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import zipfile

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from app.disclosure import observe
from app.disclosure import rules as disclosure_rules
from app.extensions import db as _db
from app.feedback import rules as feedback_rules
from app.feedback.models import Response
from app.feedback.services.responses import submit_response
from app.timeutil import utcnow
from tests.factories import (
    CODED,
    bearer_headers,
    code_of,
    consecutive_rounds,
    make_group,
    make_instrument,
    make_org,
    make_scoped_coordinator,
)

K = 3  # MIN_RESPONSES of the testing configuration
# The coded questionnaire of the paired tests, with B's items optional (a response may leave B unscored).
CODED = {**CODED, "code": "coded-optional",
         "items": [{**item, "required": False} if item["code"].startswith("b") else item for item in CODED["items"]]}
PLAIN = {**CODED, "code": "plain", "self_generated_code": False}
ITEMS = ("a1", "a2", "a3", "b1", "b2")
SECRET = "testing-secret"


# --- pure -----------------------------------------------------------------------------------------------------------

def test_a_round_is_linked_only_when_every_round_it_pairs_with_passes_the_pair_rule():
    codes = {1: {"a", "b", "c", "d"}, 2: {"a", "b", "c", "d"}, 3: {"a", "b", "x", "y"}, 4: {"p", "q"}}
    totals = {1: 4, 2: 4, 3: 4, 4: 2}
    # 2 pairs fully with 1; 3 shares only two codes with 1 (fewer than k pairs): left out; 4 shares none.
    assert disclosure_rules.linkable_rounds([1, 2, 3, 4], codes, totals, K) == [1, 2, 4]
    # Taken in another closing order, the earlier round wins.
    assert disclosure_rules.linkable_rounds([3, 1, 2], codes, totals, K) == [3]
    # k pairs but one response of the later round left unpaired: it would stand out.
    assert disclosure_rules.linkable_rounds([1, 2], {1: {"a", "b", "c"}, 2: {"a", "b", "c"}}, {1: 3, 2: 4}, K) == [1]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sets(st.integers(0, 9), max_size=8), st.integers(0, 4)), min_size=1, max_size=6))
def test_kept_rounds_pass_the_pair_rule_two_by_two_and_later_rounds_never_change_earlier_choices(spec):
    codes = {i: {str(c) for c in given} for i, (given, _uncoded) in enumerate(spec)}
    totals = {i: len(codes[i]) + uncoded for i, (_given, uncoded) in enumerate(spec)}
    order = list(codes)
    kept = disclosure_rules.linkable_rounds(order, codes, totals, K)
    for i, a in enumerate(kept):
        for b in kept[i + 1:]:
            pairs = len(codes[a] & codes[b])
            unpaired = (totals[a] - pairs, totals[b] - pairs)
            assert not pairs or disclosure_rules.pairs_publishable(pairs, *unpaired, K) is None
    for cut in range(len(order)):
        assert disclosure_rules.linkable_rounds(order[:cut], codes, totals, K) == [r for r in kept if r in order[:cut]]


def test_rekeyed_codes_need_the_server_key():
    stored = "ab" * 32
    key = feedback_rules.export_code_key("", SECRET)
    assert key != feedback_rules.code_key("", SECRET)  # never the programme key the pages carry
    assert feedback_rules.export_code_key("own-key", SECRET) == "own-key"
    assert feedback_rules.rekeyed_code(stored, key) == hmac.new(key.encode(), stored.encode(),
                                                                hashlib.sha256).hexdigest()
    assert feedback_rules.rekeyed_code(stored, key) != feedback_rules.rekeyed_code(stored, "another key")


def test_the_app_refuses_an_export_key_equal_to_the_programme_key():
    from app import create_app

    with pytest.raises(RuntimeError, match="EVALUATOR_CODE_KEY"):
        create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "RESPONSE_CODE_KEY": "same",
                               "EVALUATOR_CODE_KEY": "same"})


# --- with the database ----------------------------------------------------------------------------------------------

def answers_from(rng, n, skip_b: int = 0):
    """n answer sets; the first `skip_b` leave out both B items (no B score)."""
    out = []
    for i in range(n):
        given = {code: str(int(v)) for code, v in zip(ITEMS, rng.integers(1, 6, size=5), strict=True)}
        if i < skip_b:
            del given["b1"], given["b2"]
        out.append(given)
    return out


def expected_scores(given: dict) -> dict[str, float | None]:
    """The subscale scores computed here: A = mean(a1, 6 − a2, a3) (a2 reversed on 1..5), B = mean(b1, b2)."""
    a = (int(given["a1"]) + 6 - int(given["a2"]) + int(given["a3"])) / 3
    b = (int(given["b1"]) + int(given["b2"])) / 2 if "b1" in given else None
    return {"A": a, "B": b}


def submit_all(feedback_round, people, answers, codes=None, close=True):
    for i, (person, answered) in enumerate(zip(people, answers, strict=False)):
        submit_response(person, feedback_round, answered, utcnow(), code=codes[i] if codes else None)
    if close:
        feedback_round.close(utcnow())
    _db.session.flush()


def xlsx_sheets(response) -> list[list[list]]:
    workbook = load_workbook(io.BytesIO(response.get_data()))
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook.worksheets]


def as_dicts(table: list[list]) -> list[dict]:
    header, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def export(client, auth, coordinator, fmt="xlsx", **args):
    auth.login(coordinator)
    response = client.get(f"/exports/evaluator.{'zip' if fmt == 'csv' else 'xlsx'}", query_string=args)
    assert response.status_code == 200, response.status_code
    return response


@pytest.fixture
def coded_rounds(db, group, crew):
    """Rounds 1 and 2 of the persona group asking for codes; all eight members answer both with the same facts."""
    first, second = consecutive_rounds(group, crew, make_instrument(CODED))
    rng = np.random.default_rng(11)
    answers = answers_from(rng, 8, skip_b=1), answers_from(rng, 8)
    codes = [code_of(str(i), "12", "x", key="programme") for i in range(8)]
    submit_all(first, crew, answers[0], codes)
    submit_all(second, crew, answers[1], list(reversed(codes)))
    _db.session.commit()
    return (first, second), answers, codes


def test_rows_equal_the_scores_computed_from_the_answers_and_codes_are_rekeyed(client, auth, coordinator,
                                                                               coded_rounds):
    _rounds, answers, codes = coded_rounds
    data, dictionary = xlsx_sheets(export(client, auth, coordinator))
    rows = as_dicts(data)
    assert data[0] == ["organisation", "group", "round", "round_opened", "instrument", "instrument_version",
                       "response", "profession", "subscale", "score", "missing", "code"]
    key = feedback_rules.export_code_key("", SECRET)
    rekeyed = {feedback_rules.rekeyed_code(c, key): c for c in codes}
    # Independently: per round, per stored code, the scores computed from that person's answers.
    expected = {}
    for number, given_round, order in ((1, answers[0], codes), (2, answers[1], list(reversed(codes)))):
        for answered, stored in zip(given_round, order, strict=True):
            for sub, score in expected_scores(answered).items():
                expected[(number, stored, sub)] = score
    got = {}
    for row in rows:
        assert row["code"] in rekeyed and row["code"] not in codes  # re-keyed, never the stored code
        assert row["profession"] == "not_shown"  # a round with codes never shows professions
        assert row["organisation"] == "Test Hospital" and row["instrument"] == "coded-optional"
        got[(row["round"], rekeyed[row["code"]], row["subscale"])] = row["score"]
        assert row["missing"] == (None if row["score"] is not None else "not_scored")
    assert got.keys() == expected.keys()
    for cell, score in expected.items():
        assert got[cell] == (None if score is None else pytest.approx(score, abs=1e-9))
    # The same person keeps one re-keyed code across rounds, and rows follow round, then code: not submission.
    by_round = {n: [r["code"] for r in rows if r["round"] == n and r["subscale"] == "A"] for n in (1, 2)}
    assert by_round[1] == by_round[2] == sorted(by_round[1])
    assert [r["response"] for r in rows if r["round"] == 1 and r["subscale"] == "A"] == list(range(1, 9))
    # The dictionary lists every column, in English and Chinese, with allowed and missing values.
    entries = as_dicts(dictionary)
    names = [e["Column"] for e in entries]
    assert names[:12] == data[0]
    for entry in entries[:12]:
        assert all(entry[c] for c in ("Type", "Meaning (English)", "Meaning (Chinese)", "Allowed values (English)",
                                      "Missing values (English)"))
    assert {"subscale = A", "subscale = B"} <= set(names)
    group_entry = entries[1]
    assert (group_entry["Meaning (English)"], group_entry["Meaning (Chinese)"]) == ("Balint group", "巴林特小组")


def test_the_csv_comes_as_a_zip_of_the_data_and_its_dictionary(client, auth, coordinator, coded_rounds, today):
    response = export(client, auth, coordinator, fmt="csv")
    assert response.mimetype == "application/zip"
    assert f"balint-evaluator-{today.isoformat()}.zip" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    data_name, dictionary_name = (f"balint-evaluator-{today.isoformat()}.csv",
                                  f"balint-evaluator-{today.isoformat()}-dictionary.csv")
    assert sorted(archive.namelist()) == sorted([data_name, dictionary_name])
    data = list(csv.reader(io.StringIO(archive.read(data_name).decode("utf-8-sig"))))
    assert data[0][-1] == "code" and len(data) == 1 + 2 * 8 * 2
    dictionary = list(csv.reader(io.StringIO(archive.read(dictionary_name).decode("utf-8-sig"))))
    assert [row[0] for row in dictionary[1:13]] == data[0]


def test_rounds_below_k_or_open_are_left_out_entirely(client, auth, coordinator, db, group, crew):
    first, second = consecutive_rounds(group, crew, make_instrument(PLAIN))
    rng = np.random.default_rng(5)
    submit_all(first, crew[:2], answers_from(rng, 2))  # two responses: below k
    submit_all(second, crew, answers_from(rng, 8), close=False)  # still open
    _db.session.commit()
    data, _dictionary = xlsx_sheets(export(client, auth, coordinator))
    assert data == [["organisation", "group", "round", "round_opened", "instrument", "instrument_version", "response",
                     "profession", "subscale", "score", "missing"]]  # no code column: no version asks for codes


def set_professions(feedback_round, professions):
    for response, profession in zip(_db.session.scalars(sa.select(Response).where(
            Response.round_id == feedback_round.id).order_by(Response.id)), professions, strict=True):
        response.profession = profession
    _db.session.commit()


def test_professions_show_only_where_every_profession_cell_of_the_round_is_published(client, auth, coordinator, db,
                                                                                     group, crew):
    first, second = consecutive_rounds(group, crew, make_instrument(PLAIN))
    rng = np.random.default_rng(8)
    submit_all(first, crew[:6], answers_from(rng, 6))
    submit_all(second, crew[:6], answers_from(rng, 6, skip_b=2))
    set_professions(first, ["physician"] * 3 + ["nurse"] * 3)
    set_professions(second, ["physician"] * 4 + ["nurse"] * 2)  # two nurses: below k
    with observe() as published:
        rows = as_dicts(xlsx_sheets(export(client, auth, coordinator))[0])
    first_rows = [r for r in rows if r["round"] == 1]
    assert sorted(r["profession"] for r in first_rows if r["subscale"] == "A") == ["nurse"] * 3 + ["physician"] * 3
    assert {r["profession"] for r in rows if r["round"] == 2} == {"not_shown"}
    # Round 2: two responses left out B (not scored); the other four scored it, k or more.
    assert sorted((r["missing"] or "") for r in rows if r["round"] == 2 and r["subscale"] == "B") == \
        ["", "", "", "", "not_scored", "not_scored"]
    # Every part the export announced holds k or more responses.
    parts = [p for p in published if p.kind == "rows"]
    assert parts and all(p.value >= K for p in parts)


def test_a_subscale_scored_by_fewer_than_k_is_withheld_for_the_whole_round(client, auth, coordinator, db, group,
                                                                          crew):
    first, _second = consecutive_rounds(group, crew, make_instrument(PLAIN))
    submit_all(first, crew[:5], answers_from(np.random.default_rng(2), 5, skip_b=3))  # two scored B
    _db.session.commit()
    rows = as_dicts(xlsx_sheets(export(client, auth, coordinator))[0])
    b_rows = [r for r in rows if r["subscale"] == "B"]
    assert len(b_rows) == 5 and {(r["score"], r["missing"]) for r in b_rows} == {(None, "withheld")}
    assert all(r["score"] is not None for r in rows if r["subscale"] == "A")


def test_codes_of_a_round_that_would_single_out_its_unpaired_respondent_are_not_shown(client, auth, coordinator, db,
                                                                                      group, crew):
    first, second = consecutive_rounds(group, crew, make_instrument(CODED))
    rng = np.random.default_rng(4)
    codes = [code_of(str(i), "1", "z", key="programme") for i in range(8)]
    submit_all(first, crew, answers_from(rng, 8), codes)
    submit_all(second, crew, answers_from(rng, 8), [*codes[:7], code_of("other", "2", "w", key="programme")])
    _db.session.commit()
    rows = as_dicts(xlsx_sheets(export(client, auth, coordinator))[0])
    assert all(r["code"] is not None for r in rows if r["round"] == 1)
    assert all(r["code"] is None for r in rows if r["round"] == 2)  # 7 pairs, 1 unpaired: round 2 shows no code
    # Exporting round 2 alone (another filter) still shows no code: the choice is the programme's, not the file's.
    rows = as_dicts(xlsx_sheets(export(client, auth, coordinator, group=group.id,
                                       **{"from": second.opens_at.date().isoformat()}))[0])
    assert rows and {r["round"] for r in rows} == {2} and all(r["code"] is None for r in rows)


# --- who may download it --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["leader", "member"])
def test_leaders_and_members_may_not_download_it(client, auth, request, coded_rounds, persona):
    auth.login(request.getfixturevalue(persona))
    assert client.get("/exports/evaluator.xlsx").status_code == 403
    assert client.get("/exports/evaluator.zip").status_code == 403


def test_a_coordinator_of_another_organisation_sees_none_of_it(client, auth, db, coded_rounds, group):
    other = make_org("Other Hospital")
    scoped = make_scoped_coordinator(other, email="other@example.org")
    make_group(other, "Their group")
    _db.session.commit()
    auth.login(scoped)
    assert client.get("/exports/evaluator.xlsx", query_string={"group": group.id}).status_code == 403
    assert as_dicts(xlsx_sheets(client.get("/exports/evaluator.xlsx"))[0]) == []


def test_bad_requests_are_not_errors(client, auth, coordinator, coded_rounds):
    auth.login(coordinator)
    assert client.get("/exports/evaluator.pdf").status_code == 404
    assert client.get("/exports/evaluator.csv").status_code == 404  # CSV comes zipped
    assert client.get("/exports/evaluator.xlsx", query_string={"group": 99999999}).status_code == 404
    for args in ({"group": "x"}, {"from": "31/12/2024"}, {"from": "2025-02-01", "until": "2025-01-01"}):
        assert client.get("/exports/evaluator.xlsx", query_string=args).status_code == 302


def test_the_api_gives_the_same_rows_to_coordinators_only(client, coordinator, leader, coded_rounds, db):
    _rounds, _answers, codes = coded_rounds
    assert client.get("/api/v1/trends/evaluator-export", headers=bearer_headers(leader)).status_code == 403
    response = client.get("/api/v1/trends/evaluator-export", headers=bearer_headers(coordinator))
    assert response.status_code == 200
    body = response.get_json()
    assert body["min_n"] == K and body["with_code"] is True and len(body["rows"]) == 2 * 8 * 2
    assert not {r["code"] for r in body["rows"]} & set(codes)
    assert [d["name"] for d in body["dictionary"][:12]][-1] == "code"
    assert all(d["meaning_zh"] for d in body["dictionary"][:12])
    bad = client.get("/api/v1/trends/evaluator-export", query_string={"from": "not a day"},
                     headers=bearer_headers(coordinator))
    assert bad.status_code == 422
    missing = client.get("/api/v1/trends/evaluator-export", query_string={"group": 99999},
                         headers=bearer_headers(coordinator))
    assert missing.status_code == 404
