"""The match weight chart: how a pair's score was built, field by field, as a waterfall.

This module owns the chart on a review item's evidence page (after Splink's waterfall chart):
the prior (how likely any two records are one person) is the first bar, each field's partial
match weight is a bar up or down from the running total, and the last bar is the match weight,
with the probability it means. Bars run across (right is for a match, left against), so
the fields' names read as text. Weights are in bits (log2 of a Bayes factor), so they add.

``draw_match_weight_chart`` returns plain numbers and words; the template partial
``people/_match_weight_chart.html`` turns them into a table (the primary content: the same
numbers, readable by everyone) and an inline SVG beside it for looking (no script, no style
attribute: the portal's Content Security Policy allows neither). Colour is never the only
signal: every bar is labelled with its signed weight, and a word says which way it points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from townhall.domains.people.linkage.results import Comparison, ScoredPair

# The drawing's own units (CSS pixels at its natural size); it scales to the page's width.
WIDTH = 720.0
ROW_HEIGHT = 30.0
BAR_HEIGHT = 18.0
TOP = 16.0
# Below the rows: the axis, its numbers and its caption.
AXIS_ROOM = 52.0
# The field names on the left and each bar's signed weight on the right.
LABEL_WIDTH = 190.0
VALUE_WIDTH = 76.0
PLOT_LEFT = LABEL_WIDTH + 10.0
PLOT_RIGHT = WIDTH - VALUE_WIDTH
# The least span of weights the axis covers, so a pair of small weights is not blown up.
MIN_SPAN = 4.0
# A final weight that differs from the prior plus the fields by more than this has a bar of
# its own ("other adjustments", such as Splink's term frequency adjustments), so bars add up.
_ROUNDING = 0.005
_NICE_STEPS = (1.0, 2.0, 5.0)
MINUS = "\N{MINUS SIGN}"


class Tone(StrEnum):
    """What a bar says, which picks its colour and its words."""

    PRIOR = "prior"  # the starting point
    FOR = "for"  # evidence that the two records are one person
    AGAINST = "against"
    NONE = "none"  # a field missing from either record: no evidence either way
    TOTAL = "total"  # the match weight


# GOV.UK Frontend's colours (blue, green, red, mid grey, dark blue).
TONE_COLOURS = {
    Tone.PRIOR: "#1d70b8",
    Tone.FOR: "#00703c",
    Tone.AGAINST: "#d4351c",
    Tone.NONE: "#b1b4b6",
    Tone.TOTAL: "#003078",
}
_TONE_WORDS = {
    Tone.PRIOR: "starting point",
    Tone.FOR: "for a match",
    Tone.AGAINST: "against a match",
    Tone.NONE: "no evidence",
    Tone.TOTAL: "match weight",
}


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: where the running total was, and where this step took it."""

    label: str
    tone: Tone
    weight: float  # the step's own weight (the total's is the whole match weight)
    start: float  # the running total before it (0 for the prior and the total)
    end: float  # after it
    # The field's comparison, for the table's other columns (None for prior, others, total).
    comparison: Comparison | None = None

    @property
    def signed(self) -> str:
        """The weight with its sign, as the chart and table print it: ``+3.20``, minus 1.50."""
        return signed(self.weight)

    @property
    def running(self) -> str:
        """The running total after the step, with its sign."""
        return signed(self.end)

    @property
    def words(self) -> str:
        """Which way the step points, in words."""
        return _TONE_WORDS[self.tone]

    @property
    def colour(self) -> str:
        """Its bar's fill."""
        return TONE_COLOURS[self.tone]


@dataclass(frozen=True)
class Bar:
    """A step as drawn: a rectangle, its label on the left, its signed weight beside it."""

    step: Step
    x: float
    y: float
    width: float
    height: float
    label_y: float
    value_x: float
    end_x: float  # the running total after the step, where the next bar starts
    # The dashed line to the next bar's start, at the running total (None for the last).
    link_y2: float | None


@dataclass(frozen=True)
class Tick:
    """A number on the weight axis."""

    x: float
    text: str


@dataclass(frozen=True)
class WeightChart:
    """Everything the partial draws, in the drawing's units, and its words."""

    steps: tuple[Step, ...]
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    zero_x: float
    axis_y: float
    width: float
    height: float
    match_weight: float
    match_probability: float
    title: str
    description: str

    @property
    def view_box(self) -> str:
        """The SVG's ``viewBox``."""
        return f"0 0 {self.width:g} {self.height:g}"

    @property
    def probability(self) -> str:
        """The match probability as a percentage."""
        return percent(self.match_probability)

    @property
    def weight_text(self) -> str:
        """The match weight with its sign."""
        return signed(self.match_weight)


