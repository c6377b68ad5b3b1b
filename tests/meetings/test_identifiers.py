"""The patient-identifier guard: what it refuses and what it lets through."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.meetings.identifiers import (
    BED,
    BIRTH_DATE,
    MOBILE,
    RECORD_NUMBER,
    RESIDENT_ID,
    find_identifiers,
    kinds_found,
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("患儿母亲身份证110105201503021234，情绪激动", RESIDENT_ID),
        ("ID 11010520150302123X was read out", RESIDENT_ID),
        ("家属电话13812345678多次来电", MOBILE),
        ("call her on 138 1234 5678 tonight", MOBILE),
        ("+86 139-1234-5678", MOBILE),
        ("病历号：20231234的孩子", RECORD_NUMBER),
        ("住院号 556677", RECORD_NUMBER),
        ("门诊号12345678", RECORD_NUMBER),
        ("MRN 445566 was mentioned", RECORD_NUMBER),
        ("12床的家长很焦虑", BED),
        ("3号床", BED),
        ("床号：15", BED),
        ("the parents at bed 12 were angry", BED),
        ("出生日期：2015-03-02", BIRTH_DATE),
        ("生日2015年3月2日", BIRTH_DATE),
        ("2015年3月2日出生的男孩", BIRTH_DATE),
        ("DOB 02/03/2015", BIRTH_DATE),
        ("born on 2015-03-02", BIRTH_DATE),
        ("病历号：２０２３１２３４", RECORD_NUMBER),  # full-width digits
    ],
)
def test_identifiers_are_found_and_named(text, kind):
    assert kind in kinds_found(text)


@pytest.mark.parametrize(
    "text",
    [
        "一位母亲在抢救室外对医生发火，小组讨论了无力感。",
        "The group explored the doctor's anger and the father's fear of losing his child.",
        "Meeting on 2026-10-08 lasted 60 minutes; 8 of 10 members came.",
        "讨论持续了45分钟，第3次推回后案例提供者回到圈内。",
        "Room 301, building 3",
        "床旁护理很辛苦",  # bedside care: no bed number
        "会谈在2026年10月8日进行",  # a meeting date, not a birth date
        "",
    ],
)
def test_ordinary_de_identified_text_passes(text):
    assert find_identifiers(text) == []


def test_each_finding_quotes_what_to_remove():
    (finding,) = find_identifiers("家属电话13812345678多次来电")
    assert finding.text == "13812345678"


def test_several_kinds_are_all_reported():
    assert kinds_found("12床，电话13812345678，住院号556677") == {BED, MOBILE, RECORD_NUMBER}


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=300))
def test_text_without_digits_is_never_refused(text):
    assert find_identifiers(text) == []


@given(
    before=st.text(alphabet="患儿家长医生护士情绪讨论 ,.。", max_size=30),
    after=st.text(alphabet="患儿家长医生护士情绪讨论 ,.。", max_size=30),
    number=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
)
def test_a_mobile_number_anywhere_in_prose_is_refused(before, after, number):
    assert MOBILE in kinds_found(before + number + after)
