"""Pure trend statistics: the change between two rounds as a difference of means and Hedges' g with its CI; and
the programme board's named rules, each giving a group red, amber or green for one reason."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

from app.feedback.stats import is_noise_sd, linear_trend

CONFIDENCE = 0.95

# Why a change has no effect size (Effect.reason); the pages print a sentence for each.
TOO_FEW = "too_few"  # a round has fewer than two scores: no SD
NO_VARIATION = "no_variation"  # every score in both rounds is the same: the standardised change is undefined


@dataclass(frozen=True)
class Effect:
    """Hedges' g with its 95% CI, or None for all three and the `reason` (TOO_FEW, NO_VARIATION)."""

    g: float | None
    low: float | None
    high: float | None
    reason: str | None = None

    @property
    def computable(self) -> bool:
        return self.g is not None


def mean_difference(m1: float, m2: float) -> float:
    """The change from the first mean to the second (second minus first)."""
    return m2 - m1


def pooled_sd(n1: int, s1: float, n2: int, s2: float) -> float | None:
    """The pooled sample SD of two independent samples; None when either has fewer than two values."""
    if n1 < 2 or n2 < 2:
        return None
    return math.sqrt(((n1 - 1) * s1 * s1 + (n2 - 1) * s2 * s2) / (n1 + n2 - 2))


def effect_size(n1: int | None, m1: float | None, s1: float | None,
                n2: int | None, m2: float | None, s2: float | None) -> Effect:
    """Hedges' g for the change from sample 1 to sample 2 (independent samples) with its 95% CI.

    g = J · (m2 − m1) / s_pooled with the small-sample correction J = 1 − 3 / (4(n1 + n2) − 9); its
    large-sample variance is (n1 + n2) / (n1 · n2) + g² / (2(n1 + n2)), and the CI is g ± z · √variance
    with z the normal 97.5% quantile.

    No effect size (g, low and high None) when either round has fewer than two values or lacks its n,
    mean or SD, as a hidden cell does (reason TOO_FEW), or when neither round varies (reason
    NO_VARIATION): an SD that is zero up to floating-point noise (`app.feedback.stats.is_noise_sd`)
    counts as 0, so identical scores never turn into a g of millions. One round without spread beside
    one with spread still has a g. Raises nothing.
    """
    if None in (n1, m1, s1, n2, m2, s2) or n1 < 2 or n2 < 2:
        return Effect(None, None, None, TOO_FEW)
    s1 = 0.0 if is_noise_sd(n1, m1, s1) else s1
    s2 = 0.0 if is_noise_sd(n2, m2, s2) else s2
    if s1 == 0.0 and s2 == 0.0:
        return Effect(None, None, None, NO_VARIATION)
    sp = pooled_sd(n1, s1, n2, s2)
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    g = j * (m2 - m1) / sp
    variance = (n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2))
    half = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2) * math.sqrt(variance)
    return Effect(g, g - half, g + half)


def hedges_g(n1: int, m1: float, s1: float, n2: int, m2: float, s2: float) -> tuple[float, float, float] | None:
    """(g, ci_low, ci_high) as `effect_size` computes it, or None when it has none (see its reason there)."""
    effect = effect_size(n1, m1, s1, n2, m2, s2)
    if effect.g is None:
        return None
    return effect.g, effect.low, effect.high


# --- the programme board (red / amber / green) ------------------------------------------------------------

GREEN, AMBER, RED = "green", "amber", "red"
STATUSES = (GREEN, AMBER, RED)  # from best to worst

# The board's named rules (Finding.rule); the pages print a sentence for each.
DECLINE_SLOPE = "decline_slope"  # a subscale's means fall over the last rounds: slope's 95% CI below 0
DECLINE_CHANGE = "decline_change"  # the latest round against the group's first shown: Hedges' g, CI below 0
CONCERN = "concern"  # a high share of the latest round's responses in a concern band
LOW_PARTICIPATION = "participation"  # few of the eligible members answered the latest closed round
NO_MEETING = "no_meeting"  # no meeting held for many days
NO_ELIGIBLE_LEAD = "no_eligible_lead"  # scheduled meetings ahead without an eligible lead
RULES = (DECLINE_SLOPE, DECLINE_CHANGE, CONCERN, LOW_PARTICIPATION, NO_MEETING, NO_ELIGIBLE_LEAD)


