"""Address text: postcodes, words, house numbers and the printed line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from townhall.domains.addresses.api import POSTCODE_PATTERN
from townhall.domains.addresses.text import (
    HouseNumber,
    PostcodePrefix,
    normalise_postcode,
    normalise_words,
    number_tokens,
    postcode_filter,
    single_line,
)

LETTER = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGIT = st.sampled_from("0123456789")


@st.composite
def postcodes(draw: st.DrawFn) -> str:
    """A canonical postcode of any of the six outward shapes."""
    shape = draw(st.sampled_from(["A9", "A99", "AA9", "AA99", "A9A", "AA9A"]))
    outward = "".join(draw(LETTER if char == "A" else DIGIT) for char in shape)
    inward = draw(DIGIT) + draw(LETTER) + draw(LETTER)
    return f"{outward} {inward}"


@st.composite
def written(draw: st.DrawFn, postcode: str) -> str:
    """The postcode as someone might type it: any case, with or without spaces."""
    chars = [char.lower() if draw(st.booleans()) else char for char in postcode.replace(" ", "")]
    spaced = "".join(char + (" " if draw(st.integers(0, 5)) == 0 else "") for char in chars)
    return draw(st.sampled_from(["", " ", "  "])) + spaced + draw(st.sampled_from(["", " "]))


@given(st.data())
def test_any_spelling_of_a_postcode_normalises_to_it(data: st.DataObject) -> None:
    postcode = data.draw(postcodes())
    assert normalise_postcode(data.draw(written(postcode))) == postcode


@given(postcodes())
def test_normalising_is_idempotent(postcode: str) -> None:
    once = normalise_postcode(postcode)
    assert once is not None
    assert normalise_postcode(once) == once


@given(postcodes())
def test_a_whole_postcode_filters_to_itself(postcode: str) -> None:
    [prefix] = postcode_filter(postcode.replace(" ", "").lower()) or []
    assert prefix.is_full
    assert prefix.matches(postcode)


@pytest.mark.parametrize(
    "text", ["", "E8", "12 MARE ST", "E8 1AAA", "8E 1AA", "E8 AAA", "ABC1 1AA"]
)
def test_what_is_no_postcode(text: str) -> None:
    assert normalise_postcode(text) is None


def test_partial_postcodes() -> None:
    assert postcode_filter("e8") == [PostcodePrefix("E8", "")]
    assert postcode_filter("E8 1") == [PostcodePrefix("E8", "1")]
    assert postcode_filter(" e8  1a ") == [PostcodePrefix("E8", "1A")]
    assert postcode_filter("e81aa") == [PostcodePrefix("E8", "1AA")]
    # "E81" is the outward code E81 or sector 1 of E8: both.
    assert postcode_filter("E81") == [PostcodePrefix("E81", ""), PostcodePrefix("E8", "1")]
    assert postcode_filter("mare") is None
    assert postcode_filter("E8 1AAB") is None


def test_an_outward_code_never_matches_a_longer_one() -> None:
    [e1] = postcode_filter("E1") or []
    assert e1.matches("E1 6AN")
    assert not e1.matches("E10 5AA")
    low, high = e1.bounds()
    assert low <= "E1 6AN" < high
    assert not low <= "E10 5AA" < high


@given(st.from_regex(POSTCODE_PATTERN, fullmatch=True))
def test_every_postcode_the_api_accepts_is_read(text: str) -> None:
    assert postcode_filter(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("12 Mare St", ["12", "MARE", "STREET"]),
        ("St John's Rd", ["SAINT", "JOHNS", "ROAD"]),
        ("12 St John's Rd", ["12", "SAINT", "JOHNS", "ROAD"]),
        ("Hilltop Ho, St Marks Ave", ["HILLTOP", "HOUSE", "SAINT", "MARKS", "AVENUE"]),
        ("Flt 3, Albion Gdns", ["FLAT", "3", "ALBION", "GARDENS"]),
        ("Mare St London", ["MARE", "STREET", "LONDON"]),
        ("Cedar Ct.", ["CEDAR", "COURT"]),
        ("Smith & Sons", ["SMITH", "AND", "SONS"]),
        ("E8 1AA", ["E8", "1AA"]),
        ("12a-14 High St", ["12A-14", "HIGH", "STREET"]),
    ],
)
def test_words_are_normalised(text: str, words: list[str]) -> None:
    assert normalise_words(text) == words


def test_house_numbers() -> None:
    assert number_tokens("12 Mare Street") == [HouseNumber(12)]
    assert number_tokens("12A Mare Street") == [HouseNumber(12, "A")]
    assert number_tokens("12-14 Mare Street") == [HouseNumber(12, None, 14)]
    assert number_tokens("3/12 Mare Street") == [HouseNumber(3), HouseNumber(12)]
    assert number_tokens("Flat 3, 12 Mare Street") == [HouseNumber(3), HouseNumber(12)]
    assert HouseNumber(12, None, 14).covers(13)
    assert not HouseNumber(12).covers(21)


def test_the_single_line_address() -> None:
    assert (
        single_line(
            sao_start_number=3,
            pao_text="Hilltop House",
            pao_start_number=12,
            street="Mare Street",
            town="LONDON",
            postcode="e81aa",
            classification_code="RD06",
        )
        == "FLAT 3, HILLTOP HOUSE, 12 MARE STREET, LONDON, E8 1AA"
    )
    assert (
        single_line(
            pao_start_number=16,
            pao_end_number=18,
            organisation="Hilltop Bakery",
            street="Mare Street",
            locality="Hackney",
            town="LONDON",
            postcode="E8 1AB",
            classification_code="CR08",
        )
        == "HILLTOP BAKERY, 16-18 MARE STREET, HACKNEY, LONDON, E8 1AB"
    )
    assert (
        single_line(sao_start_number=2, street="Mare Street", classification_code="CO01")
        == "UNIT 2, MARE STREET"
    )
    assert single_line(
        sao_text="Ground Floor Flat", pao_start_number=7, pao_start_suffix="A", street="Elm Road"
    ) == ("GROUND FLOOR FLAT, 7A ELM ROAD")
