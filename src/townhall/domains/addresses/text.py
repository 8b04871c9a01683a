"""Address text: the one normalisation that search, matching and printing share.

This module owns how address text is read and written: postcodes in their canonical spaced form
("E8 1AA") and as partial filters ("E8", "E8 1"), words upper-cased with punctuation removed and
common abbreviations expanded ("RD" -> "ROAD", "ST" -> "STREET" or "SAINT"), house numbers
("12", "12A", "12-14", "3/12"), and the printed single-line address. It holds no database code,
so the search index, the matcher and the portal all read text the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# --- postcodes ---------------------------------------------------------------------------------

# The shapes of a UK postcode: an outward code (A9, A99, AA9, AA99, A9A, AA9A) and an inward
# code (9AA). GIR 0AA is the one historic exception still in use.
_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_INWARD = r"[0-9][A-Z]{2}"
_FULL_POSTCODE = re.compile(rf"^({_OUTWARD})({_INWARD})$")
_OUTWARD_ONLY = re.compile(rf"^{_OUTWARD}$")
# An outward code followed by the start of an inward code: "E81" can be "E8 1" or "E81".
_OUTWARD_AND_SECTOR = re.compile(rf"^({_OUTWARD})([0-9][A-Z]?)$")
_SPACES = re.compile(r"\s+")


def _compact(text: str) -> str:
    return _SPACES.sub("", text).upper()


def normalise_postcode(text: str | None) -> str | None:
    """A full postcode in its canonical form ("e81aa", " E8  1AA " -> "E8 1AA"); None if not one."""
    if text is None:
        return None
    compact = _compact(text)
    if compact == "GIR0AA":
        return "GIR 0AA"
    match = _FULL_POSTCODE.match(compact)
    if match is None:
        return None
    return f"{match.group(1)} {match.group(2)}"


@dataclass(frozen=True, slots=True)
class PostcodePrefix:
    """Postcodes with this outward code whose inward code starts with ``inward_prefix``.

    ``inward_prefix`` is "" (the whole outward code, "E8"), a sector digit ("1": "E8 1"), a
    digit and a letter ("1A") or a whole inward code ("1AA": one postcode). Because the outward
    code must be equal, "E1" never matches "E10 1AA".
    """

    outward: str
    inward_prefix: str

    @property
    def is_full(self) -> bool:
        """Whether this names a single postcode."""
        return len(self.inward_prefix) == 3

    @property
    def canonical(self) -> str:
        """The prefix as a person would write it ("E8 1", "E8")."""
        return f"{self.outward} {self.inward_prefix}".strip()

    def matches(self, postcode: str) -> bool:
        """Whether a canonical postcode ("E8 1AA") falls under this prefix."""
        outward, _, inward = postcode.partition(" ")
        return outward == self.outward and inward.startswith(self.inward_prefix)

    def bounds(self) -> tuple[str, str]:
        """A half-open range ``[low, high)`` of canonical postcodes this prefix covers.

        Byte order (the C collation, SQLite's BINARY): the space after the outward code keeps
        "E1 ..." apart from "E10 ...".
        """
        low = f"{self.outward} {self.inward_prefix}"
        return low, low + "\x7f"


def postcode_filter(text: str) -> list[PostcodePrefix] | None:
    """The postcodes a full or partial postcode may mean, in any spacing or case.

    "e8" -> [E8], "E8 1" -> [E8 1], "e81aa" -> [E8 1AA]; "E81" is either the outward code E81
    or sector 1 of E8, so both are returned. None when the text is no postcode or part of one.
    """
    spaced = _SPACES.sub(" ", text.strip().upper())
    if not spaced:
        return None
    full = normalise_postcode(spaced)
    if full is not None:
        outward, _, inward = full.partition(" ")
        return [PostcodePrefix(outward, inward)]
    if " " in spaced:
        outward, _, inward = spaced.partition(" ")
        if (
            _OUTWARD_ONLY.match(outward)
            and " " not in inward
            and re.fullmatch(r"[0-9][A-Z]{0,2}", inward)
        ):
            return [PostcodePrefix(outward, inward)]
        return None
    options: list[PostcodePrefix] = []
    if _OUTWARD_ONLY.match(spaced):
        options.append(PostcodePrefix(spaced, ""))
    sector = _OUTWARD_AND_SECTOR.match(spaced)
    if sector is not None:
        options.append(PostcodePrefix(sector.group(1), sector.group(2)))
    return options or None


def looks_like_outward_code(word: str) -> bool:
    """Whether a word has the shape of an outward code ("E8", "N16", "EC1A")."""
    return _OUTWARD_ONLY.match(word.upper()) is not None


# --- words -------------------------------------------------------------------------------------

ABBREVIATIONS: dict[str, str] = {
    "RD": "ROAD",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "AVN": "AVENUE",
    "GDNS": "GARDENS",
    "GDN": "GARDEN",
    "GRDNS": "GARDENS",
    "CT": "COURT",
    "CRT": "COURT",
    "HO": "HOUSE",
    "HSE": "HOUSE",
    "FLT": "FLAT",
    "FL": "FLAT",
    "APT": "APARTMENT",
    "APTS": "APARTMENTS",
    "CRES": "CRESCENT",
    "CRESC": "CRESCENT",
    "CL": "CLOSE",
    "DR": "DRIVE",
    "GR": "GROVE",
    "GRO": "GROVE",
    "GRV": "GROVE",
    "LN": "LANE",
    "PL": "PLACE",
    "SQ": "SQUARE",
    "TER": "TERRACE",
    "TERR": "TERRACE",
    "TCE": "TERRACE",
    "PK": "PARK",
    "MWS": "MEWS",
    "WK": "WALK",
    "WY": "WAY",
    "YD": "YARD",
    "HL": "HILL",
    "GRN": "GREEN",
    "BLDG": "BUILDING",
    "BLDGS": "BUILDINGS",
    "STN": "STATION",
    "EST": "ESTATE",
    "MKT": "MARKET",
    "PDE": "PARADE",
    "HTS": "HEIGHTS",
    "MT": "MOUNT",
    "UPR": "UPPER",
    "LWR": "LOWER",
    "NTH": "NORTH",
    "STH": "SOUTH",
    "GRND": "GROUND",
    "GND": "GROUND",
    "FLR": "FLOOR",
    "BSMT": "BASEMENT",
    "FLOORFLAT": "FLOOR FLAT",
}

# A token: a number form ("12", "12A", "12-14", "3/12") or a run of letters and digits.
_TOKEN = re.compile(r"[0-9]+[A-Z]?(?:[-/][0-9]+[A-Z]?)?(?![A-Z0-9])|[A-Z0-9]+|,")
_NUMBER = re.compile(r"^([0-9]+)([A-Z]?)$")
_RANGE = re.compile(r"^([0-9]+)([A-Z]?)-([0-9]+)([A-Z]?)$")
_SLASH = re.compile(r"^([0-9]+)([A-Z]?)/([0-9]+)([A-Z]?)$")


def _raw_tokens(text: str) -> list[str]:
    """Upper-case tokens with apostrophes dropped ("John's" -> "JOHNS") and commas kept."""
    cleaned = text.upper().replace("'", "").replace("\u2019", "").replace("&", " AND ")
    return _TOKEN.findall(cleaned)


def normalise_words(text: str) -> list[str]:
    """The words of an address, upper case, punctuation out, abbreviations expanded.

    Number forms stay as one token ("12A", "12-14", "3/12"). "ST" is "STREET" after a word
    ("MARE ST") and "SAINT" at the start of a name ("ST JOHNS ROAD", "12 ST JOHNS ROAD",
    "HILLTOP HOUSE, ST JOHNS ROAD").
    """
    words: list[str] = []
    previous_is_word = False
    for token in _raw_tokens(text):
        if token == ",":  # noqa: S105 - a comma, not a password
            previous_is_word = False
            continue
        if token == "ST":  # noqa: S105 - the abbreviation, not a password
            words.append("STREET" if previous_is_word else "SAINT")
            previous_is_word = True
            continue
        expanded = ABBREVIATIONS.get(token, token)
        words.extend(expanded.split())
        previous_is_word = token.isalpha()
    return words


@dataclass(frozen=True, slots=True)
class HouseNumber:
    """A house (or flat) number as written: 12, 12A, or the range 12-14."""

    number: int
    suffix: str | None = None
    end_number: int | None = None
    end_suffix: str | None = None

    def covers(self, number: int) -> bool:
        """Whether ``number`` is this number or falls within its range."""
        if self.end_number is None:
            return number == self.number
        return self.number <= number <= self.end_number


def is_number_token(word: str) -> bool:
    """Whether a normalised token is a house-number form ("12", "12A", "12-14", "3/12")."""
    return bool(_NUMBER.match(word) or _RANGE.match(word) or _SLASH.match(word))


def parse_number_token(word: str) -> list[HouseNumber]:
    """The house numbers one token holds: "12A" -> [12A]; "3/12" -> [3, 12] (flat 3 of 12)."""
    if match := _NUMBER.match(word):
        return [HouseNumber(int(match.group(1)), match.group(2) or None)]
    if match := _RANGE.match(word):
        start, end = int(match.group(1)), int(match.group(3))
        if end > start:
            return [HouseNumber(start, match.group(2) or None, end, match.group(4) or None)]
        # "12-3" is no range (the end is lower): keep both numbers, in the order written.
        return [
            HouseNumber(start, match.group(2) or None),
            HouseNumber(end, match.group(4) or None),
        ]
    if match := _SLASH.match(word):
        return [
            HouseNumber(int(match.group(1)), match.group(2) or None),
            HouseNumber(int(match.group(3)), match.group(4) or None),
        ]
    return []


def number_tokens(text: str) -> list[HouseNumber]:
    """The house numbers in an address, in order: "FLAT 3, 12 MARE ST" -> [3, 12].

    When there are two, the first is the secondary (flat) number and the second the primary
    (building) number, as in "3/12" or "Flat 3, 12 Mare Street".
    """
    found: list[HouseNumber] = []
    for word in normalise_words(text):
        found.extend(parse_number_token(word))
    return found


# --- printing ----------------------------------------------------------------------------------


def number_range(
    start: int | None, start_suffix: str | None, end: int | None, end_suffix: str | None
) -> str | None:
    """A BS7666 number range as printed: 12, 12A, 12-14, 12A-12C; None when there is none."""
    if start is None:
        return None
    text = f"{start}{start_suffix or ''}"
    if end is not None:
        text += f"-{end}{end_suffix or ''}"
    return text


def single_line(
    *,
    sao_start_number: int | None = None,
    sao_start_suffix: str | None = None,
    sao_end_number: int | None = None,
    sao_end_suffix: str | None = None,
    sao_text: str | None = None,
    pao_start_number: int | None = None,
    pao_start_suffix: str | None = None,
    pao_end_number: int | None = None,
    pao_end_suffix: str | None = None,
    pao_text: str | None = None,
    street: str | None = None,
    locality: str | None = None,
    town: str | None = None,
    postcode: str | None = None,
    organisation: str | None = None,
    classification_code: str | None = None,
) -> str:
    """The printed address, upper case: "FLAT 3, HILLTOP HOUSE, 12 MARE STREET, LONDON, E8 1AA".

    A bare secondary number is a flat of a residential property ("FLAT 3") and a unit of any
    other ("UNIT 3"). The locality is printed when it differs from the town.
    """
    parts: list[str] = []
    if organisation:
        parts.append(organisation.strip())
    sao_number = number_range(sao_start_number, sao_start_suffix, sao_end_number, sao_end_suffix)
    if sao_text and sao_number:
        parts.append(f"{sao_text.strip()} {sao_number}")
    elif sao_text:
        parts.append(sao_text.strip())
    elif sao_number:
        residential = (classification_code or "R").upper().startswith("R")
        parts.append(f"{'FLAT' if residential else 'UNIT'} {sao_number}")
    if pao_text:
        parts.append(pao_text.strip())
    pao_number = number_range(pao_start_number, pao_start_suffix, pao_end_number, pao_end_suffix)
    street_text = (street or "").strip()
    if pao_number and street_text:
        parts.append(f"{pao_number} {street_text}")
    elif pao_number:
        parts.append(pao_number)
    elif street_text:
        parts.append(street_text)
    if locality and locality.strip() and (town or "").strip().upper() != locality.strip().upper():
        parts.append(locality.strip())
    if town and town.strip():
        parts.append(town.strip())
    if postcode:
        parts.append(_printed_postcode(postcode))
    return ", ".join(part.upper() for part in parts if part)


@lru_cache(maxsize=65_536)
def _printed_postcode(postcode: str) -> str:
    """A postcode as printed: canonical when it is one, else as given (a page repeats a few)."""
    return normalise_postcode(postcode) or postcode.strip()