@dataclass(frozen=True)
class Thresholds:
    """The board's amber and red thresholds (config BOARD_*; README "Programme board")."""

    decline_rounds: int = 5
    decline_slope_red: float = 0.2
    decline_g_amber: float = -0.5
    decline_g_red: float = -0.8
    concern_amber: float = 0.25
    concern_red: float = 0.5
    participation_amber: float = 0.5
    participation_red: float = 0.3
    days_amber: int = 45
    days_red: int = 90
    lead_days_amber: int = 60
    lead_days_red: int = 14

    @classmethod
    def from_config(cls, config: Mapping) -> Thresholds:
        """The thresholds from a config mapping (BOARD_DECLINE_ROUNDS, ...); missing keys keep the defaults.

        Raises ValueError when a red threshold is milder than its amber one, or fewer than 3 rounds are asked.
        """
        names = {f: f"BOARD_{f.upper()}" for f in cls.__dataclass_fields__}
        thresholds = cls(**{f: config[key] for f, key in names.items() if key in config})
        thresholds.check()
        return thresholds

    def check(self) -> None:
        """Raises ValueError for thresholds that contradict each other."""
        if self.decline_rounds < 3:
            raise ValueError("BOARD_DECLINE_ROUNDS must be at least 3 (a slope needs a CI)")
        if not (self.decline_g_red <= self.decline_g_amber < 0):
            raise ValueError("BOARD_DECLINE_G_RED <= BOARD_DECLINE_G_AMBER < 0 is required")
        if not (0 < self.concern_amber <= self.concern_red <= 1):
            raise ValueError("0 < BOARD_CONCERN_AMBER <= BOARD_CONCERN_RED <= 1 is required")
        if not (0 <= self.participation_red <= self.participation_amber <= 1):
            raise ValueError("0 <= BOARD_PARTICIPATION_RED <= BOARD_PARTICIPATION_AMBER <= 1 is required")
        if not (0 < self.days_amber <= self.days_red):
            raise ValueError("0 < BOARD_DAYS_AMBER <= BOARD_DAYS_RED is required")
        if not (0 <= self.lead_days_red <= self.lead_days_amber):
            raise ValueError("0 <= BOARD_LEAD_DAYS_RED <= BOARD_LEAD_DAYS_AMBER is required")
        if self.decline_slope_red < 0:
            raise ValueError("BOARD_DECLINE_SLOPE_RED is a fall in points per round, 0 or more")


@dataclass(frozen=True)
class Finding:
    """What one rule says of one group: its status and the figures the reason shows (`detail`)."""

    rule: str
    status: str
    detail: dict = field(default_factory=dict)

    @property
    def raised(self) -> bool:
        """Whether the rule gives amber or red."""
        return self.status != GREEN


def worst(statuses: Iterable[str]) -> str:
    """The worst of the statuses (green when there are none)."""
    return max(statuses, key=STATUSES.index, default=GREEN)


