"""The address search index: building it from the gazetteer, and reading free text against it.

This module owns the tables of ``search_models.py``. ``refresh`` rebuilds the entries of some
addresses (or of all) inside the caller's unit of work, so an import and its index entries
commit together; ``match_text`` turns a free-text query into the addresses it means.

How a query is read ("12 mare stret e8"):

* house numbers are exact: each must equal a building (PAO) or flat (SAO) number or fall in its
  range; with two numbers, the first is the flat's and the second the building's ("3/12");
* a postcode in the query, whole or partial, filters by postcode;
* every other word must match (AND): a word of the address's street (descriptor, locality,
  town) or of the address itself (flat, building, organisation). A word the vocabulary does not
  know is corrected to the known words within edit distance 1 (4 to 7 letters) or 2 (longer),
  a swap of two neighbouring letters counting as one edit (optimal string alignment);
  numbers are never corrected. The last word is also a prefix, since people type as
  they search.

Street words are looked up in memory (a few thousand streets), per process, and reloaded when
the index's version changes. The word matching the fewest addresses drives the search: when it
matches few, its candidates are fetched and checked here, and the query becomes a list of LPI
keys; when every word is common, the whole query becomes one SQL condition, and the matches are
dense enough that reading them in order finds a page at once.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from townhall.domains.addresses.models import AddressRecord, Property, Street
from townhall.domains.addresses.search_models import (
    SearchEntry,
    SearchState,
    SearchStreet,
    SearchTerm,
    SearchVocabulary,
)
from townhall.domains.addresses.text import (
    HouseNumber,
    PostcodePrefix,
    is_number_token,
    looks_like_outward_code,
    normalise_postcode,
    normalise_words,
    parse_number_token,
    postcode_filter,
)
from townhall.platform.bulk import insert_rows
from townhall.platform.db import Base

# At most this many values in one IN list (SQLite allows 32,766 parameters per statement).
_CHUNK = 5_000
# A word matching at most this many addresses drives the search by candidates, checked here.
CANDIDATE_LIMIT = 5_000
# The last word as a prefix expands to at most this many known words (the most common first).
PREFIX_EXPANSIONS = 60
# A query needs at least this many letters in its last word before it is read as a prefix.
PREFIX_MIN_LENGTH = 2


# --- building the index ------------------------------------------------------------------------


def refresh(
    session: Session,
    *,
    lpi_keys: Collection[str] | None = None,
    usrns: Collection[int] | None = None,
) -> int:
    """Rebuild the index entries of these addresses, or of every address when both are None.

    ``lpi_keys`` names addresses that were added, changed or deleted; ``usrns`` names streets
    whose words changed (every address on them is rebuilt). Runs in the caller's unit of work
    (``database.write()``), so a change and its index entries commit together. Returns how many
    entries were written.
    """
    if lpi_keys is None and usrns is None:
        written = _rebuild_everything(session)
    else:
        written = _rebuild_some(session, set(lpi_keys or ()), set(usrns or ()))
    _bump_version(session)
    return written


def _rebuild_everything(session: Session) -> int:
    for model in (SearchEntry, SearchTerm, SearchVocabulary, SearchStreet):
        session.execute(delete(model))
    written, _terms = _write_entries(session, _address_rows(session, None))
    session.execute(
        insert(SearchVocabulary).from_select(
            ["term", "address_count"],
            select(SearchTerm.term, func.count()).group_by(SearchTerm.term),
        )
    )
    _write_streets(session, None)
    return written


def _rebuild_some(session: Session, lpi_keys: set[str], usrns: set[int]) -> int:
    if usrns:
        for chunk in _chunks(sorted(usrns)):
            lpi_keys.update(
                session.scalars(select(AddressRecord.lpi_key).where(AddressRecord.usrn.in_(chunk)))
            )
            lpi_keys.update(
                session.scalars(select(SearchEntry.lpi_key).where(SearchEntry.usrn.in_(chunk)))
            )
    keys = sorted(lpi_keys)
    affected_terms: set[str] = set()
    affected_streets: set[int] = set(usrns)
    for chunk in _chunks(keys):
        affected_terms.update(
            session.scalars(select(SearchTerm.term).where(SearchTerm.lpi_key.in_(chunk)))
        )
        affected_streets.update(
            session.scalars(select(SearchEntry.usrn).where(SearchEntry.lpi_key.in_(chunk)))
        )
        session.execute(delete(SearchTerm).where(SearchTerm.lpi_key.in_(chunk)))
        session.execute(delete(SearchEntry).where(SearchEntry.lpi_key.in_(chunk)))
    written = 0
    for chunk in _chunks(keys):
        rows = list(_address_rows(session, chunk))
        affected_streets.update(row.usrn for row in rows)
        count, terms = _write_entries(session, rows)
        written += count
        affected_terms.update(terms)
    for chunk in _chunks(sorted(affected_terms)):
        session.execute(delete(SearchVocabulary).where(SearchVocabulary.term.in_(chunk)))
        session.execute(
            insert(SearchVocabulary).from_select(
                ["term", "address_count"],
                select(SearchTerm.term, func.count())
                .where(SearchTerm.term.in_(chunk))
                .group_by(SearchTerm.term),
            )
        )
    _write_streets(session, affected_streets)
    return written


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, _CHUNK)):
        yield chunk


class _AddressRow(NamedTuple):
    lpi_key: str
    uprn: int
    usrn: int
    sao_start_number: int | None
    sao_start_suffix: str | None
    sao_end_number: int | None
    sao_text: str | None
    pao_start_number: int | None
    pao_start_suffix: str | None
    pao_end_number: int | None
    pao_text: str | None
    postcode: str
    organisation: str | None
    classification_code: str | None
    descriptor: str


def _address_rows(session: Session, lpi_keys: Sequence[str] | None) -> Iterator[_AddressRow]:
    statement = (
        select(
            AddressRecord.lpi_key,
            AddressRecord.uprn,
            AddressRecord.usrn,
            AddressRecord.sao_start_number,
            AddressRecord.sao_start_suffix,
            AddressRecord.sao_end_number,
            AddressRecord.sao_text,
            AddressRecord.pao_start_number,
            AddressRecord.pao_start_suffix,
            AddressRecord.pao_end_number,
            AddressRecord.pao_text,
            AddressRecord.postcode,
            Property.organisation,
            Property.classification_code,
            Street.descriptor,
        )
        .join(Property, Property.uprn == AddressRecord.uprn)
        .join(Street, Street.usrn == AddressRecord.usrn)
    )
    if lpi_keys is not None:
        statement = statement.where(AddressRecord.lpi_key.in_(lpi_keys))
    for row in session.execute(statement.execution_options(yield_per=20_000)):
        yield _AddressRow._make(row)


def address_words(
    *,
    sao_start_number: int | None,
    sao_text: str | None,
    pao_text: str | None,
    organisation: str | None,
    classification_code: str | None,
) -> list[str]:
    """An address's own words (not its street's), as the index holds them.

    A bare flat number is printed "FLAT 3" (or "UNIT 3" for a non-residential property), so
    "flat 3 hilltop house" finds it.
    """
    words: list[str] = []
    for text in (organisation, sao_text, pao_text):
        if text:
            words.extend(_names_in(text))
    if sao_start_number is not None and not sao_text:
        residential = (classification_code or "R").upper().startswith("R")
        words.insert(0, "FLAT" if residential else "UNIT")
    return list(dict.fromkeys(words))


@lru_cache(maxsize=200_000)
def _words_of(text: str) -> tuple[str, ...]:
    """``normalise_words``, remembered: a million addresses share far fewer names and streets."""
    return tuple(normalise_words(text))


@lru_cache(maxsize=200_000)
def _names_in(text: str) -> tuple[str, ...]:
    """The words of a name that are not house numbers, remembered."""
    return tuple(word for word in _words_of(text) if not is_number_token(word))


@lru_cache(maxsize=200_000)
def _numbers_in(text: str | None) -> tuple[HouseNumber, ...]:
    if not text:
        return ()
    found: list[HouseNumber] = []
    for word in _words_of(text):
        found.extend(parse_number_token(word))
    return tuple(found)


@lru_cache(maxsize=100_000)
def _postcode_parts(postcode: str) -> tuple[str, str]:
    canonical = normalise_postcode(postcode) or postcode.upper()
    outward, _, inward = canonical.partition(" ")
    return outward[:4], inward[:3]


def _entry(row: _AddressRow) -> tuple[tuple[Any, ...], list[str]]:
    """The entry row of an address and the terms it posts."""
    pao_start, pao_end, pao_suffix = row.pao_start_number, row.pao_end_number, row.pao_start_suffix
    if pao_start is None and (found := _numbers_in(row.pao_text)):
        pao_start, pao_end, pao_suffix = found[0].number, found[0].end_number, found[0].suffix
    sao_start, sao_end, sao_suffix = row.sao_start_number, row.sao_end_number, row.sao_start_suffix
    if sao_start is None and (found := _numbers_in(row.sao_text)):
        sao_start, sao_end, sao_suffix = found[0].number, found[0].end_number, found[0].suffix
    words = address_words(
        sao_start_number=row.sao_start_number,
        sao_text=row.sao_text,
        pao_text=row.pao_text,
        organisation=row.organisation,
        classification_code=row.classification_code,
    )
    outward, inward = _postcode_parts(row.postcode)
    street = " ".join(_words_of(row.descriptor))[:60]
    sort_key = "|".join(
        (
            f"{street:<60}",
            f"{row.usrn:012d}",
            f"{pao_start:06d}{pao_suffix or ' '}" if pao_start is not None else "~~~~~~~",
            f"{' '.join(_words_of(row.pao_text or ''))[:40]:<40}",
            f"{sao_start:06d}{sao_suffix or ' '}" if sao_start is not None else " " * 7,
            f"{' '.join(_words_of(row.sao_text or ''))[:40]:<40}",
            row.lpi_key,
        )
    )
    entry = (
        row.lpi_key,
        row.uprn,
        row.usrn,
        sort_key,
        outward,
        inward,
        pao_start,
        (pao_suffix or None) if pao_start is not None else None,
        pao_end,
        sao_start,
        (sao_suffix or None) if sao_start is not None else None,
        sao_end,
        " ".join(words)[:400],
    )
    return entry, [word for word in words if len(word) > 1]


_ENTRY_COLUMNS = (
    "lpi_key",
    "uprn",
    "usrn",
    "sort_key",
    "postcode_outward",
    "postcode_inward",
    "pao_start",
    "pao_suffix",
    "pao_end",
    "sao_start",
    "sao_suffix",
    "sao_end",
    "words",
)


def _write_entries(session: Session, rows: Iterable[_AddressRow]) -> tuple[int, set[str]]:
    tables = Base.metadata.tables
    postings: list[tuple[str, str]] = []
    entries: list[tuple[Any, ...]] = []
    for row in rows:
        entry, terms = _entry(row)
        entries.append(entry)
        postings.extend((term[:60], row.lpi_key) for term in terms)
    written = insert_rows(session, tables[SearchEntry.__tablename__], _ENTRY_COLUMNS, entries)
    insert_rows(session, tables[SearchTerm.__tablename__], ("term", "lpi_key"), postings)
    return written, {term for term, _ in postings}


def _write_streets(session: Session, usrns: set[int] | None) -> None:
    """Rewrite the search's rows of these streets (all when None): words and address counts."""
    if usrns is not None and not usrns:
        return
    chunks: Iterable[Sequence[int] | None] = [None] if usrns is None else _chunks(sorted(usrns))
    for chunk in chunks:
        streets = select(Street.usrn, Street.descriptor, Street.locality, Street.town)
        counts = select(SearchEntry.usrn, func.count()).group_by(SearchEntry.usrn)
        if chunk is not None:
            session.execute(delete(SearchStreet).where(SearchStreet.usrn.in_(chunk)))
            streets = streets.where(Street.usrn.in_(chunk))
            counts = counts.where(SearchEntry.usrn.in_(chunk))
        count_of: dict[int, int] = dict(session.execute(counts).all())
        rows = [
            (usrn, " ".join(street_words(descriptor, locality, town))[:400], count_of.get(usrn, 0))
            for usrn, descriptor, locality, town in session.execute(streets)
        ]
        insert_rows(
            session,
            Base.metadata.tables[SearchStreet.__tablename__],
            ("usrn", "words", "address_count"),
            rows,
        )


