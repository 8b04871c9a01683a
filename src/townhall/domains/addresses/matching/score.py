"""Scoring one candidate against a messy address: field comparisons, a calibrated score, a reason.

This module owns the comparison. Numbers are a gate: the flat and house numbers the text holds
must be exactly the candidate's ("12 Mare St" is never "Flat 12, 3 Mare St"). The other fields
(postcode, street, building name, flat description, locality) each give a feature; a logistic
model turns the features into the probability that the candidate is the address, with weights
fitted on the synthetic accuracy set (``bench/addresses_matching.py --fit``), so that a score of
0.9 means about nine in ten such answers are right. The reason says in words what agreed.
"""

from __future__ import annotations

import dataclasses
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
    "house_number_missing",
    "shell",
    "not_approved",
    "unit_mismatch",
    "all_agree",
    "least_coverage",
)
_FLAT_KINDS = frozenset({"FLOOR", "FLAT"})
# Logits beyond this say nothing more (and would let one feature swamp the decision).
_LOGIT_CAP = 12.0

# The best candidate's own features that the decision also reads, alone and when the best is
# the only candidate on its postcode.
_DECIDING_FIELDS = (
    "street",
    "building",
    "building_missing",
    "flat_words",
    "flat_words_missing",
    "unexplained",
    "numbers",
    "house_number_missing",
    "unit_mismatch",
    "all_agree",
)
DECISION_FEATURES = (
    "bias",
    "logit",
    "logit_above_0",
    "logit_above_4",
    "logit_below_-4",
    "gap",
    "gap_above_3",
    "alone",
    "no_postcode",
    "alone_in_postcode",
    "rivals_in_postcode",
    "off_known_postcode",
    "off_unknown_postcode",
    "postcode_sector",
    "postcode_district",
    "postcode_other",
    "distinct",
    "twins",
    "distinct_named",
    "distinct_named*postcode_sector",
    "distinct_named*postcode_district",
    *_DECIDING_FIELDS,
    *(f"alone_in_postcode*{name}" for name in _DECIDING_FIELDS),
)

