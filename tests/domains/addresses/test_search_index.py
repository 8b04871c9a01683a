"""The address search index: refresh, and free text read against it.

Every free-text test runs twice: once as most queries run (the rarest word's candidates checked
in Python) and once with every query turned into one SQL condition (the path for queries whose
words are all common), so the two paths are shown to agree.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from tests.domains.addresses import search_gazetteer as g
from townhall.domains.addresses import search_index
from townhall.domains.addresses.models import AddressRecord, Street
from townhall.domains.addresses.search_models import (
    SearchEntry,
    SearchStreet,
    SearchTerm,
    SearchTermStreet,
    SearchVocabulary,
)
from townhall.platform.db import Database


@pytest.fixture
def gazetteer(database: Database) -> Database:
    g.load(database)
    return database


@pytest.fixture(params=["candidates", "condition"])
def search_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "condition":
        monkeypatch.setattr(search_index, "CANDIDATE_LIMIT", -1)
    return str(request.param)


def found(database: Database, q: str) -> set[str]:
    """The LPI keys a query matches, whichever form the match took."""
    with database.read() as session:
        match = search_index.match_text(session, q)
        if match.lpi_keys is not None:
            return set(match.lpi_keys)
        assert match.condition is not None
        return set(session.scalars(select(SearchEntry.lpi_key).where(match.condition)))


def keys(*numbers: int) -> set[str]:
    return {g.lpi_key(number) for number in numbers}


FLATS_OF_HILLTOP = keys(6, 7, 8, 9)


def test_load_gazetteer_indexes_every_address(gazetteer: Database) -> None:
    with gazetteer.read() as session:
        entries = session.scalar(select(func.count()).select_from(SearchEntry))
        streets = session.scalar(select(func.count()).select_from(SearchStreet))
        hilltop = session.scalar(
            select(SearchVocabulary.address_count).where(SearchVocabulary.term == "HILLTOP")
        )
    assert entries == len(g.ADDRESSES)
    assert streets == len(g.STREETS)
    # The block, its three flats, the alternative address of flat 3, and the bakery.
    assert hilltop == 6


@pytest.mark.usefixtures("search_path")
class TestFreeText:
    def test_a_street_name_finds_every_address_on_it(self, gazetteer: Database) -> None:
        assert found(gazetteer, "mare street") == keys(*range(1, 11))

    def test_house_numbers_are_exact(self, gazetteer: Database) -> None:
        # 12 and 12A, never 21, nor 12 St John's Road.
        assert found(gazetteer, "12 mare street") == keys(1, 3)
        assert found(gazetteer, "21 Mare St") == keys(2)
        assert found(gazetteer, "13 mare street") == set()

    def test_a_suffix_narrows_the_number(self, gazetteer: Database) -> None:
        assert found(gazetteer, "12a mare street") == keys(3)

    def test_a_number_within_a_range_matches_it(self, gazetteer: Database) -> None:
        assert found(gazetteer, "17 mare street") == keys(4)
        assert found(gazetteer, "16-18 mare street") == keys(4)

    def test_a_typo_is_corrected(self, gazetteer: Database) -> None:
        assert found(gazetteer, "12 mare stret") == keys(1, 3)
        assert found(gazetteer, "12 maer street") == keys(1, 3)  # two letters swapped: 1 edit
        assert found(gazetteer, "12 mrae street") == keys(1, 3)
        assert found(gazetteer, "12 mxyz street") == set()
        assert found(gazetteer, "7 marlborugh avnue") == keys(13)

    def test_longer_words_allow_two_edits(self, gazetteer: Database) -> None:
        assert found(gazetteer, "7 malborogh avenue") == keys(13)

    def test_short_words_are_not_corrected(self, gazetteer: Database) -> None:
        assert found(gazetteer, "21 mar street") == set()  # "MAR" is 3 letters, not last

    def test_the_last_word_is_a_prefix(self, gazetteer: Database) -> None:
        assert found(gazetteer, "21 mare str") == keys(2)
        assert found(gazetteer, "3 mart") == keys(15)

    def test_a_typo_inside_a_half_typed_last_word_is_corrected(self, gazetteer: Database) -> None:
        # MARLBOROUGH AVENUE typed "avv" (a letter doubled, then cut short) and "aevn" (two
        # letters swapped, cut short): the start of AVENUE within one edit.
        assert found(gazetteer, "7 marlborough avv") == keys(13)
        assert found(gazetteer, "7 marlborough aevn") == keys(13)
        assert found(gazetteer, "40 mare strre") == {*FLATS_OF_HILLTOP, *keys(5)} - keys(9)
        # Too far from the start of any word: nothing, rather than a guess.
        assert found(gazetteer, "7 marlborough xqz") == set()

    def test_a_half_typed_word_is_not_corrected_when_it_starts_a_known_word(
        self, gazetteer: Database
    ) -> None:
        # "MAR" starts MARE, MARLBOROUGH and MARTELLO: read as their start, never corrected.
        with gazetteer.read() as session:
            match = search_index.match_text(session, "21 mar")
        assert match.corrected == {}
        assert found(gazetteer, "21 mar") == keys(2)

    def test_a_building_word_on_a_street_named_by_the_others(self, gazetteer: Database) -> None:
        # HILLTOP is no street's word: only Mare Street's addresses named Hilltop are read.
        assert found(gazetteer, "flat 2 hilltop mare street") == keys(7)
        assert found(gazetteer, "hilltop marlborough avenue") == set()

    def test_every_word_must_match(self, gazetteer: Database) -> None:
        assert found(gazetteer, "mare street dalston") == set()
        assert found(gazetteer, "marlborough avenue dalston") == keys(13, 14)

    def test_flat_and_building_words(self, gazetteer: Database) -> None:
        assert found(gazetteer, "flat 3 hilltop house") == keys(8, 9)
        assert found(gazetteer, "hilltop house mare street") == {*FLATS_OF_HILLTOP, *keys(5)}

    def test_flat_slash_building_number(self, gazetteer: Database) -> None:
        assert found(gazetteer, "3/40 mare street") == keys(8)
        assert found(gazetteer, "flat 2, 40 mare street") == keys(7)

    def test_organisations_are_searchable(self, gazetteer: Database) -> None:
        assert found(gazetteer, "hilltop bakery") == keys(4)
        assert found(gazetteer, "st marks church") == keys(14)

    def test_saint_and_street_are_told_apart(self, gazetteer: Database) -> None:
        assert found(gazetteer, "12 st johns rd") == keys(12)
        assert found(gazetteer, "5 saint john's road") == keys(11)

    def test_a_postcode_in_the_query_filters(self, gazetteer: Database) -> None:
        assert found(gazetteer, "mare street e8 1aa") == keys(1, 3, 10)
        assert found(gazetteer, "12 E81AA") == keys(1, 3)
        assert found(gazetteer, "st johns road e1") == keys(12)

    def test_unknown_words_match_nothing(self, gazetteer: Database) -> None:
        assert found(gazetteer, "zzzz qqqq") == set()


def test_terms_are_counted_per_street(gazetteer: Database) -> None:
    with gazetteer.read() as session:
        vocab = search_index.vocabulary(session)
    # The block and its flats and the bakery are on Mare Street: six addresses name HILLTOP.
    assert vocab.term_streets["HILLTOP"] == {g.MARE_STREET: 6}
    assert vocab.street_counts(["HILLTOP", "CHURCH"]) == {
        g.MARE_STREET: 6,
        g.MARLBOROUGH_AVENUE: 1,
    }


def test_the_prefix_corrections_of_a_half_typed_word() -> None:
    vocab = search_index.Vocabulary(
        version=1,
        streets_of={"AVENUE": frozenset({1}), "AVON": frozenset({2}), "CLOSE": frozenset({3})},
        street_size={1: 10, 2: 5, 3: 7},
        address_count={},
        sorted_terms=["AVENUE", "AVON", "CLOSE"],
    )
    assert vocab.prefix_corrections("AVV") == ["AVENUE", "AVON"]  # the commoner first
    assert vocab.prefix_corrections("CLLOS") == ["CLOSE"]
    assert vocab.prefix_corrections("AV") == []  # too short to guess from
    assert vocab.prefix_corrections("XQZ") == []


def test_corrections_are_reported(gazetteer: Database) -> None:
    with gazetteer.read() as session:
        match = search_index.match_text(session, "12 mare stret")
    assert match.corrected == {"STRET": ["STREET"]}


def test_parse_query_takes_numbers_and_postcodes_apart() -> None:
    parsed = search_index.parse_query("Flat 3, 12 Mare St, E8 1AA")
    assert parsed.words == ("FLAT", "MARE", "STREET")
    assert [number.number for number in parsed.numbers] == [3, 12]
    assert parsed.postcodes is not None
    assert [prefix.canonical for prefix in parsed.postcodes] == ["E8 1AA"]


def test_refresh_of_changed_addresses_updates_their_entries(gazetteer: Database) -> None:
    with gazetteer.write() as session:
        session.execute(
            update(AddressRecord)
            .where(AddressRecord.lpi_key == g.lpi_key(2))
            .values(pao_text="Sunrise Villa")
        )
        written = search_index.refresh(session, lpi_keys=[g.lpi_key(2)])
    assert written == 1
    assert found(gazetteer, "sunrise villa") == keys(2)
    with gazetteer.read() as session:
        assert (
            session.scalar(
                select(SearchVocabulary.address_count).where(SearchVocabulary.term == "SUNRISE")
            )
            == 1
        )


def test_refresh_of_a_deleted_address_removes_it(gazetteer: Database) -> None:
    with gazetteer.write() as session:
        session.execute(
            AddressRecord.__table__.delete().where(AddressRecord.lpi_key == g.lpi_key(4))
        )
        assert search_index.refresh(session, lpi_keys=[g.lpi_key(4)]) == 0
    assert found(gazetteer, "hilltop bakery") == set()
    with gazetteer.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(SearchTerm)
                .where(SearchTerm.lpi_key == g.lpi_key(4))
            )
            == 0
        )
        assert session.get(SearchVocabulary, "BAKERY") is None
        street = session.get(SearchStreet, g.MARE_STREET)
        assert street is not None
        assert street.address_count == 9


def test_refresh_of_a_renamed_street_finds_it_by_its_new_name(gazetteer: Database) -> None:
    with gazetteer.write() as session:
        session.execute(
            update(Street)
            .where(Street.usrn == g.MARTELLO_STREET)
            .values(descriptor="Tyssen Street")
        )
        search_index.refresh(session, usrns=[g.MARTELLO_STREET])
    assert found(gazetteer, "3 tyssen street") == keys(15)
    assert found(gazetteer, "3 martello street") == set()


def test_a_process_sees_another_refresh_through_the_version(gazetteer: Database) -> None:
    with gazetteer.read() as session:
        before = search_index.vocabulary(session)
    with gazetteer.write() as session:
        session.execute(
            update(AddressRecord)
            .where(AddressRecord.lpi_key == g.lpi_key(13))
            .values(pao_text="Quenby Lodge")
        )
        search_index.refresh(session, lpi_keys=[g.lpi_key(13)])
    with gazetteer.read() as session:
        after = search_index.vocabulary(session)
    assert after.version == before.version + 1
    assert not before.knows("QUENBY")
    assert after.knows("QUENBY")


def test_a_full_refresh_rebuilds_the_same_index(gazetteer: Database) -> None:
    def snapshot() -> list[tuple[object, ...]]:
        with gazetteer.read() as session:
            return [
                tuple(row)
                for row in session.execute(
                    select(SearchEntry.lpi_key, SearchEntry.sort_key, SearchEntry.words).order_by(
                        SearchEntry.lpi_key
                    )
                )
            ]

    first = snapshot()
    with gazetteer.write() as session:
        assert search_index.refresh(session) == len(g.ADDRESSES)
    assert snapshot() == first


def test_refreshing_every_address_by_key_writes_what_a_full_refresh_writes(
    gazetteer: Database,
) -> None:
    def snapshot() -> list[tuple[object, ...]]:
        with gazetteer.read() as session:
            entries = [
                tuple(row)
                for row in session.execute(
                    select(*SearchEntry.__table__.c).order_by(SearchEntry.lpi_key)
                )
            ]
            terms = [
                tuple(row)
                for row in session.execute(
                    select(SearchTerm.term, SearchTerm.usrn, SearchTerm.lpi_key).order_by(
                        SearchTerm.term, SearchTerm.lpi_key
                    )
                )
            ]
            counts = [
                tuple(row)
                for row in session.execute(
                    select(
                        SearchTermStreet.term, SearchTermStreet.usrn, SearchTermStreet.address_count
                    ).order_by(SearchTermStreet.term, SearchTermStreet.usrn)
                )
            ]
        return [*entries, *terms, *counts]

    full = snapshot()
    with gazetteer.write() as session:
        every = list(session.scalars(select(AddressRecord.lpi_key)))
        assert search_index.refresh(session, lpi_keys=every) == len(g.ADDRESSES)
    assert snapshot() == full


def test_the_sort_key_orders_by_street_then_number(gazetteer: Database) -> None:
    with gazetteer.read() as session:
        order = list(
            session.scalars(
                select(SearchEntry.lpi_key)
                .where(SearchEntry.usrn == g.MARE_STREET)
                .order_by(SearchEntry.sort_key)
            )
        )
    # 9, 12, 12A, 16-18, 21, then number 40: the block, its flats 1-3, then the alternative.
    assert order == [g.lpi_key(n) for n in (10, 1, 3, 4, 2, 5, 6, 7, 8, 9)]