def street_words(descriptor: str, locality: str | None, town: str | None) -> list[str]:
    """A street's words, as the index holds them: descriptor, locality and town."""
    words: list[str] = []
    for text in (descriptor, locality, town):
        if text:
            words.extend(word for word in normalise_words(text) if not is_number_token(word))
    return list(dict.fromkeys(words))


def _bump_version(session: Session) -> None:
    now = datetime.now(UTC)
    updated = session.execute(
        update(SearchState)
        .where(SearchState.id == 1)
        .values(version=SearchState.version + 1, refreshed_at=now)
    )
    if getattr(updated, "rowcount", 0) == 0:
        session.execute(insert(SearchState).values(id=1, version=1, refreshed_at=now))


# --- the vocabulary, cached per process ----------------------------------------------------------


@dataclass
class Vocabulary:
    """What the index knows, held in memory: street words, and every word's frequency."""

    version: int
    streets_of: dict[str, frozenset[int]]
    street_size: dict[int, int]
    address_count: dict[str, int]
    sorted_terms: list[str]
    terms_by_length: dict[int, list[str]] = field(default_factory=dict)

    def knows(self, term: str) -> bool:
        """Whether some street or address has this word."""
        return term in self.streets_of or term in self.address_count

    def frequency(self, term: str) -> int:
        """How many addresses have this word (of their own, or their street's)."""
        streets = self.streets_of.get(term, frozenset())
        return self.address_count.get(term, 0) + sum(self.street_size.get(u, 0) for u in streets)

    def with_prefix(self, prefix: str) -> list[str]:
        """Known words starting with ``prefix``, the most common first, at most a few dozen."""
        start = bisect.bisect_left(self.sorted_terms, prefix)
        found: list[str] = []
        for term in self.sorted_terms[start:]:
            if not term.startswith(prefix):
                break
            found.append(term)
        if len(found) > PREFIX_EXPANSIONS:
            found.sort(key=lambda term: (-self.frequency(term), term))
            found = found[:PREFIX_EXPANSIONS]
        return found

    def corrections(self, word: str) -> list[str]:
        """Known words within the allowed edit distance of a word it does not know."""
        if len(word) < 4 or any(char.isdigit() for char in word):
            return []
        allowed = 1 if len(word) <= 7 else 2
        found: list[str] = []
        for length in range(len(word) - allowed, len(word) + allowed + 1):
            choices = self.terms_by_length.get(length)
            if not choices:
                continue
            found.extend(
                match
                for match, _distance, _index in process.extract(
                    word,
                    choices,
                    scorer=OSA.distance,
                    score_cutoff=allowed,
                    limit=None,
                )
            )
        return found


