"""Scoring one candidate against a messy address: field comparisons, a calibrated score, a reason.

This module owns the comparison. Numbers are a gate: the flat and house numbers the text holds
must be exactly the candidate's ("12 Mare St" is never "Flat 12, 3 Mare St"). The other fields
(postcode, street, building name, flat description, locality) each give a feature; a logistic
model turns the features into the probability that the candidate is the address, with weights
fitted on the synthetic accuracy set (``bench/addresses_matching.py --fit``), so that a score of
0.9 means about nine in ten such answers are right. The reason says in words what agreed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from townhall.domains.addresses.matching.gazetteer import (
    BUILDING_TYPES,
    STREET_TYPES,
    GazetteerAddress,
)
from townhall.domains.addresses.matching.parse import ParsedAddress
from townhall.domains.addresses.text import HouseNumber

_CLOSE = 0.8  # a word at least this similar (rapidfuzz ratio) counts as the same word

FEATURES = (
    "bias",
    "postcode_same",
    "postcode_sector",
    "postcode_district",
    "postcode_other",
    "street",
    "building",
    "building_missing",
    "flat_words",
    "flat_words_missing",
    "locality",
    "unexplained",
    "numbers",
    "range_partial",
    "not_approved",
    "unit_mismatch",
    "all_agree",
    "least_coverage",
)
_FLAT_KINDS = frozenset({"FLOOR", "FLAT"})

# Fitted by bench/addresses_matching.py --fit on a training set generated with another seed than
# the one the benchmark reports on (ADR 19).
WEIGHTS: dict[str, float] = {
    "bias": -4.546,
    "postcode_same": 1.989,
    "postcode_sector": -1.981,
    "postcode_district": -1.742,
    "postcode_other": -5.576,
    "street": 0.702,
    "building": 2.625,
    "building_missing": -1.719,
    "flat_words": 2.256,
    "flat_words_missing": -2.998,
    "locality": 0.835,
    "unexplained": -12.288,
    "numbers": 2.403,
    "range_partial": -5.276,
    "not_approved": 1.714,
    "unit_mismatch": -6.251,
    "all_agree": 2.037,
    "least_coverage": 0.841,
}


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """How much of a gazetteer field the text holds (0 to 1) and with how many typos."""

    coverage: float
    typos: int
    present: bool


_ABSENT = FieldMatch(0.0, 0, present=False)


def match_field(
    field: Sequence[str],
    words: Sequence[str],
    joined: str,
    kinds: frozenset[str] = frozenset(),
) -> FieldMatch:
    """Compare one field's words with the messy words (typo tolerant, words run together too).

    Words in ``kinds`` ("ROAD", "HOUSE") count for a quarter of their length: "Hall Tower" is
    not half of "Godfrey Tower".
    """
    if not field:
        return _ABSENT
    total = found = 0.0
    typos = 0
    for target in field:
        weight = 0.25 if target in kinds and len(field) > 1 else 1.0
        total += len(target) * weight
        best, distance = 0.0, 0
        for word in words:
            if word == target:
                best, distance = 1.0, 0
                break
            if abs(len(word) - len(target)) <= 3:
                ratio = fuzz.ratio(word, target) / 100.0
                if ratio > best:
                    best, distance = ratio, Levenshtein.distance(word, target)
        if best < 1.0 and len(target) >= 4 and target in joined:
            best, distance = 1.0, 0
        if best >= _CLOSE:
            found += len(target) * best * weight
            typos += distance
    return FieldMatch(found / total if total else 0.0, typos, present=True)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A candidate compared with a messy address: its probability and the reason."""

    address: GazetteerAddress
    probability: float
    reason: str


def _same_number(written: HouseNumber, known: HouseNumber) -> tuple[bool, bool]:
    """Whether a written number is the gazetteer's, and whether only a range's start was."""
    if written.number != known.number or (written.suffix or None) != (known.suffix or None):
        return False, False
    if written.end_number == known.end_number:
        return True, False
    # "12" written for the range "12-14" names the same building; "12-16" for "12-14" does not.
    return written.end_number is None, True


def numbers_agree(  # noqa: PLR0911 (one return per way the numbers can disagree)
    parsed: ParsedAddress, address: GazetteerAddress
) -> tuple[bool, int, bool]:
    """Whether the text's numbers are exactly the candidate's: (agree, how many, partial range).

    Numbers marked as a flat's ("Flat 3", "3/12") must be the flat number; unmarked numbers are
    read in order, flat before house ("3, 12 Mare Street"). A flat of a named block has only a
    flat number, so a lone number may be it ("37 Price House").
    """
    flats = [m.number for m in parsed.numbers if m.flat]
    rest = [m.number for m in parsed.numbers if not m.flat]
    sao, pao = address.sao_number, address.pao_number
    expected: list[HouseNumber]
    if sao is not None and pao is not None:
        if flats and (len(flats) != 1 or not _same_number(flats[0], sao)[0]):
            return False, 0, False
        expected = [pao] if flats else [sao, pao]
    elif sao is not None:
        expected = [] if flats else [sao]
        if flats and (len(flats) != 1 or not _same_number(flats[0], sao)[0]):
            return False, 0, False
    elif pao is not None:
        if flats:
            return False, 0, False
        expected = [pao]
    else:
        expected = []
        if flats:
            return False, 0, False
    if len(rest) != len(expected):
        return False, 0, False
    partial = False
    for written, known in zip(rest, expected, strict=True):
        same, only_start = _same_number(written, known)
        if not same:
            return False, 0, False
        partial = partial or only_start
    return True, len(flats) + len(rest), partial


