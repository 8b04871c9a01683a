"""The slips that make one person's records disagree, and the ways addresses get written."""

from __future__ import annotations

import random
from datetime import date

import pytest

from townhall.demo.address_text import ADDRESS_STYLES, PostalAddress, format_address
from townhall.demo.errors_in_records import (
    misspell,
    mistype_postcode,
    nickname,
    swap_day_and_month,
)


def test_a_nickname_is_a_familiar_form_of_the_name() -> None:
    rng = random.Random(1)

    assert nickname("William", rng) in {"Bill", "Will", "Billy"}
    assert nickname("Zebedee", rng) is None


@pytest.mark.parametrize("seed", range(50))
def test_a_misspelling_is_one_slip_away_and_keeps_the_first_letter(seed: int) -> None:
    rng = random.Random(seed)

    slipped = misspell("Richardson", rng)

    assert slipped != "Richardson"
    assert slipped[0] == "R"
    assert len(slipped) in {9, 10}


def test_a_name_too_short_to_mistype_is_left_alone() -> None:
    assert misspell("Al", random.Random(1)) == "Al"


def test_day_and_month_swap_only_when_that_is_another_date() -> None:
    assert swap_day_and_month(date(1980, 3, 7)) == date(1980, 7, 3)
    assert swap_day_and_month(date(1980, 3, 25)) is None
    assert swap_day_and_month(date(1980, 4, 4)) is None


@pytest.mark.parametrize("seed", range(20))
def test_a_mistyped_postcode_differs_from_the_real_one(seed: int) -> None:
    assert mistype_postcode("N16 0BS", random.Random(seed)) != "N16 0BS"


def test_one_address_is_written_differently_in_each_style() -> None:
    address = PostalAddress(
        sao="Flat 3",
        building=None,
        number="12",
        street="Mortimer Road",
        locality="Dalston",
        town="LONDON",
        postcode="N1 4LA",
    )
    rng = random.Random(3)

    written = {style: format_address(address, style, rng) for style in ADDRESS_STYLES}

    assert len(set(written.values())) == len(ADDRESS_STYLES)
    assert written["formal_with_postcode"].startswith("Flat 3, 12 Mortimer Road, ")
    assert written["formal_with_postcode"].endswith("London, N1 4LA")
    assert written["number_first"] == "12 MORTIMER RD FLAT 3"
    assert written["slash"] == "3/12 Mortimer Road, London"
    assert written["upper_short"] == "FLAT 3 12 MORTIMER RD LONDON"
