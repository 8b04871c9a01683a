"""The council's real postcodes, from the ONS Postcode Directory package."""

from __future__ import annotations

import re

import pytest

from townhall.demo.exceptions import UnknownCouncil
from townhall.demo.postcodes import council_postcodes, normalise_postcode

STANDARD_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$")


@pytest.mark.parametrize(
    ("raw", "standard"),
    [("N1  3GN", "N1 3GN"), ("n13gn", "N1 3GN"), ("EC2A4NE", "EC2A 4NE"), (" E8 1DY ", "E8 1DY")],
)
def test_postcodes_are_written_the_standard_way(raw: str, standard: str) -> None:
    assert normalise_postcode(raw) == standard


def test_hackney_has_its_real_postcodes_with_coordinates() -> None:
    postcodes = council_postcodes("E09000012")

    assert len(postcodes) == 7032
    assert all(STANDARD_POSTCODE.match(point.postcode) for point in postcodes)
    assert {point.postcode.split()[0] for point in postcodes} >= {"E5", "E8", "E9", "N1", "N16"}
    assert all(
        525_000 < point.easting < 540_000 and 178_000 < point.northing < 192_000
        for point in postcodes
    )


def test_a_lower_case_code_finds_the_council() -> None:
    assert council_postcodes("e09000012") == council_postcodes("E09000012")


@pytest.mark.parametrize("code", ["E99999999", "Hackney", "", "   "])
def test_an_unknown_or_empty_council_is_refused_clearly(code: str) -> None:
    with pytest.raises(UnknownCouncil, match="E09000012"):
        council_postcodes(code)