_CACHE: weakref.WeakKeyDictionary[Engine, Vocabulary] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def index_version(session: Session) -> int:
    """The index's current version (0 when it was never built)."""
    return int(session.scalar(select(SearchState.version).where(SearchState.id == 1)) or 0)


def vocabulary(session: Session) -> Vocabulary:
    """The vocabulary, from this process's cache unless the index changed since it was read."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    version = index_version(session)
    cached = _CACHE.get(engine)
    if cached is not None and cached.version == version:
        return cached
    with _CACHE_LOCK:
        cached = _CACHE.get(engine)
        if cached is not None and cached.version == version:
            return cached
        loaded = _load_vocabulary(session, version)
        _CACHE[engine] = loaded
        return loaded


def _load_vocabulary(session: Session, version: int) -> Vocabulary:
    streets_of: dict[str, set[int]] = defaultdict(set)
    street_size: dict[int, int] = {}
    for usrn, words, count in session.execute(
        select(SearchStreet.usrn, SearchStreet.words, SearchStreet.address_count)
    ):
        street_size[usrn] = count
        for word in words.split():
            streets_of[word].add(usrn)
    address_count: dict[str, int] = dict(
        session.execute(select(SearchVocabulary.term, SearchVocabulary.address_count)).all()
    )
    terms = sorted(set(streets_of) | set(address_count))
    by_length: dict[int, list[str]] = defaultdict(list)
    for term in terms:
        by_length[len(term)].append(term)
    return Vocabulary(
        version=version,
        streets_of={term: frozenset(usrns) for term, usrns in streets_of.items()},
        street_size=street_size,
        address_count=address_count,
        sorted_terms=terms,
        terms_by_length=dict(by_length),
    )


# --- reading a query ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedQuery:
    """A free-text query taken apart: words, house numbers and any postcode in it."""

    words: tuple[str, ...]
    numbers: tuple[HouseNumber, ...]
    postcodes: tuple[PostcodePrefix, ...] | None
    last_word_is_prefix: bool


_INWARD_PART = frozenset("0123456789")


def parse_query(q: str) -> ParsedQuery:
    """Split a free-text query into words, house numbers and a postcode (whole or partial)."""
    tokens = normalise_words(q)
    postcodes: list[PostcodePrefix] | None = None
    kept: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        whole = normalise_postcode(token)
        if postcodes is None and whole is not None:
            postcodes = postcode_filter(whole)
            index += 1
            continue
        if (
            postcodes is None
            and any(char.isdigit() for char in token)
            and token[0].isalpha()
            and looks_like_outward_code(token)
        ):
            # "E8 1AA", "E8 1" (a sector, when it ends the query) or "E8" alone.
            if following is not None and normalise_postcode(f"{token} {following}"):
                postcodes = postcode_filter(f"{token} {following}")
                index += 2
                continue
            if (
                following is not None
                and index + 2 == len(tokens)
                and following[0] in _INWARD_PART
                and postcode_filter(f"{token} {following}")
            ):
                postcodes = postcode_filter(f"{token} {following}")
                index += 2
                continue
            postcodes = postcode_filter(token)
            index += 1
            continue
        kept.append(token)
        index += 1
    words: list[str] = []
    numbers: list[HouseNumber] = []
    for token in kept:
        if is_number_token(token):
            numbers.extend(parse_number_token(token))
        else:
            words.append(token)
    last_is_word = bool(kept) and not is_number_token(kept[-1])
    return ParsedQuery(
        words=tuple(dict.fromkeys(words)),
        numbers=tuple(numbers),
        postcodes=tuple(postcodes) if postcodes else None,
        last_word_is_prefix=last_is_word,
    )


@dataclass(frozen=True)
class _WordMatch:
    """What one query word may be: streets it names, and address terms it may be."""

    word: str
    usrns: frozenset[int]
    terms: frozenset[str]
    estimate: int
    single_letter: bool = False

    def accepts(self, usrn: int, words: frozenset[str]) -> bool:
        if self.single_letter:
            return self.word in words
        return usrn in self.usrns or not self.terms.isdisjoint(words)


@dataclass(frozen=True)
class TextMatch:
    """What a free-text query matches, in one of two forms.

    ``lpi_keys`` (when not None) lists every matching address, found by checking candidates;
    otherwise ``condition`` is a SQL condition on ``SearchEntry`` that the matches satisfy.
    ``corrected`` maps each word that was corrected to the known words it was read as.
    """

    lpi_keys: list[str] | None
    condition: ColumnElement[bool] | None
    corrected: dict[str, list[str]]


def _resolve(vocab: Vocabulary, word: str, *, prefix: bool) -> tuple[list[str], bool]:
    """The known words a query word stands for, and whether it was corrected."""
    known: list[str] = [word] if vocab.knows(word) else []
    if prefix and len(word) >= PREFIX_MIN_LENGTH:
        known.extend(term for term in vocab.with_prefix(word) if term != word)
    if known:
        return known, False
    return vocab.corrections(word), True


def match_text(session: Session, q: str) -> TextMatch:
    """The addresses a free-text query matches (see the module's docstring for the rules)."""
    parsed = parse_query(q)
    vocab = vocabulary(session)
    corrected: dict[str, list[str]] = {}
    matches: list[_WordMatch] = []
    for position, word in enumerate(parsed.words):
        if len(word) == 1:
            matches.append(_WordMatch(word, frozenset(), frozenset(), 1 << 62, single_letter=True))
            continue
        is_last = position == len(parsed.words) - 1
        terms, was_corrected = _resolve(vocab, word, prefix=is_last and parsed.last_word_is_prefix)
        if not terms:
            return TextMatch(lpi_keys=[], condition=None, corrected=corrected)
        if was_corrected:
            corrected[word] = terms
        usrns: set[int] = set()
        address_terms: set[str] = set()
        for term in terms:
            usrns.update(vocab.streets_of.get(term, ()))
            if term in vocab.address_count:
                address_terms.add(term)
        estimate = sum(vocab.street_size.get(u, 0) for u in usrns) + sum(
            vocab.address_count[term] for term in address_terms
        )
        matches.append(_WordMatch(word, frozenset(usrns), frozenset(address_terms), estimate))
    fixed = _fixed_conditions(parsed)
    drivers = [match for match in matches if not match.single_letter]
    if drivers:
        driver = min(drivers, key=lambda match: match.estimate)
        if driver.estimate <= CANDIDATE_LIMIT:
            keys = _check_candidates(session, driver, matches, fixed)
            return TextMatch(lpi_keys=keys, condition=None, corrected=corrected)
    if not matches and not fixed:
        return TextMatch(lpi_keys=None, condition=true(), corrected=corrected)
    condition = and_(true(), *fixed, *(_word_condition(match) for match in matches))
    return TextMatch(lpi_keys=None, condition=condition, corrected=corrected)


def _number_condition(number: HouseNumber, *, flat: bool | None) -> ColumnElement[bool]:
    """Addresses whose building (flat=False), flat (True) or either (None) number covers it."""

    def covers(start: Any, suffix: Any, end: Any) -> ColumnElement[bool]:
        if number.end_number is not None:  # a range asked for: the same range
            return and_(start == number.number, end == number.end_number)
        if number.suffix:  # "12A" is 12A only
            return and_(start == number.number, suffix == number.suffix)
        return or_(start == number.number, and_(start < number.number, end >= number.number))

    building = covers(SearchEntry.pao_start, SearchEntry.pao_suffix, SearchEntry.pao_end)
    flat_number = covers(SearchEntry.sao_start, SearchEntry.sao_suffix, SearchEntry.sao_end)
    if flat is None:
        return or_(building, flat_number)
    return flat_number if flat else building


def _fixed_conditions(parsed: ParsedQuery) -> list[ColumnElement[bool]]:
    """SQL conditions for the query's numbers and postcode."""
    conditions: list[ColumnElement[bool]] = []
    if len(parsed.numbers) == 1:
        conditions.append(_number_condition(parsed.numbers[0], flat=None))
    elif len(parsed.numbers) >= 2:
        conditions.append(_number_condition(parsed.numbers[0], flat=True))
        conditions.append(_number_condition(parsed.numbers[1], flat=False))
    if parsed.postcodes:
        conditions.append(postcode_condition(parsed.postcodes))
    return conditions


def postcode_condition(prefixes: Sequence[PostcodePrefix]) -> ColumnElement[bool]:
    """A SQL condition on ``SearchEntry`` for addresses under any of these postcode prefixes."""
    options: list[ColumnElement[bool]] = []
    for prefix in prefixes:
        if prefix.is_full:
            options.append(
                and_(
                    SearchEntry.postcode_outward == prefix.outward,
                    SearchEntry.postcode_inward == prefix.inward_prefix,
                )
            )
        elif prefix.inward_prefix:
            options.append(
                and_(
                    SearchEntry.postcode_outward == prefix.outward,
                    SearchEntry.postcode_inward >= prefix.inward_prefix,
                    SearchEntry.postcode_inward < prefix.inward_prefix + "\x7f",
                )
            )
        else:
            options.append(SearchEntry.postcode_outward == prefix.outward)
    return or_(false(), *options)


def _word_condition(match: _WordMatch) -> ColumnElement[bool]:
    if match.single_letter:
        padded = " " + SearchEntry.words + " "
        return padded.like(f"% {match.word} %")
    options: list[ColumnElement[bool]] = []
    if match.usrns:
        options.append(SearchEntry.usrn.in_(sorted(match.usrns)))
    if match.terms:
        options.append(
            SearchEntry.lpi_key.in_(
                select(SearchTerm.lpi_key).where(SearchTerm.term.in_(sorted(match.terms)))
            )
        )
    return or_(false(), *options)


def _check_candidates(
    session: Session,
    driver: _WordMatch,
    matches: Sequence[_WordMatch],
    fixed: Sequence[ColumnElement[bool]],
) -> list[str]:
    """Every address matching all words, found from the driver's candidates."""
    columns = (SearchEntry.lpi_key, SearchEntry.usrn, SearchEntry.words)
    found: dict[str, tuple[int, str]] = {}
    if driver.usrns:
        for chunk in _chunks(sorted(driver.usrns)):
            statement = select(*columns).where(SearchEntry.usrn.in_(chunk), *fixed)
            for key, usrn, words in session.execute(statement):
                found[key] = (usrn, words)
    if driver.terms:
        postings = (
            select(SearchTerm.lpi_key).where(SearchTerm.term.in_(sorted(driver.terms))).distinct()
        )
        statement = select(*columns).where(SearchEntry.lpi_key.in_(postings), *fixed)
        for key, usrn, words in session.execute(statement):
            found[key] = (usrn, words)
    others = [match for match in matches if match is not driver]
    return [
        key
        for key, (usrn, words) in found.items()
        if all(match.accepts(usrn, frozenset(words.split())) for match in others)
    ]