# Fitted by bench/addresses_matching.py --fit on a training set generated with another seed than
# the one the benchmark reports on (ADR 19).
WEIGHTS: dict[str, float] = {
    "bias": -2.976,
    "postcode_same": 3.009,
    "postcode_sector": -2.393,
    "postcode_district": -2.305,
    "postcode_other": -6.562,
    "street": -0.007,
    "building": 1.433,
    "building_missing": -3.025,
    "flat_words": 0.78,
    "flat_words_missing": -4.823,
    "locality": 0.937,
    "unexplained": -15.431,
    "numbers": 2.206,
    "range_partial": -1.521,
    "house_number_missing": -2.173,
    "shell": -11.115,
    "not_approved": 2.469,
    "unit_mismatch": -2.362,
    "all_agree": 2.243,
    "least_coverage": 2.315,
}
DECISION_WEIGHTS: dict[str, float] = {
    "bias": 0.289,
    "logit": 0.756,
    "logit_above_0": -0.199,
    "logit_above_4": -0.612,
    "logit_below_-4": -0.263,
    "gap": 0.441,
    "gap_above_3": -0.246,
    "alone": 0.326,
    "no_postcode": 1.669,
    "alone_in_postcode": -2.893,
    "rivals_in_postcode": 1.541,
    "off_known_postcode": -3.139,
    "off_unknown_postcode": 8.248,
    "postcode_sector": 3.781,
    "postcode_district": 3.282,
    "postcode_other": -1.953,
    "distinct": -2.215,
    "twins": -1.289,
    "distinct_named": 1.318,
    "distinct_named*postcode_sector": 0.469,
    "distinct_named*postcode_district": 2.655,
    "street": 0.278,
    "building": 0.58,
    "building_missing": -0.546,
    "flat_words": -0.413,
    "flat_words_missing": -0.615,
    "unexplained": -0.975,
    "numbers": -0.508,
    "house_number_missing": 0.452,
    "unit_mismatch": -2.782,
    "all_agree": 0.334,
    "alone_in_postcode*street": -1.462,
    "alone_in_postcode*building": -1.152,
    "alone_in_postcode*building_missing": -2.706,
    "alone_in_postcode*flat_words": 0.0,
    "alone_in_postcode*flat_words_missing": 0.0,
    "alone_in_postcode*unexplained": 1.518,
    "alone_in_postcode*numbers": 7.728,
    "alone_in_postcode*house_number_missing": 7.406,
    "alone_in_postcode*unit_mismatch": -0.023,
    "alone_in_postcode*all_agree": -0.436,
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
    logit: float = 0.0
    # The features, which the decision reads too.
    values: dict[str, float] = dataclasses.field(default_factory=dict)


def _same_number(written: HouseNumber, known: HouseNumber) -> tuple[bool, bool]:
    """Whether a written number is the gazetteer's, and whether only a range's start was."""
    if written.number != known.number or (written.suffix or None) != (known.suffix or None):
        return False, False
    if written.end_number == known.end_number:
        return True, False
    # "12" written for the range "12-14" names the same building; "12-16" for "12-14" does not.
    return written.end_number is None, True


@dataclass(frozen=True, slots=True)
class NumbersAgree:
    """How the text's numbers fit a candidate's (only made when none contradicts them)."""

    count: int  # how many of the text's numbers are the candidate's
    partial: bool  # a range's start written for the whole range ("12" for "12-14")
    house_missing: bool  # "Flat 3, Hilltop House" for "Flat 3, Hilltop House, 12 Mare St"


def numbers_agree(  # noqa: PLR0911, PLR0912 (one return per way the numbers can disagree)
    parsed: ParsedAddress, address: GazetteerAddress
) -> NumbersAgree | None:
    """Whether the text's numbers are exactly the candidate's; None when they are not.

    Numbers marked as a flat's ("Flat 3", "3/12") must be the flat number; unmarked numbers are
    read in order, flat before house ("3, 12 Mare Street"). A flat of a named block has only a
    flat number, so a lone number may be it ("37 Price House"). A marked flat number with no
    house number may leave out the building's number ("Flat 3, Hilltop House" for "Flat 3,
    Hilltop House, 12 Mare Street"): every number written is still the candidate's, and the
    score counts the omission. An unmarked lone number is never a flat's when the candidate
    has a house number too: "12 Mare St" is not "Flat 12, 3 Mare St".
    """
    flats = [m.number for m in parsed.numbers if m.flat]
    rest = [m.number for m in parsed.numbers if not m.flat]
    sao, pao = address.sao_number, address.pao_number
    house_missing = False
    expected: list[HouseNumber]
    if sao is not None and pao is not None:
        if flats and (len(flats) != 1 or not _same_number(flats[0], sao)[0]):
            return None
        expected = [pao] if flats else [sao, pao]
        if flats and not rest:
            expected, house_missing = [], True
        elif (
            not flats
            and len(rest) == 1
            and rest[0].number != pao.number
            and _names_building(parsed, address)
        ):
            # "2 Ford Mansions, Quinn St" for "Flat 2, Ford Mansions, 1 Quinn St": the lone
            # number is the flat's only when the text names the flat's building, and it is not
            # the building's own number ("Flat, Ford Mansions, 1, Quinn St" names no flat).
            expected, house_missing = [sao], True
    elif sao is not None:
        expected = [] if flats else [sao]
        if flats and (len(flats) != 1 or not _same_number(flats[0], sao)[0]):
            return None
    elif pao is not None:
        if flats:
            return None
        expected = [pao]
    else:
        expected = []
        if flats:
            return None
    if len(rest) != len(expected):
        return None
    partial = False
    for written, known in zip(rest, expected, strict=True):
        same, only_start = _same_number(written, known)
        if not same:
            return None
        partial = partial or only_start
    return NumbersAgree(len(flats) + len(rest), partial, house_missing)


def _names_building(parsed: ParsedAddress, address: GazetteerAddress) -> bool:
    """Whether every word of the candidate's building name is in the text."""
    return bool(address.building_words) and all(
        word in parsed.words for word in address.building_words
    )


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
    if value < -700.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-value))


def features(parsed: ParsedAddress, address: GazetteerAddress) -> dict[str, float] | None:
    """The candidate's features, or None when its numbers differ from the text's."""
    agree = numbers_agree(parsed, address)
    if agree is None:
        return None
    return _features(parsed, address, agree)[0]


