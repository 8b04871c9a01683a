"""The match weight chart: bars that add up, that go the way their weights do, and safe text."""

from __future__ import annotations

import math

import pytest

from townhall.domains.people.linkage.results import Comparison, ScoredPair
from townhall.portal.match_weight_chart import (
    MINUS,
    Tone,
    draw_match_weight_chart,
    nice_step,
    percent,
    signed,
)
from townhall.portal.templating import build_templates
from townhall.settings import Settings

FIRST = Comparison("first_name", "First name", "Ann", "Anne", "Within one character", 3.25)
LAST = Comparison("last_name", "Last name", "Smith", "Smith", "Exact match", 6.5)
BORN = Comparison("date_of_birth", "Date of birth", "1980-02-01", "1981-03-04", "Different", -4.75)
EMAIL = Comparison("email", "Email address", None, "ann@example.org", "Missing", 0.0)
PAIR = ScoredPair(
    left=1,
    right=2,
    match_weight=-8.0 + 3.25 + 6.5 - 4.75 + 0.0,
    match_probability=0.2,
    comparisons=(FIRST, LAST, BORN, EMAIL),
    prior_weight=-8.0,
)


def test_the_bars_add_up_to_the_match_weight() -> None:
    chart = draw_match_weight_chart(PAIR, title="Evidence")

    prior, *fields, total = chart.steps
    assert prior.tone == Tone.PRIOR
    assert (prior.start, prior.end) == (0.0, -8.0)
    # Each field's bar starts where the one before it ended, and moves by its weight.
    running = prior.end
    for step, comparison in zip(fields, PAIR.comparisons, strict=True):
        assert step.start == running
        assert step.end == pytest.approx(running + comparison.weight)
        running = step.end
    assert total.tone == Tone.TOTAL
    assert (total.start, total.end) == (0.0, pytest.approx(running))
    assert total.end == pytest.approx(PAIR.match_weight)


def test_a_final_weight_beyond_the_fields_gets_a_bar_of_its_own() -> None:
    # Splink's term frequency adjustments move the weight beyond the fields' own.
    pair = PAIR._replace(match_weight=PAIR.match_weight + 1.5)
    steps = draw_match_weight_chart(pair, title="Evidence").steps

    other = steps[-2]
    assert other.label == "Other adjustments"
    assert other.weight == pytest.approx(1.5)
    assert other.end == pytest.approx(pair.match_weight)
    assert steps[-1].end == pair.match_weight


def test_negative_weights_go_down_and_positive_ones_up() -> None:
    chart = draw_match_weight_chart(PAIR, title="Evidence")
    by_label = {bar.step.label: bar for bar in chart.bars}

    against, for_ = by_label["Date of birth"], by_label["Last name"]
    assert against.step.tone == Tone.AGAINST
    # Left is against: the bar's running total ends at its left edge.
    assert against.end_x == against.x
    assert against.step.signed == f"{MINUS}4.75"
    assert for_.step.tone == Tone.FOR
    assert for_.end_x == pytest.approx(for_.x + for_.width)
    assert for_.step.signed == "+6.50"
    # The prior is negative here: its bar lies left of zero.
    prior = chart.bars[0]
    assert prior.x + prior.width == pytest.approx(chart.zero_x)


def test_a_missing_field_is_a_step_of_nothing() -> None:
    chart = draw_match_weight_chart(PAIR, title="Evidence")
    email = next(bar for bar in chart.bars if bar.step.label == "Email address")

    assert email.step.tone == Tone.NONE
    assert email.step.weight == 0.0
    assert email.step.start == email.step.end
    assert email.step.signed == "0.00"
    assert email.step.words == "no evidence"


def test_the_axis_covers_every_running_total_and_zero() -> None:
    chart = draw_match_weight_chart(PAIR, title="Evidence")
    xs = [tick.x for tick in chart.ticks]

    assert min(xs) <= chart.zero_x <= max(xs)
    for bar in chart.bars:
        assert min(xs) <= bar.x
        assert bar.x + bar.width <= max(xs) + 2.0  # a hairline may be 2 wide


@pytest.mark.parametrize(
    ("weight", "text"), [(3.254, "+3.25"), (-0.5, f"{MINUS}0.50"), (0.001, "0.00"), (0.0, "0.00")]
)
def test_weights_are_printed_with_their_sign(weight: float, text: str) -> None:
    assert signed(weight) == text


@pytest.mark.parametrize(
    ("probability", "text"),
    [(0.5, "50.0%"), (0.99973, "99.97%"), (0.9999996, "99.99996%"), (1.0, "100%"), (0.0, "0%")],
)
def test_a_probability_short_of_certain_never_shows_as_100(probability: float, text: str) -> None:
    assert percent(probability) == text


@pytest.mark.parametrize(("span", "step"), [(4, 1), (9, 2), (23, 5), (60, 20), (0.7, 0.2)])
def test_axis_steps_are_round(span: float, step: float) -> None:
    assert math.isclose(nice_step(span), step)


def test_the_chart_and_its_table_escape_what_the_records_say() -> None:
    hostile = Comparison(
        "last_name", "Last <name>", "<script>x()</script>", "O'Neill & Co", "Ok", 1.0
    )
    pair = PAIR._replace(comparisons=(hostile,), match_weight=-7.0)
    chart = draw_match_weight_chart(pair, title="Evidence for <b>record</b>")
    templates = build_templates(Settings(environment="test"))

    html = templates.get_template("people/_match_weight_chart.html").render(
        chart=chart, left_heading="This record", right_heading="The resident's record"
    )

    assert "<script>" not in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "O&#39;Neill &amp; Co" in html
    assert "Last &lt;name&gt;" in html
    assert "Evidence for &lt;b&gt;record&lt;/b&gt;" in html
    # The description says it all in words, signs included.
    assert f"Prior (any two records): {MINUS}8.00 (starting point)" in chart.description
    assert "a match probability of 20.0%" in chart.description
