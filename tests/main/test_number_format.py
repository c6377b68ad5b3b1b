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


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                 st.decimals(min_value=-2, max_value=2, places=3).map(float)))
def test_percentages_as_babel_formats_them(app, value):
    from flask_babel import format_percent

    from app.i18n import format_pct

    with app.test_request_context():
        for locale in ("en", "zh_CN"):
            with force_locale(locale):
                assert format_pct(value) == format_percent(value)


@settings(max_examples=200, deadline=None)
@given(st.dates(), st.sampled_from(["short", "medium", "long", "full"]))
def test_the_date_filter_prints_what_flask_babel_prints(app, day, width):
    from flask_babel import format_date

    from app.i18n import dateformat_filter

    with app.test_request_context():
        for locale in ("en", "zh_CN"):
            with force_locale(locale):
                assert dateformat_filter(day, width) == format_date(day, width)