def signed(weight: float) -> str:
    """A weight to two places with its sign; a true minus sign, read aloud as "minus"."""
    text = f"{abs(weight):.2f}"
    if text == "0.00":
        return text
    return ("+" if weight > 0 else MINUS) + text


def percent(probability: float) -> str:
    """A probability as a percentage, with enough places that only certainty shows as 100%.

    ``0.99973`` is "99.97%", not "100.0%": the review band is near the top, where rounding to
    one place would make every item look certain.
    """
    if probability <= 0.0 or probability >= 1.0:
        return f"{probability * 100:.0f}%"
    places = 1
    while places < 6:  # six places tell apart any probability short of certain
        shown = round(probability * 100, places)
        if 0.0 < shown < 100.0:
            break
        places += 1
    return f"{probability * 100:.{places}f}%"


def waterfall_steps(pair: ScoredPair) -> tuple[Step, ...]:
    """The prior, each field in the model's order, any remainder, then the match weight."""
    steps = [Step("Prior (any two records)", Tone.PRIOR, pair.prior_weight, 0.0, pair.prior_weight)]
    running = pair.prior_weight
    for comparison in pair.comparisons:
        weight = comparison.weight
        if weight > 0:
            tone = Tone.FOR
        elif weight < 0:
            tone = Tone.AGAINST
        else:
            tone = Tone.NONE
        steps.append(Step(comparison.label, tone, weight, running, running + weight, comparison))
        running += weight
    remainder = pair.match_weight - running
    if abs(remainder) > _ROUNDING:
        tone = Tone.FOR if remainder > 0 else Tone.AGAINST
        steps.append(Step("Other adjustments", tone, remainder, running, pair.match_weight))
    steps.append(Step("Match weight", Tone.TOTAL, pair.match_weight, 0.0, pair.match_weight))
    return tuple(steps)


def nice_step(span: float) -> float:
    """A round distance between axis numbers giving about five of them over ``span``."""
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in _NICE_STEPS:
        if step * magnitude >= raw:
            return float(step * magnitude)
    return float(10 * magnitude)


def _axis(steps: Sequence[Step]) -> tuple[float, float, float]:
    """The weights at the plot's left and right edges, and the distance between ticks."""
    values = [0.0, *(step.start for step in steps), *(step.end for step in steps)]
    low, high = min(values), max(values)
    if high - low < MIN_SPAN:
        middle = (high + low) / 2
        low, high = min(low, middle - MIN_SPAN / 2), max(high, middle + MIN_SPAN / 2)
    tick = nice_step(high - low)
    return math.floor(low / tick) * tick, math.ceil(high / tick) * tick, tick


def draw_match_weight_chart(pair: ScoredPair, *, title: str) -> WeightChart:
    """The waterfall of ``pair``'s match weight, named ``title`` (a short phrase)."""
    steps = waterfall_steps(pair)
    low, high, tick = _axis(steps)
    scale = (PLOT_RIGHT - PLOT_LEFT) / (high - low)

    def x_of(weight: float) -> float:
        return round(PLOT_LEFT + (weight - low) * scale, 2)

    bars: list[Bar] = []
    for index, step in enumerate(steps):
        y = TOP + index * ROW_HEIGHT
        left, right = sorted((x_of(step.start), x_of(step.end)))
        last = index == len(steps) - 1
        bars.append(
            Bar(
                step=step,
                x=left,
                y=y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                # A missing field's bar is a hairline at the running total, so its row shows.
                width=max(right - left, 2.0),
                height=BAR_HEIGHT,
                label_y=y + ROW_HEIGHT / 2,
                value_x=PLOT_RIGHT + 8,
                end_x=x_of(step.end),
                link_y2=None if last else y + ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            )
        )
    axis_y = TOP + len(steps) * ROW_HEIGHT + 4
    count = round((high - low) / tick)
    ticks = tuple(
        Tick(x_of(low + i * tick), signed(low + i * tick).replace(".00", ""))
        for i in range(count + 1)
    )
    return WeightChart(
        steps=steps,
        bars=tuple(bars),
        ticks=ticks,
        zero_x=x_of(0.0),
        axis_y=axis_y,
        width=WIDTH,
        height=axis_y + AXIS_ROOM,
        match_weight=pair.match_weight,
        match_probability=pair.match_probability,
        title=title,
        description=describe(steps, pair.match_probability),
    )


def describe(steps: Sequence[Step], probability: float) -> str:
    """The chart in words, for its ``<desc>``: the start, each step, the end."""
    parts = [
        f"{step.label}: {step.signed} ({step.words}), running total {step.running}"
        for step in steps[:-1]
    ]
    total = steps[-1]
    return (
        "Each bar moves the running total to the right for evidence for a match, to the left "
        "against. "
        + "; ".join(parts)
        + f". Match weight {total.signed}, a match probability of {percent(probability)}."
    )
