"""An id typed into a query string: only ASCII digits within an id column's range are read as one, so a
character str.isdigit calls a digit ("³", "٣") or a number beyond the column is a message, never a 500."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pagination import MAX_ID, parse_id


@pytest.mark.parametrize("text, expected", [
    ("3", 3), (" 42 ", 42), (str(MAX_ID), MAX_ID),
    ("0", None), ("-1", None), ("+3", None), ("1.5", None), ("", None), (None, None), ("abc", None),
    ("³", None), ("٣", None), ("１", None), (str(MAX_ID + 1), None),
])
def test_only_ascii_digits_within_an_id_column_are_an_id(text, expected):
    assert parse_id(text) == expected


@given(st.text(max_size=12))
def test_any_text_is_an_id_or_none_never_an_error(text):
    value = parse_id(text)
    assert value is None or (0 < value <= MAX_ID and str(value) == text.strip().lstrip("0"))


@pytest.mark.parametrize("path, message", [
    ("/board?organisation=%C2%B3", "That organisation is not one you can see"),
    ("/trends?organisation=%C2%B3", "That organisation is not one you can see"),
])
def test_a_superscript_digit_in_a_page_filter_is_a_message(client, auth, db, coordinator, path, message):
    auth.login(coordinator)
    response = client.get(path)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("group", ["%C2%B3", "99999999999"])
def test_an_export_for_an_unreadable_group_is_refused_with_a_message(client, auth, db, coordinator, group):
    auth.login(coordinator)
    response = client.get(f"/exports/aggregates.csv?group={group}", follow_redirects=True)
    assert response.status_code < 500
    assert "Choose a group from the list." in response.get_data(as_text=True)