def _features(
    parsed: ParsedAddress, address: GazetteerAddress, agree: NumbersAgree
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
    values["numbers"] = float(agree.count)
    values["range_partial"] = float(agree.partial)
    values["house_number_missing"] = float(agree.house_missing)
    # A property shell (a block, BS7666 "PP") is where flats are, not where anyone lives.
    values["shell"] = float(address.classification == "PP")
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
    agree = numbers_agree(parsed, address)
    if agree is None:
        return None
    values, fields, relation = _features(parsed, address, agree)
    chosen = weights or WEIGHTS
    logit = sum(chosen.get(name, 0.0) * value for name, value in values.items())
    reason = _reason(fields, relation, agree.count, agree.partial)
    if agree.house_missing:
        reason += "; house number not given"
    return Comparison(address, _sigmoid(logit), reason, logit=logit, values=values)


def decision_features(
    parsed: ParsedAddress, ranked: Sequence[Comparison], *, postcode_known: bool
) -> dict[str, float]:
    """What the whole candidate set says about the best candidate (``ranked`` best first).

    One candidate's fields cannot say whether another address fits as well: the gap to the
    runner-up and whether the best is the only address on the written postcode with the written
    numbers can. "Flat 11, Peters House, Abbey Avenue, E8 1JA" with the street wrong is still
    sure when flat 11 of Peters House is the only flat 11 on E8 1JA; and a best candidate off
    a postcode the gazetteer knows is doubtful however well its words agree (``postcode_known``:
    the written postcode has addresses).
    """
    first = ranked[0]
    values = dict.fromkeys(DECISION_FEATURES, 0.0)
    values["bias"] = 1.0
    logit = max(-_LOGIT_CAP, min(_LOGIT_CAP, first.logit))
    values["logit"] = logit
    values["logit_above_0"] = max(0.0, logit)
    values["logit_above_4"] = max(0.0, logit - 4.0)
    values["logit_below_-4"] = min(0.0, logit + 4.0)
    if len(ranked) > 1:
        gap = min(first.logit - ranked[1].logit, _LOGIT_CAP)
        values["gap"] = gap
        values["gap_above_3"] = max(0.0, gap - 3.0)
    else:
        values["gap"] = _LOGIT_CAP
        values["gap_above_3"] = _LOGIT_CAP - 3.0
        values["alone"] = 1.0
    alone_in_postcode = 0.0
    if parsed.postcode is None:
        values["no_postcode"] = 1.0
    elif first.address.postcode == parsed.postcode:
        rivals = sum(1 for c in ranked[1:] if c.address.postcode == parsed.postcode)
        alone_in_postcode = float(rivals == 0)
        values["rivals_in_postcode"] = math.log1p(rivals)
    elif postcode_known:
        values["off_known_postcode"] = 1.0
    else:
        values["off_unknown_postcode"] = 1.0
    values["alone_in_postcode"] = alone_in_postcode
    for relation in ("sector", "district", "other"):
        values[f"postcode_{relation}"] = first.values.get(f"postcode_{relation}", 0.0)
    # Distinctiveness: how many other candidates fit what the text says as well as the best.
    twins = sum(1 for c in ranked[1:] if _as_consistent(c, first))
    values["distinct"] = float(twins == 0)
    values["twins"] = math.log1p(twins)
    # The only one, and the text names its street or building in full with nothing unexplained
    # ("4, Morley Terrace" on a mistyped postcode, the borough's only 4 Morley Terrace).
    _, street, building, _ = _agreement(first)
    named = (street or (building and bool(first.address.building_words))) and (
        first.values.get("unexplained", 0.0) == 0.0
    )
    values["distinct_named"] = float(twins == 0 and bool(named))
    for relation in ("sector", "district"):
        values[f"distinct_named*postcode_{relation}"] = (
            values["distinct_named"] * values[f"postcode_{relation}"]
        )
    for name in _DECIDING_FIELDS:
        value = first.values.get(name, 0.0)
        values[name] = value
        values[f"alone_in_postcode*{name}"] = alone_in_postcode * value
    return values


# A field the text holds at least this much of is one it names.
_NAMED = 0.8


def _agreement(comparison: Comparison) -> tuple[float, float, float, float]:
    """How near the written postcode (3 same, 2 sector, 1 district, 0 otherwise or none), and
    whether the text names the candidate's street, building and flat description (1 for a field
    the candidate does not have: nothing of it is missing)."""
    values = comparison.values
    postcode = (
        3 * values.get("postcode_same", 0.0)
        + 2 * values.get("postcode_sector", 0.0)
        + values.get("postcode_district", 0.0)
    )
    address = comparison.address
    building = values.get("building", 0.0) >= _NAMED if address.building_words else True
    flat = values.get("flat_words", 0.0) >= _NAMED if address.sao_words else True
    return postcode, float(values.get("street", 0.0) >= _NAMED), float(building), float(flat)


def _as_consistent(other: Comparison, best: Comparison) -> bool:
    """Whether another candidate fits everything the text says at least as well as the best.

    The numbers gate already holds for both; what is left is whether the written postcode,
    street, building and flat description pick the best out: "Flat 24, Maple Mews" is sure
    when Maple Mews has one flat 24, whatever the building name left out.
    """
    if other.address.classification == "PP":
        return False
    return all(o >= b for o, b in zip(_agreement(other), _agreement(best), strict=True))


def _postcode_fit(comparison: Comparison) -> tuple[float, ...]:
    return tuple(comparison.values.get(f"postcode_{r}", 0.0) for r in _POSTCODE_RELATIONS)


_POSTCODE_RELATIONS = ("same", "sector", "district", "other")


def decide(
    parsed: ParsedAddress,
    ranked: Sequence[Comparison],
    *,
    postcode_known: bool,
    weights: dict[str, float] | None = None,
) -> float:
    """The probability that the best candidate is the address, from ``decision_features``."""
    chosen = weights or DECISION_WEIGHTS
    values = decision_features(parsed, ranked, postcode_known=postcode_known)
    decided = _sigmoid(sum(chosen.get(name, 0.0) * value for name, value in values.items()))
    if len(ranked) < 2 or _postcode_fit(ranked[0]) != _postcode_fit(ranked[1]):
        return decided
    # A runner-up as near the written postcode as the best: if one of the two is the address,
    # the chance it is the first, from the two candidates' odds (exp(l1) / (exp(l1) + exp(l2))).
    # Two equal candidates are a coin toss however good each looks (the fitted decision cannot
    # know this where the training set had no such pairs). Odds, not probabilities: two
    # probabilities near 1 say nothing about which is likelier ("3 Mare St" at odds of 2,000 to
    # 1 beside "Flat 3, Tucker Tower, Mare St", its building unwritten, at 1 to 1).
    return min(decided, _sigmoid(ranked[0].logit - ranked[1].logit))


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
