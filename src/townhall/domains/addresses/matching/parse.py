"""Reading a messy address: its postcode, its flat and house numbers, and its words.

This module owns turning "flat 3 12 mare st hackney e81aa" into a ``ParsedAddress``: the
postcode (given, or found in the text), the numbers in order with those marked as flat numbers
("Flat 3", "3/12", "Apartment 3"), and the remaining words, normalised the way search reads them
(``townhall.domains.addresses.text``). It does not decide which number is the house: that
depends on the candidate (a flat in a named block has only a flat number), so ``score`` does it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from townhall.domains.addresses.text import (
    HouseNumber,
    normalise_postcode,
    normalise_words,
    parse_number_token,
)

# Words that say the next number is a flat's (BS7666 secondary addressable object).
UNIT_WORDS = frozenset({"FLAT", "APARTMENT", "UNIT", "ROOM", "STUDIO", "MAISONETTE", "SUITE"})
# Words that make a following "Flat" a description ("Ground Floor Flat, 2"), not a flat number's.
FLOOR_WORDS = frozenset(
    {"GROUND", "FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "TOP", "BASEMENT", "FLOOR", "LOWER"}
    | {"UPPER"}
)
# Words that say nothing about which address it is.
NOISE_WORDS = frozenset({"THE", "AND", "OF", "NO", "NUMBER", "UK", "ENGLAND", "AT"})
# Floors as people abbreviate them ("Grd Floor Flat", "1st Floor"), read as the gazetteer
# spells them.
FLOOR_SPELLINGS = {
    "GRD": "GROUND",
    "GRND": "GROUND",
    "1ST": "FIRST",
    "2ND": "SECOND",
    "3RD": "THIRD",
    "4TH": "FOURTH",
    "5TH": "FIFTH",
}

# A postcode anywhere in the text, spaced or not; the last one wins (it is written at the end).
_POSTCODE_IN_TEXT = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\b")


@dataclass(frozen=True, slots=True)
class NumberMention:
    """A number in the text, and whether a flat word ("Flat", "Apt") or a slash marked it."""

    number: HouseNumber
    flat: bool


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """A messy address read into parts: postcode, numbers in order, and the other words."""

    text: str
    postcode: str | None
    postcode_from_text: bool
    numbers: tuple[NumberMention, ...]
    words: tuple[str, ...]
    unit_word: bool

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to match on."""
        return not self.words and not self.numbers and self.postcode is None


def parse_address(text: str, postcode: str | None = None) -> ParsedAddress:
    """Read a messy address; ``postcode`` is the caller's, else the last postcode in the text."""
    upper = text.upper()
    given = normalise_postcode(postcode) if postcode else None
    found: str | None = None
    matches = list(_POSTCODE_IN_TEXT.finditer(upper))
    if matches:
        last = matches[-1]
        found = normalise_postcode(last.group(1) + last.group(2))
        if found is not None:
            # The postcode's characters are not words or numbers of the address.
            upper = upper[: last.start()] + " " + upper[last.end() :]
    numbers: list[NumberMention] = []
    words: list[str] = []
    unit_word = False
    previous_unit: bool | str = False
    previous_word = ""
    for word in _words_by_part(upper):
        if word == ",":
            previous_unit, previous_word = False, ""
            continue
        parsed = parse_number_token(word)
        if parsed:
            if len(parsed) == 2 and "/" in word:
                numbers.append(NumberMention(parsed[0], flat=True))
                numbers.append(NumberMention(parsed[1], flat=False))
            else:
                numbers.extend(NumberMention(item, flat=bool(previous_unit)) for item in parsed)
            previous_unit = False
            continue
        if word in UNIT_WORDS:
            unit_word = True
            previous_unit = previous_word not in FLOOR_WORDS
            previous_word = word
            continue
        previous_unit = False
        previous_word = word
        if word in NOISE_WORDS:
            continue
        words.append(word)
    return ParsedAddress(
        text=text,
        postcode=given or found,
        postcode_from_text=given is None and found is not None,
        numbers=tuple(numbers),
        words=tuple(words),
        unit_word=unit_word,
    )


def _words_by_part(text: str) -> list[str]:
    """The normalised words with "," between the comma-separated parts of the text."""
    words: list[str] = []
    for part in text.split(","):
        if words:
            words.append(",")
        words.extend(FLOOR_SPELLINGS.get(word, word) for word in normalise_words(part))
    return words