@dataclass(frozen=True)
class Slope:
    """A least-squares slope (points per round) with its 95% CI from the t distribution with n − 2 df."""

    slope: float
    low: float
    high: float
    n: int


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> Slope | None:
    """The ordinary least-squares slope of ys on xs with its 95% CI; None for fewer than three points or xs
    that are all the same (no slope, or no df left for its error). Points on a line give a CI of width 0."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    n = len(xs)
    if n < 3 or len(set(xs)) < 2:
        return None
    # One score per point: the same line and interval as the attendance bands' (feedback.stats.linear_trend),
    # without loading scipy.stats into every worker.
    fit = linear_trend([(float(x), (1, float(y), float(y) * float(y))) for x, y in zip(xs, ys, strict=True)])
    return Slope(fit.slope, fit.low, fit.high, n)


def decline_by_slope(points: Sequence[tuple[int, float]], t: Thresholds) -> Finding:
    """Sustained decline of a subscale: the least-squares slope of its shown means over rounds.

    `points` are (round number, mean) of the group's last `t.decline_rounds` closed rounds that show the
    subscale, oldest first. Amber when the slope's 95% CI lies wholly below 0; red when, in addition, the
    slope falls `t.decline_slope_red` points a round or more. Green with fewer than three points.
    """
    points = list(points)[-t.decline_rounds:]
    fit = least_squares_slope([x for x, _ in points], [y for _, y in points])
    if fit is None:
        return Finding(DECLINE_SLOPE, GREEN, {"rounds": len(points)})
    detail = {"slope": fit.slope, "low": fit.low, "high": fit.high, "rounds": fit.n,
              "first_round": points[0][0], "last_round": points[-1][0],
              "first_mean": points[0][1], "last_mean": points[-1][1]}
    if fit.high >= 0:
        return Finding(DECLINE_SLOPE, GREEN, detail)
    # A fall of exactly the threshold (0.2 a round, say) is red, whatever the float noise of the fit.
    steep = fit.slope <= -t.decline_slope_red + 1e-12
    return Finding(DECLINE_SLOPE, RED if steep else AMBER, detail)


def decline_by_change(first: tuple[int, int, float, float], latest: tuple[int, int, float, float],
                      t: Thresholds) -> Finding:
    """Decline from the group's first shown round to its latest: Hedges' g (independent samples) and its CI.

    `first` and `latest` are (round number, n, mean, SD) of published cells. Amber when g is at or below
    `t.decline_g_amber` and its 95% CI lies below 0; red when g is at or below `t.decline_g_red` too. Green
    when the rounds are the same, or g cannot be computed (effect_size gives its reason).
    """
    if first[0] >= latest[0]:
        return Finding(DECLINE_CHANGE, GREEN, {})
    effect = effect_size(first[1], first[2], first[3], latest[1], latest[2], latest[3])
    detail = {"first_round": first[0], "last_round": latest[0], "first_mean": first[2], "last_mean": latest[2],
              "g": effect.g, "low": effect.low, "high": effect.high}
    if not effect.computable or effect.high >= 0 or effect.g > t.decline_g_amber:
        return Finding(DECLINE_CHANGE, GREEN, detail)
    return Finding(DECLINE_CHANGE, RED if effect.g <= t.decline_g_red else AMBER, detail)


def concern_share(in_band: int, n: int, t: Thresholds) -> Finding:
    """A high share of a round's scored responses in a concern band of the subscale.

    Amber when in_band / n is `t.concern_amber` or more, red at `t.concern_red` or more; green for no responses.
    The caller passes only counts that the anonymity rules publish.
    """
    if n <= 0:
        return Finding(CONCERN, GREEN, {})
    share = in_band / n
    detail = {"in_band": in_band, "n": n, "share": share}
    if share >= t.concern_red:
        return Finding(CONCERN, RED, detail)
    return Finding(CONCERN, AMBER if share >= t.concern_amber else GREEN, detail)


def low_participation(responses: int, eligible: int, t: Thresholds) -> Finding:
    """Responses over eligible members of the latest closed round: amber below `t.participation_amber`, red
    below `t.participation_red`; green when nobody was eligible."""
    if eligible <= 0:
        return Finding(LOW_PARTICIPATION, GREEN, {})
    rate = responses / eligible
    detail = {"responses": responses, "eligible": eligible, "rate": rate}
    if rate < t.participation_red:
        return Finding(LOW_PARTICIPATION, RED, detail)
    return Finding(LOW_PARTICIPATION, AMBER if rate < t.participation_amber else GREEN, detail)


def days_without_meeting(days: int, never: bool, t: Thresholds) -> Finding:
    """Days since the last held meeting (`never`: since the group was created, none held): amber at
    `t.days_amber` days or more, red at `t.days_red` or more."""
    detail = {"days": days, "never": never}
    if days >= t.days_red:
        return Finding(NO_MEETING, RED, detail)
    return Finding(NO_MEETING, AMBER if days >= t.days_amber else GREEN, detail)


def meetings_without_eligible_lead(days_ahead: Iterable[int], t: Thresholds) -> Finding:
    """Scheduled meetings that have no eligible lead, by how many days ahead each starts (0: today).

    Red when one starts within `t.lead_days_red` days, amber when one starts within `t.lead_days_amber` days;
    meetings further ahead are left for later.
    """
    within = sorted(d for d in days_ahead if 0 <= d <= t.lead_days_amber)
    if not within:
        return Finding(NO_ELIGIBLE_LEAD, GREEN, {})
    detail = {"count": len(within), "soonest": within[0]}
    return Finding(NO_ELIGIBLE_LEAD, RED if within[0] <= t.lead_days_red else AMBER, detail)
