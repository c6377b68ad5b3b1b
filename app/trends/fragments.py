"""Rendered cells of the group trends page's subscale tables, remembered by what they show.

Each table row of a shown round × subscale ends in five cells: n, mean, SD, 95 % CI and Cronbach's alpha with its
Feldt interval (or why alpha is not shown). Drawn by Jinja macros they cost about a third of the page's rendering
(two macro calls and six formatted numbers per cell; 50 cells on the first view at hospital scale, 200 on the full
history), although a closed round's cells never change. Here they are drawn in Python and remembered.

The cache here is keyed by the cell's *content*, not by the round: the key holds every value the HTML is made of
(n, mean, SD, CI, alpha and its interval, why alpha is not computable or hidden), the reader's
language, k (the hidden reasons' sentences name it) and FRAGMENT_VERSION (the markup's version, raised when it
changes). Every value has already passed app.disclosure's decisions for this request — the cache never decides
what is published, it only skips formatting a figure it has formatted before — so it needs no invalidation:
a figure that changes (a round repaired by hand, another k, another source, a round's sums recomputed) is a
different key, and a figure hidden now is never looked up. Translations change only with a deployment, which
restarts the process. The cache lives in the process (bounded, FRAGMENT_CACHE_SIZE entries, cleared whole when
full): a Redis round trip per cell would cost more than formatting it.
"""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.i18n import format_2dp

#: Raised whenever the markup below changes (part of every key, so no stale HTML outlives a code change).
FRAGMENT_VERSION = 1
#: At most this many cells are remembered per process; the whole cache is dropped when it is full.
FRAGMENT_CACHE_SIZE = 10_000

_cache: dict[tuple, Markup] = {}
stats = {"hits": 0, "misses": 0}


def clear() -> None:
    """Forget every remembered cell (tests)."""
    _cache.clear()
    stats["hits"] = stats["misses"] = 0


def _number(value: float | None) -> Markup:
    return escape(format_2dp(value))


def _alpha_reason_text(why: str | None) -> str:
    if why == "one_item":
        return _("Not computable: the subscale has one question.")
    if why == "no_variation":
        return _("Not computable: every response has the same total.")
    if why == "too_few_scores":
        return _("Not computable: fewer than two responses.")
    if why == "unequal":
        return _("Not computable: the questions were not all answered by the same responses.")
    return "—"


def _alpha_html(a, hidden_reason: str | None, hidden_text: str) -> str:
    """The alpha cell, as templates/trends/_reliability.html's `alpha_cell` draws it."""
    if hidden_reason:
        return (f'<td class="text-muted small trend-alpha trend-hidden" data-reason="{escape(hidden_reason)}">'
                f"{escape(hidden_text)}</td>")
    if a is None or a.alpha is None:
        why = a.reason if a else ""
        return (f'<td class="text-muted small trend-alpha" data-alpha-reason="{escape(why)}">'
                f"{escape(_alpha_reason_text(why))}</td>")
    if a.flagged:
        badge = f' <span class="badge text-bg-warning">{escape(_("below 0.7"))}</span>'
        return (f'<td class="trend-alpha text-danger" data-alpha="{escape(a.alpha)}" data-flagged="1">'
                f"{_number(a.alpha)} ({_number(a.low)} – {_number(a.high)}){badge}</td>")
    return (f'<td class="trend-alpha" data-alpha="{escape(a.alpha)}">'
            f"{_number(a.alpha)} ({_number(a.low)} – {_number(a.high)})</td>")


def figure_cells(point, reasons: dict[str, str], k: int) -> Markup:
    """The n, mean, SD, CI and alpha cells of a shown subscale point (group_queries.SubscalePoint).

    `reasons` are the hidden reasons' sentences for this k and language (feedback.templating.reason_labels).
    """
    a = point.alpha
    # The values by their repr: 0.0 and -0.0 (printed "-0.00") are equal keys of a dict, and NaN is no key at all.
    shown = (point.n, point.mean, point.sd, point.ci_low, point.ci_high, point.alpha_reason,
             None if a is None else (a.alpha, a.low, a.high, a.reason))
    key = (FRAGMENT_VERSION, str(get_locale()), k, repr(shown))
    html = _cache.get(key)
    if html is not None:
        stats["hits"] += 1
        return html
    stats["misses"] += 1
    hidden_text = reasons[point.alpha_reason] if point.alpha_reason else ""
    html = Markup(
        f"<td>{escape(point.n)}</td>\n"
        f'        <td class="trend-mean">{_number(point.mean)}</td>\n'
        f"        <td>{_number(point.sd)}</td>\n"
        f"        <td>{_number(point.ci_low)} – {_number(point.ci_high)}</td>\n"
        f"        {_alpha_html(a, point.alpha_reason, hidden_text)}"
    )
    if len(_cache) >= FRAGMENT_CACHE_SIZE:
        _cache.clear()
    _cache[key] = html
    return html
