"""Classification codes and their descriptions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import townhall.demo.properties
from townhall.domains.addresses.classifications import (
    describe,
    is_known_prefix,
    primary_description,
)


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("RD04", "Terraced"),
        ("rd06", "Self Contained Flat (Includes Maisonette / Apartment)"),
        ("PP", "Property Shell"),
        ("CR08", "Shop / Showroom"),
        ("ZW99CH", "Church"),
        ("R", "Residential"),
    ],
)
def test_known_codes_are_described(code: str, description: str) -> None:
    assert describe(code) == description


@pytest.mark.parametrize("code", ["", None, "RD99", "QQ", "R D04"])
def test_unknown_codes_give_none(code: str | None) -> None:
    assert describe(code) is None


def test_every_code_the_demo_borough_uses_is_described() -> None:
    source = Path(townhall.demo.properties.__file__).read_text()
    codes = set(re.findall(r'"([A-Z]{2}[0-9]{2}(?:[A-Z]{2})?|PP)"', source))
    assert codes  # the pattern still finds the generator's codes
    assert {code for code in codes if describe(code) is None} == set()


def test_the_primary_class() -> None:
    assert primary_description("RD04") == "Residential"
    assert primary_description("CR08") == "Commercial"


def test_prefixes() -> None:
    assert is_known_prefix("RD")
    assert is_known_prefix("rd04")
    assert not is_known_prefix("Q")
    assert not is_known_prefix("")
