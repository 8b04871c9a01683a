"""The linkage model's shape: what it compares, how, and which pairs it looks at.

This module owns the Splink settings of the people model (ADR 33): a deduplication model over
every source system at once (the same person is in one system twice too), the comparisons of
``frame.FRAME_COLUMNS`` field by field, the blocking rules that choose which pairs are
compared at all, and the rules training uses. Splink is imported inside the functions: it takes
seconds to import and the API never needs it.

Blocking rules are kept here as plain tuples of frame columns so that the same rule serves
Splink (``block_on``) and the SQL that finds one record's candidates (``scoring``).
"""

from __future__ import annotations

from typing import Any

# Each rule pairs records equal on every one of its columns. Together they find almost every
# true pair while keeping each block small: a common name alone or a date of birth alone would
# pair millions of strangers in a large borough.
PREDICTION_RULES: tuple[tuple[str, ...], ...] = (
    ("first_name_full", "surname"),  # moved home, date missing or mistyped
    ("dob", "surname"),  # nickname or misspelt first name
    ("dob", "first_name_full"),  # changed surname
    ("dob", "postcode_outward"),  # misspelt names, same area
    ("surname", "postcode"),  # misspelt first name, no date of birth
    ("uprn", "first_name_full"),  # same home, misspelt surname, no date of birth
    ("email",),
    ("nino",),
    ("phone",),
)

# Pairs almost certainly the same person: how training estimates how likely two records drawn
# at random are one person (with the share of true pairs these rules are thought to find).
DETERMINISTIC_RULES: tuple[tuple[str, ...], ...] = (
    ("nino",),
    ("first_name_full", "surname", "dob"),
    ("email", "surname"),
)
DETERMINISTIC_RECALL = 0.7

# Expectation maximisation runs once per rule; a comparison is estimated in each pass whose rule
# does not use its columns, so between them the two passes estimate every comparison.
# The date alone (not with the postcode's outward code) so a council whose records hold few
# UK postcodes still trains.
TRAINING_RULES: tuple[tuple[str, ...], ...] = (
    ("first_name_full", "surname"),
    ("dob",),
)

# How each comparison is named to a person (the review page, the evidence API).
LABELS: dict[str, str] = {
    "first_name": "First name",
    "surname": "Surname",
    "dob": "Date of birth",
    "postcode": "Postcode",
    "uprn": "UPRN",
    "email": "Email",
    "phone": "Phone",
    "nino": "National Insurance number",
}
# The frame column whose value each comparison shows as its left and right.
SHOWN: dict[str, str] = {name: name for name in LABELS}

# A Splink prior before training: replaced by the deterministic rules' estimate.
_UNTRAINED_PRIOR = 1e-4


def _block(rule: tuple[str, ...]) -> Any:
    from splink import block_on  # noqa: PLC0415

    return block_on(*rule)


def comparisons() -> list[Any]:
    """The comparisons, most telling level first in each."""
    import splink.comparison_level_library as cll  # noqa: PLC0415
    import splink.comparison_library as cl  # noqa: PLC0415

    def exact_or_missing(column: str, label: str) -> Any:
        return cl.CustomComparison(
            output_column_name=column,
            comparison_description=label,
            comparison_levels=[
                cll.NullLevel(column).configure(label_for_charts="Missing from either"),
                cll.ExactMatchLevel(column).configure(label_for_charts="Exact match"),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        )

    return [
        cl.CustomComparison(
            output_column_name="first_name",
            comparison_description="First name",
            comparison_levels=[
                cll.NullLevel("first_name").configure(label_for_charts="Missing from either"),
                cll.ExactMatchLevel("first_name", term_frequency_adjustments=True).configure(
                    label_for_charts="Exact match"
                ),
                cll.CustomLevel(
                    "first_name_full_l = first_name_full_r",
                    label_for_charts="The same name in full (a nickname)",
                ),
                cll.JaroWinklerLevel("first_name", 0.92).configure(
                    label_for_charts="Nearly the same (Jaro-Winkler 0.92)"
                ),
                cll.JaroWinklerLevel("first_name", 0.8).configure(
                    label_for_charts="Similar (Jaro-Winkler 0.8)"
                ),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="surname",
            comparison_description="Surname",
            comparison_levels=[
                cll.NullLevel("surname").configure(label_for_charts="Missing from either"),
                cll.ExactMatchLevel("surname", term_frequency_adjustments=True).configure(
                    label_for_charts="Exact match"
                ),
                cll.JaroWinklerLevel("surname", 0.92).configure(
                    label_for_charts="Nearly the same (Jaro-Winkler 0.92)"
                ),
                cll.JaroWinklerLevel("surname", 0.8).configure(
                    label_for_charts="Similar (Jaro-Winkler 0.8)"
                ),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="dob",
            comparison_description="Date of birth",
            comparison_levels=[
                cll.NullLevel("dob").configure(label_for_charts="Missing from either"),
                cll.ExactMatchLevel("dob").configure(label_for_charts="Exact match"),
                cll.CustomLevel(
                    "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) "
                    "AND substr(dob_l, 6, 2) = substr(dob_r, 9, 2) "
                    "AND substr(dob_l, 9, 2) = substr(dob_r, 6, 2)",
                    label_for_charts="Day and month swapped",
                ),
                cll.DamerauLevenshteinLevel("dob", 1).configure(
                    label_for_charts="One digit different or two swapped"
                ),
                cll.CustomLevel(
                    "substr(dob_l, 1, 4) = substr(dob_r, 1, 4)",
                    label_for_charts="Same year",
                ),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="postcode",
            comparison_description="Postcode",
            comparison_levels=[
                cll.NullLevel("postcode").configure(label_for_charts="Missing from either"),
                cll.ExactMatchLevel("postcode").configure(label_for_charts="Exact match"),
                cll.CustomLevel(
                    "postcode_outward_l = postcode_outward_r",
                    label_for_charts="Same outward code (district)",
                ),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        exact_or_missing("uprn", "UPRN"),
        cl.CustomComparison(
            output_column_name="email",
            comparison_description="Email",
            comparison_levels=[
                cll.NullLevel("email").configure(label_for_charts="Missing from either"),
                cll.ExactMatchLevel("email").configure(label_for_charts="Exact match"),
                cll.CustomLevel(
                    "split_part(email_l, '@', 1) = split_part(email_r, '@', 1)",
                    label_for_charts="Same name before the @",
                ),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        exact_or_missing("phone", "Phone"),
        exact_or_missing("nino", "National Insurance number"),
    ]


def settings() -> Any:
    """An untrained model's Splink settings (``SettingsCreator``)."""
    from splink import SettingsCreator  # noqa: PLC0415

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[_block(rule) for rule in PREDICTION_RULES],
        probability_two_random_records_match=_UNTRAINED_PRIOR,
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source_system"],
    )


def blocking(rules: tuple[tuple[str, ...], ...]) -> list[Any]:
    """Splink blocking rules for ``rules``."""
    return [_block(rule) for rule in rules]
