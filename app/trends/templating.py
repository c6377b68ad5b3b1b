"""What the trends feature gives templates (registered in app/templating.py): a quarter's name, the board's
statuses and reasons."""

from __future__ import annotations

import functools
import re

from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from app.i18n import format_2dp, format_pct
from app.trends import rules


def quarter_label(key: str) -> str:
    """A quarter key ("2026-Q1" or "2026 Q1") in the reader's language."""
    return _quarter_label(str(key), str(get_locale()))


@functools.lru_cache(maxsize=4096)
def _quarter_label(key: str, locale: str) -> str:
    """Remembered per key and language (a group's trends list every quarter of its history; the translations are
    loaded once per process)."""
    match = re.fullmatch(r"(\d{4})[- ]Q([1-4])", key)
    if not match:
        return key
    return _("%(year)s Q%(quarter)s", year=match.group(1), quarter=match.group(2))


def status_label(status: str) -> str:
    """A status in the reader's language."""
    return {rules.RED: _("Red"), rules.AMBER: _("Amber"), rules.GREEN: _("Green")}.get(status, status)


def reason_text(finding: rules.Finding) -> str:
    """The reason a rule raised, in the reader's language, with its figures."""
    d = finding.detail
    if finding.rule == rules.DECLINE_SLOPE:
        return _("%(subscale)s has been falling over rounds %(first)s–%(last)s (%(before)s → %(after)s; "
                 "%(slope)s points a round, 95%% CI %(low)s to %(high)s).",
                 subscale=d["subscale"], first=d["first_round"], last=d["last_round"],
                 before=format_2dp(d["first_mean"]), after=format_2dp(d["last_mean"]), slope=format_2dp(d["slope"]),
                 low=format_2dp(d["low"]), high=format_2dp(d["high"]))
    if finding.rule == rules.DECLINE_CHANGE:
        return _("%(subscale)s fell from %(before)s in round %(first)s to %(after)s in round %(last)s "
                 "(Hedges' g %(g)s, 95%% CI %(low)s to %(high)s).",
                 subscale=d["subscale"], first=d["first_round"], last=d["last_round"],
                 before=format_2dp(d["first_mean"]), after=format_2dp(d["last_mean"]), g=format_2dp(d["g"]),
                 low=format_2dp(d["low"]), high=format_2dp(d["high"]))
    if finding.rule == rules.CONCERN:
        return _("%(subscale)s: %(count)s of %(n)s responses in round %(round)s lie in a concern band (%(share)s).",
                 subscale=d["subscale"], count=d["in_band"], n=d["n"], round=d["round"],
                 share=format_pct(d["share"]))
    if finding.rule == rules.LOW_PARTICIPATION:
        return _("Round %(round)s had %(responses)s responses from %(eligible)s eligible members (%(rate)s).",
                 round=d["round"], responses=d["responses"], eligible=d["eligible"], rate=format_pct(d["rate"]))
    if finding.rule == rules.NO_MEETING:
        if d["never"]:
            return _("No meeting held since the group was created %(days)s days ago.", days=d["days"])
        return _("No meeting held for %(days)s days.", days=d["days"])
    if finding.rule == rules.NO_ELIGIBLE_LEAD:
        return ngettext("%(num)d scheduled meeting has no eligible lead; the first is in %(days)s days.",
                        "%(num)d scheduled meetings have no eligible lead; the first is in %(days)s days.",
                        d["count"], days=d["soonest"])
    return finding.rule
