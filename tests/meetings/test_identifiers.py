"""The patient-identifier guard: what it refuses and what it lets through, however the identifier is written."""

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.meetings.identifiers import (
    BED,
    BIRTH_DATE,
    MOBILE,
    RECORD_NUMBER,
    RESIDENT_ID,
    Finding,
    find_identifiers,
    id_check_character,
    kinds_found,
)
from app.meetings.services import identifier_message
from tests.meetings.identifier_corpus import PASS, REFUSE

FULL_WIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _alnum(text: str) -> str:
    """The letters and digits of a quote, as plain ASCII upper case."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if c.isalnum()).upper()


# --- the corpus, as a table ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "kinds"), [pytest.param(text, kinds, id=f"refuse-{n:02d}") for n, (text, kinds) in enumerate(REFUSE, 1)]
)
def test_a_sentence_holding_identifiers_is_refused_naming_each_kind(text, kinds):
    findings = find_identifiers(text)
    assert {f.kind for f in findings} == kinds
    assert all(f.text and f.text in text for f in findings)  # quoted as typed


@pytest.mark.parametrize("text", [pytest.param(text, id=f"pass-{n:02d}") for n, text in enumerate(PASS, 1)])
def test_an_ordinary_sentence_passes(text):
    assert find_identifiers(text) == []


def test_the_corpus_has_sixty_sentences_each_way_in_both_languages_and_every_kind():
    assert len(REFUSE) >= 60 and len(PASS) >= 60
    assert sum(_has_chinese(t) for t, _ in REFUSE) >= 25 and sum(not _has_chinese(t) for t, _ in REFUSE) >= 25
    assert sum(_has_chinese(t) for t in PASS) >= 25 and sum(not _has_chinese(t) for t in PASS) >= 25
    assert set().union(*(kinds for _, kinds in REFUSE)) == {RESIDENT_ID, MOBILE, RECORD_NUMBER, BED, BIRTH_DATE}
    assert len({t for t, _ in REFUSE} | set(PASS)) == len(REFUSE) + len(PASS)  # no sentence twice


# --- what a finding says ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "quote"),
    [
        ("身份证号码：１１０１０１－１９９００３０７－１２３３，已核对", "１１０１０１－１９９００３０７－１２３３"),
        ("改期原因：家属138\u200b1234\u200b5678要求改时间", "138\u200b1234\u200b5678"),
        ("手机一三八一二三四五六七八，晚上打", "一三八一二三四五六七八"),
        ("请打 +86 139-1234-5678", "+86 139-1234-5678"),
        ("住院号：ZY12345的患儿", "住院号：ZY12345"),
        ("the parents at Bed-12 were angry", "Bed-12"),
        ("孩子２０１９年５月１日出生", "２０１９年５月１日出生"),
    ],
)
def test_a_finding_quotes_the_original_text_not_the_normalised_one(text, quote):
    (finding,) = find_identifiers(text)
    assert finding.text == quote


def test_findings_come_in_the_order_they_appear_without_repeats():
    text = "12床的妈妈，电话13812345678；12床的爸爸，住院号556677"
    assert find_identifiers(text) == [
        Finding(BED, "12床"), Finding(MOBILE, "13812345678"), Finding(RECORD_NUMBER, "住院号556677"),
    ]


def test_a_labelled_number_is_reported_as_a_record_number_not_as_a_mobile():
    assert find_identifiers("住院号13812345678") == [Finding(RECORD_NUMBER, "住院号13812345678")]


def test_nothing_and_empty_text_hold_no_identifier():
    assert find_identifiers(None) == [] and find_identifiers("") == [] and kinds_found(None) == set()


def test_the_message_names_what_to_remove_and_quotes_it_as_typed(app):
    with app.test_request_context():
        message = identifier_message("住院号：ZY12345，家属电话１３８ １２３４ ５６７８")
    assert "a medical record, admission or outpatient number (“住院号：ZY12345”)" in message
    assert "a mobile number (“１３８ １２３４ ５６７８”)" in message


# --- resident ID numbers: the check digit, the birth date, the grouping --------------------------

@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("transaction 110101199003071233 refunded", True),  # right check digit
        ("transaction 110101199003071234 refunded", False),  # wrong check digit, written solid
        ("transaction 110101 19900307 1234 refunded", True),  # wrong check digit, grouped as an ID is
        ("transaction 1101 0119 9003 0712 34 refunded", False),  # wrong check digit, grouped otherwise
        ("transaction 1101 0119 9003 0712 33 refunded", True),  # right check digit, any grouping
        ("transaction 1101011990030712331 refunded", False),  # 19 digits: part of a longer number
        ("身份证110101199003071234", True),  # wrong check digit after a label: still an ID number
    ],
)
def test_an_eighteen_digit_number_is_an_id_by_its_check_digit_its_grouping_or_its_label(text, refused):
    assert (RESIDENT_ID in kinds_found(text)) is refused


def test_an_id_shaped_number_with_an_impossible_birth_date_passes():
    first17 = "11010119900230123"  # 30 February
    assert find_identifiers(f"transaction {first17}{id_check_character(first17)}") == []


def test_the_check_character_is_iso_7064_mod_11_2():
    assert id_check_character("11010119900307123") == "3"
    assert id_check_character("11010520150302123") == "8"
    assert id_check_character("11010519491231002") == "X"  # the example of GB 11643-1999


# --- mobiles ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text", ["订单1381234567890", "138123456789", "1381234567", "12812345678", "order 0138 1234 5678 9"]
)
def test_eleven_digits_inside_a_longer_number_or_with_a_wrong_prefix_are_no_mobile(text):
    assert MOBILE not in kinds_found(text)


# --- properties ----------------------------------------------------------------------------------

ID_WORDS = ["患儿母亲身份证", "身份证号码为", "证件号", "ID", "ID card", "the mother's", "家属", "was read out",
            "已核对", "abc", "号码是", "note", "未带", "情绪激动"]
MOBILE_WORDS = ["家属电话", "手机", "call", "mobile", "father on", "请联系", "tel", "微信同号", "晚上打",
                "tonight", "多次来电", "was given", "abc"]
GLUES = ["", " ", "：", ": ", "\u3000"]
ID_SEPARATORS = ["", "", "", "", " ", "-", ".", "/", " - ", "\u3000", "－", "—", "  "]
MOBILE_SEPARATORS = [" ", "-", ".", " - ", "  ", "\u3000", "·", "–", "／"]


@st.composite
def resident_ids(draw):
    """A valid resident ID (random region, birth date and sequence, with its check character)."""
    region = draw(st.integers(100000, 999999))
    born = draw(st.dates(date(1900, 1, 1), date(2099, 12, 31)))
    first17 = f"{region}{born.year:04d}{born.month:02d}{born.day:02d}{draw(st.integers(0, 999)):03d}"
    return first17 + id_check_character(first17)


@st.composite
def written(draw, chars: str, separators: list[str]) -> str:
    """The characters with random separators between them, some full-width, some x in lower case."""
    out = []
    for i, ch in enumerate(chars):
        if i:
            out.append(draw(st.sampled_from(separators)))
        if ch == "X" and draw(st.booleans()):
            ch = "x"
        out.append(ch.translate(FULL_WIDTH) if draw(st.booleans()) else ch)
    return "".join(out)


@settings(max_examples=200)
@given(data=st.data(), number=resident_ids())
def test_a_valid_resident_id_is_found_however_it_is_written(data, number):
    draw = data.draw
    text = (draw(st.sampled_from(ID_WORDS)) + draw(st.sampled_from(GLUES)) + draw(written(number, ID_SEPARATORS))
            + draw(st.sampled_from(GLUES)) + draw(st.sampled_from(ID_WORDS)))
    ids = [f for f in find_identifiers(text) if f.kind == RESIDENT_ID]
    assert len(ids) == 1 and _alnum(ids[0].text) == number


@st.composite
def mobiles(draw):
    """A mainland mobile number, in groups of two or more digits, digit by digit, or solid."""
    number = "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    style = draw(st.sampled_from(["solid", "groups", "groups", "digits"]))
    if style == "solid":
        parts = [number]
    elif style == "digits":
        parts = list(number)
    else:
        cuts = sorted(draw(st.sets(st.integers(2, 9), min_size=1, max_size=4).filter(
            lambda s: all(b - a >= 2 for a, b in zip(sorted(s), sorted(s)[1:], strict=False)))))
        parts = [number[a:b] for a, b in zip([0, *cuts], [*cuts, 11], strict=True)]
    parts = [p.translate(FULL_WIDTH) if draw(st.booleans()) else p for p in parts]
    body = parts[0] + "".join(draw(st.sampled_from(MOBILE_SEPARATORS)) + p for p in parts[1:])
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "86 ", "0086", "0086-", "(+86)", "+86-", "＋８６ "]))
    if style == "digits" and prefix and prefix[-1].isdigit():
        prefix += " "  # "861 3 8 ..." is not how anyone writes it
    return number, prefix + body


@settings(max_examples=200)
@given(data=st.data(), mobile=mobiles())
def test_a_mobile_is_found_with_any_grouping_and_prefix(data, mobile):
    number, writing = mobile
    draw = data.draw
    text = (draw(st.sampled_from(MOBILE_WORDS)) + draw(st.sampled_from(GLUES)) + writing
            + draw(st.sampled_from(GLUES)) + draw(st.sampled_from(MOBILE_WORDS)))
    found = [f for f in find_identifiers(text) if f.kind == MOBILE]
    assert len(found) == 1 and _alnum(found[0].text).endswith(number)


CLINICAL_WORDS = [
    "患儿", "家长很焦虑", "医生感到无力", "the mother was angry", "night shift", "bedside teaching", "bed rest",
    "PICU", "NICU", "儿科三病区", "抢救室外", "the group stayed silent", "护士长", "病房", "会诊", "case presentation",
    "Balint group", "第三次推回", "the presenter cried", "出院", "住院", "门诊", "床旁护理", "two beds were free",
    "一床难求", "讨论了无力感", "the father's fear", "会议延期", "rescheduled", "cancelled because of the audit",
]
_n = st.integers(1, 99)
_day = st.dates(date(2020, 1, 1), date(2030, 12, 31))
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PHRASES = st.one_of(
    st.sampled_from(CLINICAL_WORDS),
    _n.map("{}岁".format),
    _n.map("aged {}".format),
    _n.map("{} mg".format),
    st.integers(1, 6).map("{}次/日".format),
    st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}"),
    _n.map("术后{}天".format),
    st.tuples(_n, _n).map(lambda t: f"{min(t)}-{max(t)} minutes"),
    st.tuples(_n, _n).map(lambda t: f"{min(t)}-{max(t)} 次"),
    st.tuples(_n, _n).map(lambda t: f"{t[0]}岁{t[1] % 12}个月"),
    _day.map(lambda d: f"会议改到{d:%Y-%m-%d}"),
    _day.map(lambda d: f"seen on {d:%Y-%m-%d}"),
    _day.map(lambda d: f"{d.year}年{d.month}月{d.day}日开会"),
    _day.map(lambda d: f"{d.day} {_MONTHS[d.month - 1]} {d.year}"),
    _day.map(lambda d: f"{d:%Y/%m/%d}"),
    _day.map(lambda d: f"{d:%Y.%m.%d} 会议纪要"),
    _day.map(lambda d: f"{d.year}年"),
    _n.map("{}%".format),
    _n.map("{}名患儿".format),
    _n.map("{} children".format),
    _n.map("{}张床".format),
    _n.map("{} beds".format),
    _n.map("第{}次会议".format),
    st.integers(100, 999).map("会议室 {}".format),
    st.tuples(st.integers(1, 9), st.integers(100, 999)).map(lambda t: f"Room {t[0]}-{t[1]}"),
    st.integers(1000, 9999).map("ext. {}".format),
    st.integers(1000, 9999).map("分机 {}".format),
    st.sampled_from(["120 急救", "报警电话110", "体温38.5℃", "血压120/80 mmHg", "SpO2 92%"]),
)


@settings(max_examples=200)
@given(st.lists(PHRASES, min_size=1, max_size=8), st.lists(st.sampled_from(["，", "。", "; ", ", ", "；"]), min_size=8,
                                                           max_size=8))
def test_ordinary_sentences_of_clinical_words_numbers_and_meeting_dates_are_never_refused(phrases, joiners):
    text = phrases[0] + "".join(j + p for j, p in zip(joiners, phrases[1:], strict=False))
    assert find_identifiers(text) == []


def _digit_free(ch: str) -> bool:
    return unicodedata.numeric(ch, None) is None and all(
        unicodedata.numeric(c, None) is None for c in unicodedata.normalize("NFKC", ch)
    )


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd", "No", "Nl", "Cs")).filter(_digit_free), max_size=300))
def test_text_without_anything_that_reads_as_a_digit_is_never_refused(text):
    assert find_identifiers(text) == []


@settings(max_examples=200)
@given(
    before=st.text(alphabet="患儿家长医生护士情绪讨论 ,.。", max_size=30),
    after=st.text(alphabet="患儿家长医生护士情绪讨论 ,.。", max_size=30),
    number=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
)
def test_a_mobile_number_anywhere_in_prose_is_refused(before, after, number):
    assert MOBILE in kinds_found(before + number + after)
