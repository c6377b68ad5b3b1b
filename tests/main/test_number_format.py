"""format_2dp prints what Babel's format_decimal prints, in both languages, for any number."""

from flask_babel import force_locale, format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from app.i18n import format_2dp


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
                 st.decimals(min_value=-100, max_value=100, places=3).map(float)))
def test_two_decimals_as_babel_formats_them(app, value):
    with app.test_request_context():
        for locale in ("en", "zh_CN"):
            with force_locale(locale):
                assert format_2dp(value) == format_decimal(value, format="#,##0.00")


def test_nothing_is_a_dash(app):
    with app.test_request_context():
        assert format_2dp(None) == "—"
