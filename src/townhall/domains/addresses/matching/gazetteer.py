"""Where the matcher finds the gazetteer addresses a messy address may be.

This module owns candidate retrieval. A candidate is one LPI with its street, printed address and
normalised words (``GazetteerAddress``). Candidates come by postcode (an indexed look-up) and by
the words of streets and building names found in the text (a small in-memory word index of the
gazetteer's street descriptors and building names, then an indexed look-up by USRN), so a
missing or wrong postcode still finds the address. Two sources share the logic:

* ``DatabaseGazetteer`` asks the database for each lookup (the API's single interactive lookups):
  only the word index (streets and building names, a few per cent of the rows) is held in
  memory, and it is rebuilt when the gazetteer's tables change;
* ``MemoryGazetteer`` holds a snapshot of every address in memory (batch matching of many rows,
  and the benchmark, where per-row queries would dominate).

Historic LPIs (status 8) stay candidates: people still write an old address. Rejected and
provisional-only duplicates are not special-cased; the score prefers approved addresses.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, func, or_, select

from townhall.domains.addresses.matching.parse import NOISE_WORDS, UNIT_WORDS, ParsedAddress
from townhall.domains.addresses.models import AddressRecord, Property, Street
from townhall.domains.addresses.text import HouseNumber, normalise_words, single_line
from townhall.platform.db import Database

# Words of a street descriptor that say what kind of street it is, not which: a street is found
# by its other words ("MARE" of "MARE STREET").
_STREET_TYPE_WORDS = (
    "ROAD STREET AVENUE LANE CLOSE PLACE GROVE TERRACE GARDENS SQUARE CRESCENT WAY WALK MEWS "
    "ROW YARD HILL RISE PARK DRIVE COURT GREEN PASSAGE PARADE HIGH VALE END TOWN"
)
STREET_TYPES = frozenset(_STREET_TYPE_WORDS.split())
# Words of a building name that say what kind of building it is.
BUILDING_TYPES = frozenset(
    "HOUSE COURT POINT LODGE TOWER MANSIONS APARTMENTS LOFTS WORKS BUILDING BUILDINGS".split()  # noqa: SIM905
)
# How many streets or buildings a lookup follows up, best first.
_MAX_PLACES = 8
# Above this many candidates on one street the number filter is applied in the query.
_FUZZY_CUTOFF = 80.0
_STATUSES = (1, 3, 6, 8)


@dataclass(frozen=True, slots=True)
class GazetteerAddress:
    """One gazetteer address (LPI) as the matcher compares it."""

    uprn: int
    lpi_key: str
    usrn: int
    logical_status: int
    sao_number: HouseNumber | None
    sao_words: tuple[str, ...]
    pao_number: HouseNumber | None
    building_words: tuple[str, ...]
    street_words: tuple[str, ...]
    locality_words: tuple[str, ...]
    town_words: tuple[str, ...]
    postcode: str
    single_line: str
    classification: str = ""


_COLUMNS = (
    AddressRecord.uprn,
    AddressRecord.lpi_key,
    AddressRecord.usrn,
    AddressRecord.logical_status,
    AddressRecord.sao_start_number,
    AddressRecord.sao_start_suffix,
    AddressRecord.sao_end_number,
    AddressRecord.sao_end_suffix,
    AddressRecord.sao_text,
    AddressRecord.pao_start_number,
    AddressRecord.pao_start_suffix,
    AddressRecord.pao_end_number,
    AddressRecord.pao_end_suffix,
    AddressRecord.pao_text,
    AddressRecord.postcode,
    Street.descriptor,
    Street.locality,
    Street.town,
    Property.classification_code,
)


def _number(
    start: int | None, suffix: str | None, end: int | None, end_suffix: str | None
) -> HouseNumber | None:
    if start is None:
        return None
    return HouseNumber(start, suffix or None, end, end_suffix or None)


def _content_words(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(w for w in normalise_words(text) if w not in UNIT_WORDS and w not in NOISE_WORDS)


def gazetteer_rows(database: Database, exclude_uprns: Iterable[int] = ()) -> list[Sequence[Any]]:
    """Every live, alternative, provisional and historic address as a row of ``_COLUMNS``.

    Each UPRN's rows come together, its approved address first, so a reader that keeps one
    printed address per UPRN keeps the approved one.
    """
    excluded = set(exclude_uprns)
    statement = (
        select(*_COLUMNS)
        .join(Street, Street.usrn == AddressRecord.usrn)
        .join(Property, Property.uprn == AddressRecord.uprn)
        .where(AddressRecord.logical_status.in_(_STATUSES))
        .order_by(AddressRecord.uprn, AddressRecord.logical_status)
    )
    with database.read() as session:
        return [row for row in session.execute(statement) if row[0] not in excluded]


def address_of(row: Sequence[Any]) -> GazetteerAddress:
    """A candidate from one row of ``_COLUMNS``."""
    (uprn, lpi_key, usrn, status, s1, s1x, s2, s2x, sao_text, p1, p1x, p2, p2x, pao_text,
     postcode, street, locality, town, classification) = row  # fmt: skip
    return GazetteerAddress(
        uprn=int(uprn),
        lpi_key=lpi_key,
        usrn=int(usrn),
        logical_status=int(status),
        sao_number=_number(s1, s1x, s2, s2x),
        sao_words=_content_words(sao_text),
        pao_number=_number(p1, p1x, p2, p2x),
        building_words=_content_words(pao_text),
        street_words=tuple(normalise_words(street or "")),
        locality_words=tuple(normalise_words(locality or "")),
        town_words=tuple(normalise_words(town or "")),
        postcode=postcode,
        single_line=single_line(
            sao_start_number=s1,
            sao_start_suffix=s1x,
            sao_end_number=s2,
            sao_end_suffix=s2x,
            sao_text=sao_text,
            pao_start_number=p1,
            pao_start_suffix=p1x,
            pao_end_number=p2,
            pao_end_suffix=p2x,
            pao_text=pao_text,
            street=street,
            locality=locality,
            town=town,
            postcode=postcode,
            classification_code=classification,
        ),
        classification=classification or "",
    )


@dataclass(frozen=True, slots=True)
class Place:
    """A street or a building name the word index knows, and the streets it is on."""

    kind: str  # "street" or "building"
    words: tuple[str, ...]
    key_words: tuple[str, ...]
    usrns: tuple[int, ...]
    # A building's names as the gazetteer writes them ("The Coach House"), to look them up.
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlaceHit:
    """A place found in a messy address: how much of its name the text holds."""

    place: Place
    coverage: float


class WordIndex:
    """Streets and building names by their distinguishing words, typo tolerant."""

    def __init__(self, places: Iterable[Place]) -> None:
        self.places = list(places)
        by_word: dict[str, list[int]] = defaultdict(list)
        for position, place in enumerate(self.places):
            for word in place.key_words:
                by_word[word].append(position)
        self._by_word = dict(by_word)
        self._vocabulary = list(self._by_word)

    def find(self, words: Sequence[str]) -> list[PlaceHit]:
        """The places whose distinguishing words the text holds, best covered first."""
        joined = "".join(words)
        positions: set[int] = set()
        for word in set(words):
            found = self._by_word.get(word)
            if found is not None:
                positions.update(found)
            elif len(word) >= 4:
                for _choice, _score, key in process.extract(
                    word, self._vocabulary, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=3
                ):
                    positions.update(self._by_word[self._vocabulary[key]])
        # A word run into the next ("THORPESTREET"): look for each key word inside the run.
        for word in words:
            if len(word) >= 8 and word not in self._by_word:
                for known in self._vocabulary:
                    if len(known) >= 4 and word.startswith(known):
                        positions.update(self._by_word[known])
        hits = []
        for position in positions:
            place = self.places[position]
            coverage = word_coverage(place.words, words, joined)
            if coverage >= 0.5:
                hits.append(PlaceHit(place, coverage))
        hits.sort(key=lambda hit: (-hit.coverage, -len(hit.place.words)))
        return hits[:_MAX_PLACES]


def word_coverage(field: Sequence[str], words: Sequence[str], joined: str | None = None) -> float:
    """How much of ``field`` (0 to 1, by characters) the words hold, each word typo tolerant."""
    if not field:
        return 0.0
    total = 0
    found = 0.0
    for target in field:
        total += len(target)
        best = 0.0
        for word in words:
            if word == target:
                best = 1.0
                break
            if abs(len(word) - len(target)) <= 3:
                best = max(best, fuzz.ratio(word, target) / 100.0)
        if best < 1.0 and joined is not None and len(target) >= 4 and target in joined:
            best = 1.0
        if best >= _FUZZY_CUTOFF / 100.0:
            found += len(target) * best
    return found / total if total else 0.0


def build_places(
    streets: Iterable[tuple[int, str]], buildings: Iterable[tuple[str, int]]
) -> WordIndex:
    """The word index of streets ``(usrn, descriptor)`` and building names ``(name, usrn)``."""
    places: list[Place] = []
    for usrn, descriptor in streets:
        words = tuple(normalise_words(descriptor))
        key = tuple(w for w in words if w not in STREET_TYPES) or words
        places.append(Place("street", words, key, (usrn,)))
    by_name: dict[tuple[str, ...], set[int]] = defaultdict(set)
    names: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for name, usrn in buildings:
        words = _content_words(name)
        by_name[words].add(usrn)
        names[words].add(name)
    for words, usrns in by_name.items():
        if not words:
            continue
        key = tuple(w for w in words if w not in BUILDING_TYPES) or words
        places.append(
            Place("building", words, key, tuple(sorted(usrns)), tuple(sorted(names[words])))
        )
    return WordIndex(places)


class Gazetteer(Protocol):
    """Where candidates come from."""

    def candidates(self, parsed: ParsedAddress) -> list[GazetteerAddress]:
        """Every gazetteer address the messy address may be (no order, no duplicates)."""


def _wanted_numbers(parsed: ParsedAddress) -> set[int]:
    return {mention.number.number for mention in parsed.numbers}


class MemoryGazetteer:
    """A snapshot of the whole gazetteer in memory, for matching many addresses at once."""

    def __init__(self, addresses: Iterable[GazetteerAddress], places: WordIndex) -> None:
        self.by_postcode: dict[str, list[GazetteerAddress]] = defaultdict(list)
        self.by_usrn: dict[int, list[GazetteerAddress]] = defaultdict(list)
        self.size = 0
        for address in addresses:
            self.by_postcode[address.postcode].append(address)
            self.by_usrn[address.usrn].append(address)
            self.size += 1
        self.places = places

    @classmethod
    def load(cls, database: Database, *, exclude_uprns: Iterable[int] = ()) -> MemoryGazetteer:
        """Read every live, alternative, provisional and historic address of the database."""
        addresses = [address_of(row) for row in gazetteer_rows(database, exclude_uprns)]
        streets = {(a.usrn, " ".join(a.street_words)) for a in addresses}
        buildings = {(" ".join(a.building_words), a.usrn) for a in addresses if a.building_words}
        return cls(addresses, build_places(streets, buildings))

    def candidates(self, parsed: ParsedAddress) -> list[GazetteerAddress]:
        found: dict[str, GazetteerAddress] = {}
        if parsed.postcode is not None:
            for address in self.by_postcode.get(parsed.postcode, ()):
                found[address.lpi_key] = address
        numbers = _wanted_numbers(parsed)
        for hit in self.places.find(parsed.words):
            for usrn in hit.place.usrns:
                for address in self.by_usrn.get(usrn, ()):
                    if _on_place(address, hit.place, numbers):
                        found[address.lpi_key] = address
        return list(found.values())


def _on_place(address: GazetteerAddress, place: Place, numbers: set[int]) -> bool:
    """Whether an address on a found street or building is worth scoring.

    With numbers written, only an address with one of them as its flat or house number can
    pass the numbers gate (``score.numbers_agree``), so no other is fetched or compared.
    """
    if place.kind == "building" and address.building_words != place.words:
        return False
    if not numbers:
        return True
    return (address.pao_number is not None and address.pao_number.number in numbers) or (
        address.sao_number is not None and address.sao_number.number in numbers
    )


class DatabaseGazetteer:
    """Candidates from the database, one lookup at a time (the API's interactive path).

    The word index of streets and building names is read once and kept; it is read again when
    the count or latest change of streets and addresses differs, checked at most every
    ``refresh_seconds``.
    """

    def __init__(self, database: Database, *, refresh_seconds: float = 5.0) -> None:
        self.database = database
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._places: WordIndex | None = None
        self._version: tuple[Any, ...] | None = None
        self._checked = 0.0

    def _version_now(self) -> tuple[Any, ...]:
        with self.database.read() as session:
            streets = session.execute(
                select(func.count(), func.max(Street.modified_at)).select_from(Street)
            ).one()
            lpis = session.execute(
                select(func.count(), func.max(AddressRecord.modified_at)).select_from(AddressRecord)
            ).one()
        return (*streets, *lpis)

    def places(self) -> WordIndex:
        """The word index, rebuilt when the gazetteer changed."""
        with self._lock:
            now = time.monotonic()
            if self._places is not None and now - self._checked < self.refresh_seconds:
                return self._places
            version = self._version_now()
            self._checked = now
            if self._places is None or version != self._version:
                self._places = self._read_places()
                self._version = version
            return self._places

    def _read_places(self) -> WordIndex:
        with self.database.read() as session:
            streets = [
                (int(u), d) for u, d in session.execute(select(Street.usrn, Street.descriptor))
            ]
            buildings: list[tuple[str, int]] = [
                (str(name), int(usrn))
                for name, usrn in session.execute(
                    select(AddressRecord.pao_text, AddressRecord.usrn)
                    .where(AddressRecord.pao_text.is_not(None))
                    .distinct()
                )
            ]
        return build_places(streets, buildings)

    def candidates(self, parsed: ParsedAddress) -> list[GazetteerAddress]:
        hits = self.places().find(parsed.words) if parsed.words else []
        numbers = _wanted_numbers(parsed)
        base = (
            select(*_COLUMNS)
            .join(Street, Street.usrn == AddressRecord.usrn)
            .join(Property, Property.uprn == AddressRecord.uprn)
            .where(AddressRecord.logical_status.in_(_STATUSES))
        )
        found: dict[str, GazetteerAddress] = {}
        with self.database.read() as session:
            if parsed.postcode is not None:
                for row in session.execute(base.where(AddressRecord.postcode == parsed.postcode)):
                    found[row[1]] = address_of(row)
            street_usrns = sorted(
                {u for h in hits if h.place.kind == "street" for u in h.place.usrns}
            )
            if street_usrns:
                statement = base.where(AddressRecord.usrn.in_(street_usrns))
                if numbers:
                    statement = statement.where(_with_numbers(numbers))
                for row in session.execute(statement):
                    address = address_of(row)
                    if row[1] not in found and _on_place(
                        address, _street_place(hits, address.usrn), numbers
                    ):
                        found[row[1]] = address
            for hit in hits:
                if hit.place.kind != "building":
                    continue
                statement = base.where(
                    AddressRecord.usrn.in_(hit.place.usrns),
                    AddressRecord.pao_text.in_(hit.place.names),
                )
                if numbers:
                    statement = statement.where(_with_numbers(numbers))
                for row in session.execute(statement):
                    if row[1] in found:
                        continue
                    address = address_of(row)
                    if _on_place(address, hit.place, numbers):
                        found[row[1]] = address
        return list(found.values())


def _with_numbers(numbers: set[int]) -> ColumnElement[bool]:
    """Addresses with one of ``numbers`` as their flat or house number (see ``_on_place``)."""
    wanted = sorted(numbers)
    return or_(
        AddressRecord.pao_start_number.in_(wanted), AddressRecord.sao_start_number.in_(wanted)
    )


def _street_place(hits: Sequence[PlaceHit], usrn: int) -> Place:
    for hit in hits:
        if hit.place.kind == "street" and usrn in hit.place.usrns:
            return hit.place
    msg = f"street {usrn} was not among the hits"
    raise LookupError(msg)
