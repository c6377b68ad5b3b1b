"""Questionnaire scoring (app.feedback.scoring), tested without an app: reverse items, subscale means, bands,
answer checks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.feedback import scoring
from app.feedback.scoring import Band, Definition, Item, Subscale

EN_ZH = {"en": "x", "zh_CN": "x"}


def likert(code: str, reverse: bool = False, low: int = 1, high: int = 5, required: bool = True) -> Item:
    return Item(code=code, type="likert", text=EN_ZH, min=low, max=high, reverse=reverse, required=required,
                anchors={low: EN_ZH, high: EN_ZH})


LOW_WELLBEING = Band(label={"en": "Low wellbeing", "zh_CN": "身心状态欠佳"}, max=2.0, concern=True)
GOOD = Band(label={"en": "Good", "zh_CN": "好"}, min=4.0)

DEFINITION = Definition(
    code="test", version=1, title=EN_ZH, licence="CC BY 4.0", source="us",
    items=(
        likert("a"), likert("b"), likert("c", reverse=True), likert("d"),
        likert("w1"), likert("w2"), likert("w3", reverse=True),
        Item(code="role", type="choice", text=EN_ZH, required=False,
             choices=(scoring.Choice("doctor", EN_ZH), scoring.Choice("nurse", EN_ZH))),
        Item(code="open", type="text", text=EN_ZH, required=False),
    ),
    subscales=(
        Subscale(code="four", title=EN_ZH, items=("a", "b", "c", "d")),
        Subscale(code="wellbeing", title=EN_ZH, items=("w1", "w2", "w3"), bands=(LOW_WELLBEING, GOOD)),
    ),
)


def test_a_reverse_scored_item_scores_min_plus_max_minus_the_answer():
    assert scoring.item_score(likert("r", reverse=True), 1) == 5
    assert scoring.item_score(likert("r", reverse=True), 4) == 2
    assert scoring.item_score(likert("r", reverse=True, low=0, high=10), 3) == 7
    assert scoring.item_score(likert("p"), 4) == 4


def test_answers_outside_the_scale_or_not_integers_have_no_score():
    item = likert("p")
    assert scoring.item_score(item, 0) is None
    assert scoring.item_score(item, 6) is None
    assert scoring.item_score(item, "3.5") is None
    assert scoring.item_score(item, True) is None
    assert scoring.item_score(item, None) is None
    assert scoring.item_score(item, "3") == 3


def test_numbers_no_scale_holds_are_out_of_range_and_malformed_signs_are_not_integers():
    """Found by fuzzing: int() raised ValueError for more than 4300 digits and for "+-3" (a 500 on the form)."""
    item = likert("p")
    assert scoring.answer_problem(item, "1" * 5000) == scoring.OUT_OF_RANGE
    assert scoring.answer_problem(item, "-" + "9" * 30) == scoring.OUT_OF_RANGE
    assert scoring.answer_problem(item, "0" * 40 + "3") is None
    for malformed in ("+-3", "--3", "3-", "٣", "３"):
        assert scoring.answer_problem(item, malformed) == scoring.NOT_INTEGER
    assert scoring.item_score(item, "1" * 5000) is None


@given(st.text(alphabet="+-0123456789 ", max_size=60))
def test_any_text_of_signs_and_digits_is_judged_without_raising(answer):
    assert scoring.answer_problem(likert("p"), answer) in (None, scoring.REQUIRED, scoring.NOT_INTEGER,
                                                           scoring.OUT_OF_RANGE)


def test_a_subscale_score_is_the_mean_of_its_answered_items_with_reverse_items_turned():
    scores = scoring.subscale_scores(DEFINITION, {"a": 4, "b": 5, "c": 2, "d": 3})
    assert scores["four"] == (4 + 5 + 4 + 3) / 4


def test_a_response_missing_half_of_a_subscale_still_has_a_score():
    assert scoring.subscale_scores(DEFINITION, {"a": 4, "b": 2})["four"] == 3.0


def test_a_response_missing_more_than_half_of_a_subscale_has_no_score_for_it():
    scores = scoring.subscale_scores(DEFINITION, {"a": 4, "w1": 5})
    assert scores["four"] is None
    assert scores["wellbeing"] is None  # one of three answered: two missing is more than half


def test_an_out_of_range_answer_counts_as_missing():
    assert scoring.subscale_scores(DEFINITION, {"w1": 9, "w2": 2, "w3": 4})["wellbeing"] == 2.0
    assert scoring.subscale_scores(DEFINITION, {"w1": 9, "w2": 0, "w3": 4})["wellbeing"] is None


def test_a_low_wellbeing_mean_falls_in_the_concern_band():
    scores = scoring.subscale_scores(DEFINITION, {"w1": 2, "w2": 1, "w3": 5})  # 2, 1, 1 -> 1.33
    wellbeing = DEFINITION.subscales[1]
    assert scoring.band_for(wellbeing, scores["wellbeing"]) == LOW_WELLBEING
    assert scoring.concerns(DEFINITION, scores) == [LOW_WELLBEING]


def test_band_bounds_are_inclusive_and_a_score_between_bands_has_none():
    wellbeing = DEFINITION.subscales[1]
    assert scoring.band_for(wellbeing, 2.0) == LOW_WELLBEING
    assert scoring.band_for(wellbeing, 2.01) is None
    assert scoring.band_for(wellbeing, 4.0) == GOOD
    assert scoring.band_for(wellbeing, None) is None


def test_a_good_score_raises_no_concern():
    scores = scoring.subscale_scores(DEFINITION, {"w1": 5, "w2": 4, "w3": 1})
    assert scoring.concerns(DEFINITION, scores) == []


def test_answer_problems_name_each_item_and_what_is_wrong():
    problems = scoring.answer_problems(DEFINITION, {
        "a": 7, "b": "often", "c": None, "d": 3, "w1": 1, "w2": 2, "w3": 3,
        "role": "surgeon", "open": "x" * 2001, "ghost": 1,
    })
    assert problems == {
        "a": scoring.OUT_OF_RANGE, "b": scoring.NOT_INTEGER, "c": scoring.REQUIRED, "role": scoring.UNKNOWN_CHOICE,
        "open": scoring.TOO_LONG, "ghost": scoring.UNKNOWN_ITEM,
    }


def test_a_complete_set_of_answers_has_no_problems():
    answers = {"a": 1, "b": 2, "c": 3, "d": 4, "w1": 5, "w2": "4", "w3": 3, "role": "nurse", "open": "Better."}
    assert scoring.answer_problems(DEFINITION, answers) == {}
    assert scoring.answer_problems(DEFINITION, {**answers, "role": "", "open": "  "}) == {}


def test_a_definition_survives_the_trip_to_plain_data_and_back():
    data = scoring.definition_to_dict(DEFINITION)
    again = scoring.definition_from_dict(data)
    assert scoring.definition_to_dict(again) == data
    assert again.subscales == DEFINITION.subscales
    assert again.item("w3").subscale == "wellbeing" and again.item("w3").reverse
    # JSON storage turns anchor keys into strings; reading them back gives integers again
    assert scoring.definition_from_dict(data).item("a").anchors == {1: EN_ZH, 5: EN_ZH}


scales = st.integers(min_value=-5, max_value=10).flatmap(
    lambda low: st.tuples(st.just(low), st.integers(min_value=low + 1, max_value=low + 20))
)


@given(scales, st.data())
def test_reversing_twice_gives_the_answer_back(scale, data):
    low, high = scale
    answer = data.draw(st.integers(min_value=low, max_value=high))
    once = scoring.item_score(likert("r", reverse=True, low=low, high=high), answer)
    assert scoring.item_score(likert("r", reverse=True, low=low, high=high), once) == answer


@given(scales, st.lists(st.one_of(st.none(), st.integers(min_value=-30, max_value=40)), min_size=4, max_size=4),
       st.lists(st.booleans(), min_size=4, max_size=4))
def test_item_and_subscale_scores_stay_within_the_scale(scale, answers, reversed_items):
    low, high = scale
    items = tuple(likert(f"i{n}", reverse=r, low=low, high=high) for n, r in enumerate(reversed_items))
    definition = Definition(code="t", version=1, title=EN_ZH, licence="l", source="s", items=items,
                            subscales=(Subscale(code="s", title=EN_ZH, items=tuple(i.code for i in items)),))
    given_answers = {f"i{n}": a for n, a in enumerate(answers)}
    for item in items:
        score = scoring.item_score(item, given_answers[item.code])
        assert score is None or low <= score <= high
    mean = scoring.subscale_scores(definition, given_answers)["s"]
    answered = sum(1 for a in answers if a is not None and low <= a <= high)
    assert (mean is None) == (answered < 2)
    assert mean is None or low <= mean <= high
