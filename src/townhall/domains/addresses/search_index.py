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
  they search; when nothing starts with it, it is corrected against the starts of known
  words ("chaucer avv" is Chaucer Avenue).

Street words, and how many addresses of each street have each address word, are held in
memory per process and reloaded when the index's version changes. A query is planned street
by street: a street whose name meets every word is a candidate whole (its house numbers are
checked in the street-and-numbers index), elsewhere only the addresses with the rarest
missing word are read. When that plan is small, the candidates are fetched and checked here
and the query becomes a list of LPI keys; when it is not, the matches are dense, and the whole
query becomes one SQL condition whose first page is found at once by reading in order.
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
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
    values,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from townhall.domains.addresses.models import AddressRecord, Property, Street
from townhall.domains.addresses.search_models import (
    SearchEntry,
    SearchState,
    SearchStreet,
    SearchTerm,
    SearchTermStreet,
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
# Reading a street's addresses with a number from the index costs about this many times less
# than reading and checking its rows.
NUMBERED_STREET_DISCOUNT = 10
# The last word as a prefix expands to at most this many known words (the most common first).
PREFIX_EXPANSIONS = 60
# A query needs at least this many letters in its last word before it is read as a prefix.
PREFIX_MIN_LENGTH = 2
# A half-typed last word nothing starts with is corrected from this many letters on.
PREFIX_CORRECTION_MIN_LENGTH = 3


# --- building the index ------------------------------------------------------------------------
#
# The index is derived in SQL, set by set (INSERT ... SELECT), so a million addresses never pass
# through Python one by one. What SQL cannot derive (normalised words, numbers written in a
# name, a canonical postcode) depends only on a few thousand distinct names, streets and
# postcodes: those are worked out here, once each, into temporary tables the INSERTs join.
# Incremental and full refreshes run the same statements, so both write the same entries.


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
    build = _Build(session)
    try:
        if lpi_keys is None and usrns is None:
            written = _rebuild_everything(session, build)
        else:
            written = _rebuild_some(session, build, set(lpi_keys or ()), set(usrns or ()))
    finally:
        build.drop()
    _bump_version(session)
    return written


def _rebuild_everything(session: Session, build: _Build) -> int:
    """Replace the whole index.

    Building an index once over the loaded rows is several times faster than keeping it up to
    date row by row, so the secondary indexes (and on PostgreSQL the primary keys too) are
    dropped, the rows deleted and loaded, and the indexes built again. On PostgreSQL that takes
    the search tables' exclusive lock until the unit of work commits: searches wait for the new
    index rather than read a half-built one.
    """
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    tables = [Base.metadata.tables[model.__tablename__] for model in (SearchEntry, SearchTerm)]
    indexes = [index for table in tables for index in table.indexes]
    keys = [table.primary_key for table in tables] if postgres else []
    if postgres:
        # Sorts and hashes of a million rows in memory, not in temporary files.
        session.execute(text("SET LOCAL work_mem = '256MB'"))
    for index in indexes:
        index.drop(connection)
    for key in keys:
        connection.execute(DropConstraint(key))
    if postgres:
        session.execute(text(f"TRUNCATE {', '.join(table.name for table in tables)}"))
    for model in (SearchEntry, SearchTerm, SearchVocabulary, SearchTermStreet, SearchStreet):
        session.execute(delete(model))
    build.fill(None)
    written = _insert_entries(session, build, None)
    _insert_terms(session, build, None)
    for key in keys:
        connection.execute(AddConstraint(key))
    for index in indexes:
        index.create(connection)
    _count_terms(session)
    _write_streets(session, None)
    if postgres:
        session.execute(text("RESET work_mem"))
        # Fresh statistics, so the planner knows how the new rows are spread.
        for table in tables:
            session.execute(text(f"ANALYZE {table.name}"))
    return written


def _rebuild_some(session: Session, build: _Build, lpi_keys: set[str], usrns: set[int]) -> int:
    if usrns:
        for chunk in _chunks(sorted(usrns)):
            lpi_keys.update(
                session.scalars(select(AddressRecord.lpi_key).where(AddressRecord.usrn.in_(chunk)))
            )
            lpi_keys.update(
                session.scalars(select(SearchEntry.lpi_key).where(SearchEntry.usrn.in_(chunk)))
            )
    keys = sorted(lpi_keys)
    # The (term, street) pairs whose counts change: those of the old entries and of the new.
    affected_pairs: set[tuple[str, int]] = set()
    affected_streets: set[int] = set(usrns)
    # Deduplicated here: DISTINCT would have SQLite walk the whole key in order.
    pairs = select(SearchTerm.term, SearchTerm.usrn)
    for chunk in _chunks(keys):
        affected_pairs.update(
            (term, usrn)
            for term, usrn in session.execute(pairs.where(SearchTerm.lpi_key.in_(chunk)))
        )
        affected_streets.update(
            session.scalars(select(SearchEntry.usrn).where(SearchEntry.lpi_key.in_(chunk)))
        )
        session.execute(delete(SearchTerm).where(SearchTerm.lpi_key.in_(chunk)))
        session.execute(delete(SearchEntry).where(SearchEntry.lpi_key.in_(chunk)))
    build.fill(keys)
    written = 0
    for chunk in _chunks(keys):
        written += _insert_entries(session, build, chunk)
        _insert_terms(session, build, chunk)
        affected_streets.update(
            session.scalars(select(SearchEntry.usrn).where(SearchEntry.lpi_key.in_(chunk)))
        )
        affected_pairs.update(
            (term, usrn)
            for term, usrn in session.execute(pairs.where(SearchTerm.lpi_key.in_(chunk)))
        )
    _recount_pairs(session, affected_pairs)
    _write_streets(session, affected_streets)
    return written


def _count_terms(session: Session) -> None:
    """Count every term's addresses, per street and in all."""
    per_street = select(SearchTerm.term, SearchTerm.usrn, func.count()).group_by(
        SearchTerm.term, SearchTerm.usrn
    )
    session.execute(
        insert(SearchTermStreet).from_select(["term", "usrn", "address_count"], per_street)
    )
    _sum_terms(session, None)


def _recount_pairs(session: Session, pairs: set[tuple[str, int]]) -> None:
    """Count again the addresses of these (term, street) pairs, then their terms' totals.

    Only the changed streets are counted, from the terms' key: a common word (FLAT) has
    hundreds of thousands of addresses, but one street's are one short range.
    """
    # Every pair of the changed terms and streets is counted again (a few more than changed):
    # ``term IN (...) AND usrn IN (...)`` seeks the terms' key, where a list of pairs would be
    # matched against every row on SQLite.
    terms = sorted({term for term, _ in pairs})
    streets = sorted({usrn for _, usrn in pairs})
    for term_chunk in _chunks(terms, 500):
        for street_chunk in _chunks(streets, 500):
            session.execute(
                delete(SearchTermStreet).where(
                    SearchTermStreet.term.in_(term_chunk), SearchTermStreet.usrn.in_(street_chunk)
                )
            )
            counted = (
                select(SearchTerm.term, SearchTerm.usrn, func.count())
                .where(SearchTerm.term.in_(term_chunk), SearchTerm.usrn.in_(street_chunk))
                .group_by(SearchTerm.term, SearchTerm.usrn)
            )
            session.execute(
                insert(SearchTermStreet).from_select(["term", "usrn", "address_count"], counted)
            )
    for chunk in _chunks(terms):
        session.execute(delete(SearchVocabulary).where(SearchVocabulary.term.in_(chunk)))
        _sum_terms(session, chunk)


def _sum_terms(session: Session, terms: Sequence[str] | None) -> None:
    """Each term's address count, summed over its streets (these terms, or all when None)."""
    totals = select(SearchTermStreet.term, func.sum(SearchTermStreet.address_count)).group_by(
        SearchTermStreet.term
    )
    if terms is not None:
        totals = totals.where(SearchTermStreet.term.in_(terms))
    session.execute(insert(SearchVocabulary).from_select(["term", "address_count"], totals))


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


@lru_cache(maxsize=200_000)
def _words_of(text: str) -> tuple[str, ...]:
    """``normalise_words``, remembered: a million addresses share far fewer names and streets."""
    return tuple(normalise_words(text))


def _names_in(text: str) -> tuple[str, ...]:
    """The words of a name that are not house numbers, each once."""
    return tuple(dict.fromkeys(word for word in _words_of(text) if not is_number_token(word)))


def _first_number(text: str) -> HouseNumber | None:
    """The first house number written in a name ("Flat 3" -> 3), if any."""
    for word in _words_of(text):
        if found := parse_number_token(word):
            return found[0]
    return None


def _padded(text: str, width: int) -> str:
    return f"{text[:width]:<{width}}"


_BLANK_NAME = " " * 40
_NO_NUMBER = "~~~~~~~"
_NO_FLAT = " " * 7


class _Build:
    """The temporary tables one refresh joins: its names, streets and postcodes, worked out."""

    def __init__(self, session: Session) -> None:
        self.session = session
        metadata = MetaData()
        temporary = ["TEMPORARY"]
        # Looked up by key only: on SQLite, a table without rowid is its own index.
        keyed: dict[str, Any] = {"sqlite_with_rowid": False}
        self.texts = Table(
            "search_build_texts",
            metadata,
            Column("text", String(100), primary_key=True),
            Column("sort_part", String(40), nullable=False),  # its words, padded to 40
            Column("names", String(400)),  # its words that are not numbers; NULL if none
            Column("number", Integer),  # the first number written in it, if any
            Column("suffix", String(2)),
            Column("end_number", Integer),
            prefixes=temporary,
            **keyed,
        )
        self.names = Table(
            "search_build_names",
            metadata,
            Column("text", String(100), primary_key=True),
            Column("term", String(60), primary_key=True),
            prefixes=temporary,
            **keyed,
        )
        self.streets = Table(
            "search_build_streets",
            metadata,
            Column("usrn", BigInteger, primary_key=True, autoincrement=False),
            Column("prefix", String(80), nullable=False),  # street words and USRN, sort order
            prefixes=temporary,
            **keyed,
        )
        self.postcodes = Table(
            "search_build_postcodes",
            metadata,
            Column("postcode", String(8), primary_key=True),
            Column("outward", String(4), nullable=False),
            Column("inward", String(3), nullable=False),
            prefixes=temporary,
            **keyed,
        )
        self.tables = (self.texts, self.names, self.streets, self.postcodes)
        self.created = False

    def fill(self, lpi_keys: Sequence[str] | None) -> None:
        """Create and fill the tables for these addresses (all when None)."""
        connection = self.session.connection()
        for table in self.tables:
            table.drop(connection, checkfirst=True)
            table.create(connection)
        self.created = True
        texts: set[str] = set()
        usrns: set[int] = set()
        postcodes: set[str] = set()
        # One DISTINCT per column: a few thousand values each, however many addresses.
        columns: list[tuple[Any, set[Any]]] = [
            (AddressRecord.pao_text, texts),
            (AddressRecord.sao_text, texts),
            (Property.organisation, texts),
            (AddressRecord.usrn, usrns),
            (AddressRecord.postcode, postcodes),
        ]
        for column, into in columns:
            if lpi_keys is None:
                into.update(self.session.scalars(select(column).distinct()))
                continue
            for chunk in _chunks(lpi_keys):
                statement = select(column).distinct().where(AddressRecord.lpi_key.in_(chunk))
                if column.table is Property.__table__:
                    statement = statement.join_from(
                        AddressRecord, Property, Property.uprn == AddressRecord.uprn
                    )
                into.update(self.session.scalars(statement))
        texts = {value for value in texts if value is not None}
        self._fill_texts(texts)
        self._fill_streets(usrns)
        insert_rows(
            self.session,
            self.postcodes,
            ("postcode", "outward", "inward"),
            ((postcode, *_postcode_parts(postcode)) for postcode in sorted(postcodes)),
        )

    def _fill_texts(self, texts: set[str]) -> None:
        rows: list[tuple[Any, ...]] = []
        names: list[tuple[str, str]] = []
        for value in sorted(texts | {"FLAT", "UNIT"}):
            words = _names_in(value)
            number = _first_number(value)
            rows.append(
                (
                    value,
                    _padded(" ".join(_words_of(value)), 40),
                    " ".join(words)[:400] or None,
                    None if number is None else number.number,
                    None if number is None else number.suffix,
                    None if number is None else number.end_number,
                )
            )
            names.extend(
                (value, term) for term in dict.fromkeys(w[:60] for w in words if len(w) > 1)
            )
        insert_rows(
            self.session,
            self.texts,
            ("text", "sort_part", "names", "number", "suffix", "end_number"),
            rows,
        )
        insert_rows(self.session, self.names, ("text", "term"), names)

    def _fill_streets(self, usrns: set[int]) -> None:
        rows: list[tuple[int, str]] = []
        for chunk in _chunks(sorted(usrns)):
            statement = select(Street.usrn, Street.descriptor).where(Street.usrn.in_(chunk))
            for usrn, descriptor in self.session.execute(statement):
                street = " ".join(_words_of(descriptor))
                rows.append((usrn, f"{_padded(street, 60)}|{usrn:012d}|"))
        insert_rows(self.session, self.streets, ("usrn", "prefix"), rows)

    def drop(self) -> None:
        """Drop the tables (so a second refresh in the same unit of work starts afresh)."""
        if not self.created:
            return
        connection = self.session.connection()
        for table in self.tables:
            table.drop(connection, checkfirst=True)
        self.created = False


@lru_cache(maxsize=100_000)
def _postcode_parts(postcode: str) -> tuple[str, str]:
    canonical = normalise_postcode(postcode) or postcode.upper()
    outward, _, inward = canonical.partition(" ")
    return outward[:4], inward[:3]


def _zero_padded(dialect: str, number: ColumnElement[Any]) -> ColumnElement[str]:
    """A number as six digits at least ("000012"), as Python's ``f"{n:06d}"`` writes it."""
    if dialect == "sqlite":
        return func.printf("%06d", number)
    as_text = cast(number, Text)
    return case((func.length(as_text) >= 6, as_text), else_=func.lpad(as_text, 6, "0"))


def _joined(*parts: ColumnElement[Any]) -> ColumnElement[str]:
    """The parts that are not NULL, joined by single spaces ('' when all are NULL)."""
    spaced = [func.coalesce(literal(" ") + part, "") for part in parts]
    joined: ColumnElement[str] = spaced[0]
    for part in spaced[1:]:
        joined = joined + part
    return func.ltrim(joined)


def _insert_entries(session: Session, build: _Build, lpi_keys: Sequence[str] | None) -> int:
    """INSERT ... SELECT the entries of these addresses (all when None); return how many."""
    dialect = session.connection().dialect.name
    texts, streets, postcodes = build.texts, build.streets, build.postcodes
    pao, sao, org = texts.alias("pao"), texts.alias("sao"), texts.alias("org")
    lpi = AddressRecord.__table__
    blpu = Property.__table__

    def numbers(start: Any, suffix: Any, end: Any, named: Any) -> tuple[Any, Any, Any]:
        # The number fields or, failing those, the first number written in the name.
        has_own = start.is_not(None)
        effective = func.coalesce(start, named.c.number)
        own_suffix = case((has_own, suffix), else_=named.c.suffix)
        effective_end = case(
            (has_own, end), (named.c.number.is_not(None), named.c.end_number), else_=end
        )
        return effective, own_suffix, effective_end

    pao_start, pao_suffix, pao_end = numbers(
        lpi.c.pao_start_number, lpi.c.pao_start_suffix, lpi.c.pao_end_number, pao
    )
    sao_start, sao_suffix, sao_end = numbers(
        lpi.c.sao_start_number, lpi.c.sao_start_suffix, lpi.c.sao_end_number, sao
    )

    def number_part(start: Any, suffix: Any, blank: str) -> ColumnElement[str]:
        return case(
            (start.is_(None), blank),
            else_=_zero_padded(dialect, start) + func.coalesce(func.nullif(suffix, ""), " "),
        )

    flat_word = _flat_word()
    sort_key = (
        streets.c.prefix
        + number_part(pao_start, pao_suffix, _NO_NUMBER)
        + "|"
        + func.coalesce(pao.c.sort_part, _BLANK_NAME)
        + "|"
        + number_part(sao_start, sao_suffix, _NO_FLAT)
        + "|"
        + func.coalesce(sao.c.sort_part, _BLANK_NAME)
        + "|"
        + lpi.c.lpi_key
    )
    statement = (
        select(
            lpi.c.lpi_key,
            lpi.c.uprn,
            lpi.c.usrn,
            sort_key,
            postcodes.c.outward,
            postcodes.c.inward,
            pao_start,
            case((pao_start.is_not(None), func.nullif(pao_suffix, ""))),
            pao_end,
            sao_start,
            case((sao_start.is_not(None), func.nullif(sao_suffix, ""))),
            sao_end,
            func.substr(_joined(flat_word, org.c.names, sao.c.names, pao.c.names), 1, 400),
        )
        .select_from(lpi)
        .join(blpu, blpu.c.uprn == lpi.c.uprn)
        .join(streets, streets.c.usrn == lpi.c.usrn)
        .join(postcodes, postcodes.c.postcode == lpi.c.postcode)
        .outerjoin(pao, pao.c.text == lpi.c.pao_text)
        .outerjoin(sao, sao.c.text == lpi.c.sao_text)
        .outerjoin(org, org.c.text == blpu.c.organisation)
    )
    if dialect == "sqlite":
        # SQLite fills its trees fastest in key order; PostgreSQL builds its keys afterwards.
        statement = statement.order_by(lpi.c.lpi_key)
    if lpi_keys is not None:
        statement = statement.where(lpi.c.lpi_key.in_(lpi_keys))
    session.execute(insert(SearchEntry).from_select(list(_ENTRY_COLUMNS), statement))
    # Counted, not taken from the cursor: psycopg reports no row count for INSERT ... SELECT.
    written = select(func.count()).select_from(SearchEntry)
    if lpi_keys is not None:
        written = written.where(SearchEntry.lpi_key.in_(lpi_keys))
    return int(session.scalar(written) or 0)


def _flat_word() -> ColumnElement[str]:
    """FLAT (UNIT if not residential) for a bare flat number ("flat 3 ..." finds it), else NULL."""
    lpi, blpu = AddressRecord.__table__, Property.__table__
    residential = (
        func.substr(
            func.upper(func.coalesce(func.nullif(blpu.c.classification_code, ""), "R")), 1, 1
        )
        == "R"
    )
    bare = and_(lpi.c.sao_start_number.is_not(None), func.coalesce(lpi.c.sao_text, "") == "")
    return case((bare, case((residential, "FLAT"), else_="UNIT")))


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


def _insert_terms(session: Session, build: _Build, lpi_keys: Sequence[str] | None) -> None:
    """INSERT ... SELECT the terms these addresses post (all when None).

    One pass over the addresses: each joins the names of its building, its flat, its
    organisation and its FLAT (or UNIT) word at once ("FLAT" and "UNIT" are names of themselves).
    SQLite looks the four up in the names' key (and writes in key order); PostgreSQL turns them
    into four rows and hash-joins them.
    """
    lpi, blpu, names = AddressRecord.__table__, Property.__table__, build.names
    own = (lpi.c.pao_text, lpi.c.sao_text, blpu.c.organisation, _flat_word())
    statement = select(names.c.term, lpi.c.usrn, lpi.c.lpi_key).distinct().select_from(lpi)
    statement = statement.join(blpu, blpu.c.uprn == lpi.c.uprn)
    if session.connection().dialect.name == "sqlite":
        statement = statement.join(names, names.c.text.in_(own)).order_by(
            names.c.term, lpi.c.usrn, lpi.c.lpi_key
        )
    else:
        texts = values(Column("text", String), name="own_texts").data([(c,) for c in own]).lateral()
        statement = statement.join(texts, true()).join(names, names.c.text == texts.c.text)
    if lpi_keys is not None:
        statement = statement.where(lpi.c.lpi_key.in_(lpi_keys))
    session.execute(insert(SearchTerm).from_select(["term", "usrn", "lpi_key"], statement))


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
    for value in (descriptor, locality, town):
        if value:
            words.extend(word for word in normalise_words(value) if not is_number_token(word))
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
    # term -> {usrn: how many addresses of that street have the term}
    term_streets: dict[str, dict[int, int]] = field(default_factory=dict)
    _prefixes: dict[int, tuple[list[str], dict[str, list[str]]]] = field(default_factory=dict)

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

    def prefix_corrections(self, word: str) -> list[str]:
        """Known words whose start is within the allowed edit distance of a half-typed word.

        "AVV" (AVENUE doubled and cut short) starts AVENUE within one edit; so does "CLLOS"
        CLOSE. Starts of at least three letters are compared, within one edit up to seven
        letters and two beyond; the most common few dozen words are kept.
        """
        if len(word) < PREFIX_CORRECTION_MIN_LENGTH or any(char.isdigit() for char in word):
            return []
        allowed = 1 if len(word) <= 7 else 2
        found: dict[str, None] = {}
        low = max(PREFIX_CORRECTION_MIN_LENGTH, len(word) - allowed)
        for length in range(low, len(word) + allowed + 1):
            starts, words_of = self._starts(length)
            for start, _distance, _index in process.extract(
                word, starts, scorer=OSA.distance, score_cutoff=allowed, limit=None
            ):
                found.update(dict.fromkeys(words_of[start]))
        ranked = sorted(found, key=lambda term: (-self.frequency(term), term))
        return ranked[:PREFIX_EXPANSIONS]

    def _starts(self, length: int) -> tuple[list[str], dict[str, list[str]]]:
        """Every known word's first ``length`` letters, and the words starting so."""
        if length not in self._prefixes:
            words_of: dict[str, list[str]] = defaultdict(list)
            for term in self.sorted_terms:
                if len(term) >= length:
                    words_of[term[:length]].append(term)
            self._prefixes[length] = (list(words_of), dict(words_of))
        return self._prefixes[length]

    def street_counts(self, terms: Iterable[str]) -> dict[int, int]:
        """How many addresses of each street have one of these terms (at most, summed)."""
        counts: dict[int, int] = defaultdict(int)
        for term in terms:
            for usrn, count in self.term_streets.get(term, {}).items():
                counts[usrn] += count
        return counts


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
    term_streets: dict[str, dict[int, int]] = defaultdict(dict)
    for term, usrn, count in session.execute(
        select(SearchTermStreet.term, SearchTermStreet.usrn, SearchTermStreet.address_count)
    ):
        term_streets[term][usrn] = count
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
        term_streets=dict(term_streets),
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
    # usrn -> how many addresses of that street have one of ``terms`` (at most)
    street_counts: dict[int, int] = field(default_factory=dict)
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
    corrections = vocab.corrections(word)
    if prefix:
        # A slip inside a word still being typed ("chaucer avv", "morris cllos").
        corrections = list(dict.fromkeys([*corrections, *vocab.prefix_corrections(word)]))
    return corrections, True


def match_text(session: Session, q: str) -> TextMatch:
    """The addresses a free-text query matches (see the module's docstring for the rules)."""
    parsed = parse_query(q)
    vocab = vocabulary(session)
    corrected: dict[str, list[str]] = {}
    matches: list[_WordMatch] = []
    for position, word in enumerate(parsed.words):
        if len(word) == 1:
            matches.append(_WordMatch(word, frozenset(), frozenset(), single_letter=True))
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
        matches.append(
            _WordMatch(
                word, frozenset(usrns), frozenset(address_terms), vocab.street_counts(address_terms)
            )
        )
    fixed = _fixed_conditions(session, parsed)
    words = [match for match in matches if not match.single_letter]
    if words:
        # A number narrows a whole street in the street-and-numbers index alone.
        narrowed = bool(parsed.numbers) and len(words) == len(matches)
        plan = _plan(vocab, words, narrowed=narrowed)
        if plan is not None:
            keys = _check_candidates(session, plan, matches, fixed)
            return TextMatch(lpi_keys=keys, condition=None, corrected=corrected)
    if not matches and not fixed:
        return TextMatch(lpi_keys=None, condition=true(), corrected=corrected)
    condition = and_(true(), *fixed, *(_word_condition(match, in_order=True) for match in matches))
    return TextMatch(lpi_keys=None, condition=condition, corrected=corrected)


@dataclass(frozen=True)
class _Plan:
    """Where a query's candidates are: whole streets, and some words' addresses on streets."""

    whole_streets: list[int]
    by_word: list[tuple[_WordMatch, list[int]]]


def _plan(vocab: Vocabulary, words: Sequence[_WordMatch], *, narrowed: bool) -> _Plan | None:
    """The fewest candidates that hold every match, street by street; None if too many.

    On a street, a word is met by the street's own name, or only by addresses that have the
    word themselves. A street whose name meets every word is a candidate whole; otherwise its
    candidates are the addresses with the rarest of the words its name does not meet (and a
    street where one of those words has no address is no candidate at all). Every match is
    on a street the first word allows, so only those streets are visited. When a house number
    ``narrowed`` the query, whole streets are read in their index, far cheaper than rows.
    """
    ordered = sorted(words, key=lambda match: len(match.usrns) + len(match.street_counts))
    first = ordered[0]
    whole: list[int] = []
    by_word: dict[str, tuple[_WordMatch, list[int]]] = {}
    estimate = 0
    for usrn in first.usrns | first.street_counts.keys():
        rarest: _WordMatch | None = None
        fewest = 0
        for match in ordered:
            if usrn in match.usrns:
                continue
            count = match.street_counts.get(usrn, 0)
            if count == 0:
                break
            if rarest is None or count < fewest:
                rarest, fewest = match, count
        else:
            if rarest is None:
                whole.append(usrn)
                size = vocab.street_size.get(usrn, 0)
                estimate += size // NUMBERED_STREET_DISCOUNT if narrowed else size
            else:
                by_word.setdefault(rarest.word, (rarest, []))[1].append(usrn)
                estimate += fewest
            if estimate > CANDIDATE_LIMIT:
                return None
    return _Plan(whole_streets=whole, by_word=list(by_word.values()))


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


def _fixed_conditions(session: Session, parsed: ParsedQuery) -> list[ColumnElement[bool]]:
    """SQL conditions for the query's numbers and postcode."""
    conditions: list[ColumnElement[bool]] = []
    if len(parsed.numbers) == 1:
        conditions.append(_number_condition(parsed.numbers[0], flat=None))
    elif len(parsed.numbers) >= 2:
        conditions.append(_number_condition(parsed.numbers[0], flat=True))
        conditions.append(_number_condition(parsed.numbers[1], flat=False))
    if parsed.postcodes:
        conditions.append(postcode_condition(session, parsed.postcodes))
    return conditions


def postcode_condition(session: Session, prefixes: Sequence[PostcodePrefix]) -> ColumnElement[bool]:
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
            continue
        outward: ColumnElement[str] = SearchEntry.postcode_outward.expression
        if _is_large(session, prefix):
            # Thousands of addresses: read in the sort key's order (the first page is within a
            # few hundred rows), not gathered from the postcode index and sorted.
            outward = SearchEntry.postcode_outward + ""
        if prefix.inward_prefix:
            options.append(
                and_(
                    outward == prefix.outward,
                    SearchEntry.postcode_inward >= prefix.inward_prefix,
                    SearchEntry.postcode_inward < prefix.inward_prefix + "\x7f",
                )
            )
        else:
            options.append(outward == prefix.outward)
    return or_(false(), *options)


def _is_large(session: Session, prefix: PostcodePrefix) -> bool:
    """Whether a partial postcode holds more addresses than are worth gathering and sorting.

    Only SQLite is told: it keeps no statistics to choose between the postcode index and the
    sort key's order, and reading a small district in order would walk the whole index.
    Counted in the postcode index, at most ``CANDIDATE_LIMIT`` entries.
    """
    if session.get_bind().dialect.name != "sqlite":
        return False
    some = select(literal(1)).where(SearchEntry.postcode_outward == prefix.outward)
    if prefix.inward_prefix:
        some = some.where(
            SearchEntry.postcode_inward >= prefix.inward_prefix,
            SearchEntry.postcode_inward < prefix.inward_prefix + "\x7f",
        )
    counted = select(func.count()).select_from(some.limit(CANDIDATE_LIMIT).subquery())
    return int(session.scalar(counted) or 0) >= CANDIDATE_LIMIT


def _word_condition(match: _WordMatch, *, in_order: bool) -> ColumnElement[bool]:
    """A word as a SQL condition on an entry, checked row by row.

    ``in_order`` keeps the database reading in the sort key's order: the street list is then
    no index to start from (a query this common finds its first page within a few thousand
    rows, where starting from a street list would sort hundreds of thousands). An address's
    own terms are looked up in the terms' key, one seek per row, never gathered whole.
    """
    if match.single_letter:
        padded = " " + SearchEntry.words + " "
        return padded.like(f"% {match.word} %")
    options: list[ColumnElement[bool]] = []
    if match.usrns:
        usrn = SearchEntry.usrn + 0 if in_order else SearchEntry.usrn
        options.append(usrn.in_(sorted(match.usrns)))
    if match.terms:
        # A scalar subquery with a LIMIT, not EXISTS: PostgreSQL would turn EXISTS into a join
        # that gathers every address with the term (FLAT: most of them) before the first row.
        posting = (
            select(literal(1))
            .where(
                SearchTerm.term.in_(sorted(match.terms)),
                SearchTerm.usrn == SearchEntry.usrn,
                SearchTerm.lpi_key == SearchEntry.lpi_key,
            )
            .limit(1)
            .scalar_subquery()
        )
        options.append(posting.is_not(None))
    return or_(false(), *options)


def _check_candidates(
    session: Session,
    plan: _Plan,
    matches: Sequence[_WordMatch],
    fixed: Sequence[ColumnElement[bool]],
) -> list[str]:
    """Every address matching all words, found from the plan's candidates."""
    columns = (SearchEntry.lpi_key, SearchEntry.usrn, SearchEntry.words)
    found: dict[str, tuple[int, str]] = {}
    whole: list[str] = []
    letters = any(match.single_letter for match in matches)
    for chunk in _chunks(sorted(plan.whole_streets)):
        if letters:
            statement = select(*columns).where(SearchEntry.usrn.in_(chunk), *fixed)
            for key, usrn, words in session.execute(statement):
                found[key] = (usrn, words)
        else:
            # The street's name meets every word: only the numbers are left to check, and the
            # street-and-numbers index holds them.
            whole.extend(
                session.scalars(
                    select(SearchEntry.lpi_key).where(SearchEntry.usrn.in_(chunk), *fixed)
                )
            )
    for match, streets in plan.by_word:
        for chunk in _chunks(sorted(streets)):
            postings = select(SearchTerm.lpi_key).where(
                SearchTerm.term.in_(sorted(match.terms)), SearchTerm.usrn.in_(chunk)
            )
            statement = select(*columns).where(SearchEntry.lpi_key.in_(postings), *fixed)
            for key, usrn, words in session.execute(statement):
                found[key] = (usrn, words)
    whole_set = set(whole)
    return whole + [
        key
        for key, (usrn, words) in found.items()
        if key not in whole_set
        and all(match.accepts(usrn, frozenset(words.split())) for match in matches)
    ]