def _postcode_relation(given: str | None, known: str) -> str | None:
    if given is None:
        return None
    if given == known:
        return "same"
    outward, _, inward = given.partition(" ")
    known_outward, _, known_inward = known.partition(" ")
    if outward == known_outward and inward[:1] == known_inward[:1]:
        return "sector"
    if outward == known_outward:
        return "district"
    return "other"


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def features(parsed: ParsedAddress, address: GazetteerAddress) -> dict[str, float] | None:
    """The candidate's features, or None when its numbers differ from the text's."""
    agree, count, partial = numbers_agree(parsed, address)
    if not agree:
        return None
    return _features(parsed, address, count, partial)[0]


def _features(
    parsed: ParsedAddress, address: GazetteerAddress, count: int, partial: bool
) -> tuple[dict[str, float], dict[str, FieldMatch], str | None]:
    words = parsed.words
    joined = "".join(words)
    fields = {
        "street": match_field(address.street_words, words, joined, STREET_TYPES),
        "building": match_field(address.building_words, words, joined, BUILDING_TYPES),
        "flat": match_field(address.sao_words, words, joined, _FLAT_KINDS),
        "locality": match_field(address.locality_words, words, joined),
    }
    known = (
        *address.street_words,
        *address.building_words,
        *address.sao_words,
        *address.locality_words,
        *address.town_words,
    )
    unexplained = total = 0
    for word in words:
        total += len(word)
        if word in known or any(fuzz.ratio(word, k) >= 80 for k in known):
            continue
        if len(word) >= 6 and any(len(k) >= 4 and k in word for k in known):
            continue  # words run together ("THORPESTREET")
        unexplained += len(word)
    relation = _postcode_relation(parsed.postcode, address.postcode)
    values = dict.fromkeys(FEATURES, 0.0)
    values["bias"] = 1.0
    if relation is not None:
        values[f"postcode_{relation}"] = 1.0
    values["street"] = fields["street"].coverage
    if fields["building"].present:
        values["building"] = fields["building"].coverage
        values["building_missing"] = float(fields["building"].coverage < 0.5)
    if fields["flat"].present:
        values["flat_words"] = fields["flat"].coverage
        values["flat_words_missing"] = float(fields["flat"].coverage < 0.5)
    if fields["locality"].present:
        values["locality"] = fields["locality"].coverage
    values["unexplained"] = unexplained / total if total else 0.0
    values["numbers"] = float(count)
    values["range_partial"] = float(partial)
    values["not_approved"] = float(address.logical_status != 1)
    values["unit_mismatch"] = float(
        parsed.unit_word and address.sao_number is None and not address.sao_words
    )
    # Everything the gazetteer says about the address is in the text: a linear model cannot see
    # this from the fields one at a time.
    present = [fields[k].coverage for k in ("street", "building", "flat") if fields[k].present]
    values["least_coverage"] = min(present) if present else 0.0
    values["all_agree"] = float(
        values["least_coverage"] >= 0.99
        and relation in (None, "same")
        and values["unexplained"] == 0.0
    )
    return values, fields, relation


def compare(
    parsed: ParsedAddress, address: GazetteerAddress, weights: dict[str, float] | None = None
) -> Comparison | None:
    """The candidate's probability of being the address, or None when its numbers differ."""
    agree, count, partial = numbers_agree(parsed, address)
    if not agree:
        return None
    values, fields, relation = _features(parsed, address, count, partial)
    chosen = weights or WEIGHTS
    probability = _sigmoid(sum(chosen.get(name, 0.0) * value for name, value in values.items()))
    return Comparison(address, probability, _reason(fields, relation, count, partial))


def _describe(name: str, field: FieldMatch) -> tuple[str, str] | None:
    """("agree"|..., name) for a field, or None when the gazetteer has no such field."""
    if not field.present:
        return None
    if field.coverage >= 0.999 and field.typos == 0:
        return "agree", name
    if field.coverage >= 0.5:
        plural = "s" if field.typos != 1 else ""
        return f"{field.typos} typo{plural}" if field.typos else "partly agrees", name
    return "missing", name


def _reason(  # noqa: PLR0912 (one branch per field described)
    fields: dict[str, FieldMatch], relation: str | None, count: int, partial: bool
) -> str:
    agreeing: list[str] = []
    other: list[str] = []
    if relation == "same":
        agreeing.append("postcode")
    elif relation == "sector":
        other.append("postcode differs in the last two characters")
    elif relation in ("district", "other"):
        other.append("postcode differs")
    else:
        other.append("no postcode")
    if count == 2:
        agreeing.append("flat and house numbers")
    elif count == 1:
        agreeing.append("number")
    if partial:
        other.append("number given without the end of its range")
    for key, label in (
        ("flat", "flat"),
        ("building", "building name"),
        ("street", "street name"),
        ("locality", "locality"),
    ):
        described = _describe(label, fields[key])
        if described is None:
            continue
        state, name = described
        if state == "agree":
            agreeing.append(name)
        elif key == "locality" and state == "missing":
            continue  # most people leave the locality out; saying so is noise
        else:
            other.append(f"{name} {state}")
    parts = []
    if agreeing:
        verb = (
            "agrees" if len(agreeing) == 1 and agreeing[0] != "flat and house numbers" else "agree"
        )
        parts.append(f"{_join(agreeing)} {verb}")
    parts.extend(other)
    return "; ".join(parts)


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]
