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
    ("dob", "postcode"),  # misspelt or swapped names, a postcode with no UK outward code
    ("surname", "postcode"),  # misspelt first name, no date of birth
    ("uprn", "first_name_full"),  # same home, misspelt surname, no date of birth
    # An identifier alone, unless many records share it (frame.SHARED_LIMIT).
    ("email_block",),
    ("nino_block",),
    ("phone_block",),
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
# does not use its columns, so between them the passes estimate every comparison.
# The date alone (not with the postcode's outward code) so a council whose records hold few
# UK postcodes still trains.
# Not a pass on one home: there EM takes relatives (another first name, same home) for one
# person and the first name's "Different" fell from -8.5 to -3.7 bits on the borough (ADR 33).
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

# The null levels' labels: a null level carries no weight either way.
MISSING = "Missing from either"
MISSING_OR_SAME_HOME = "Missing from either, or counted with the UPRN (the same home)"

# A Splink prior before training: replaced by the deterministic rules' estimate.
_UNTRAINED_PRIOR = 1e-4


def _block(rule: tuple[str, ...]) -> Any:
    from splink import block_on  # noqa: PLC0415

    return block_on(*rule)


def comparisons() -> list[Any]:
    """The comparisons, most telling level first in each."""
    import splink.comparison_level_library as cll  # noqa: PLC0415
    import splink.comparison_library as cl  # noqa: PLC0415

    def missing(column: str) -> Any:
        return cll.NullLevel(column).configure(label_for_charts=MISSING)

    def missing_or_same_home(column: str) -> Any:
        # Weight 0 (a null level): at one home the household shares the postcode and often
        # the phone, so counting them again after the UPRN would link relatives as one person.
        return cll.CustomLevel(
            f"{column}_l IS NULL OR {column}_r IS NULL OR uprn_l = uprn_r",
            label_for_charts=MISSING_OR_SAME_HOME,
        ).configure(is_null_level=True)

    def one_slip(column: str) -> Any:
        return cll.DamerauLevenshteinLevel(column, 1).configure(
            label_for_charts="One character different or two swapped"
        )

    def swapped(column: str, other: str, label: str) -> Any:
        # Given name and family name entered the wrong way round, or with a typo as well.
        return cll.CustomLevel(
            f"jaro_winkler_similarity({column}_l, {other}_r) >= 0.92 "
            f"AND jaro_winkler_similarity({other}_l, {column}_r) >= 0.92",
            label_for_charts=label,
        )

    return [
        cl.CustomComparison(
            output_column_name="first_name",
            comparison_description="First name",
            comparison_levels=[
                missing("first_name"),
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
                cll.CustomLevel(
                    "(length(first_name_l) = 1 OR length(first_name_r) = 1) "
                    "AND substr(first_name_l, 1, 1) = substr(first_name_r, 1, 1)",
                    label_for_charts="An initial of the other",
                ),
                cll.JaroWinklerLevel("first_name", 0.8).configure(
                    label_for_charts="Similar (Jaro-Winkler 0.8)"
                ),
                swapped("first_name", "surname", "Swapped with the surname"),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="surname",
            comparison_description="Surname",
            comparison_levels=[
                missing("surname"),
                cll.ExactMatchLevel("surname", term_frequency_adjustments=True).configure(
                    label_for_charts="Exact match"
                ),
                cll.JaroWinklerLevel("surname", 0.92).configure(
                    label_for_charts="Nearly the same (Jaro-Winkler 0.92)"
                ),
                cll.JaroWinklerLevel("surname", 0.8).configure(
                    label_for_charts="Similar (Jaro-Winkler 0.8)"
                ),
                swapped("surname", "first_name", "Swapped with the first name"),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="dob",
            comparison_description="Date of birth",
            comparison_levels=[
                missing("dob"),
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
                missing_or_same_home("postcode"),
                cll.ExactMatchLevel("postcode").configure(label_for_charts="Exact match"),
                one_slip("postcode"),
                cll.CustomLevel(
                    "postcode_outward_l = postcode_outward_r",
                    label_for_charts="Same outward code (district)",
                ),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="uprn",
            comparison_description="UPRN",
            comparison_levels=[
                missing("uprn"),
                cll.ExactMatchLevel("uprn").configure(label_for_charts="Exact match"),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="email",
            comparison_description="Email",
            comparison_levels=[
                missing("email"),
                cll.ExactMatchLevel("email").configure(label_for_charts="Exact match"),
                cll.CustomLevel(
                    "split_part(email_l, '@', 1) = split_part(email_r, '@', 1)",
                    label_for_charts="Same name before the @",
                ),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="phone",
            comparison_description="Phone",
            comparison_levels=[
                missing_or_same_home("phone"),
                cll.ExactMatchLevel("phone").configure(label_for_charts="Exact match"),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
        cl.CustomComparison(
            output_column_name="nino",
            comparison_description="National Insurance number",
            comparison_levels=[
                missing("nino"),
                cll.ExactMatchLevel("nino").configure(label_for_charts="Exact match"),
                one_slip("nino"),
                cll.ElseLevel().configure(label_for_charts="Different"),
            ],
        ),
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
