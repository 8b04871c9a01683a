"""Tables of the address search index, derived from the gazetteer and rebuilt from it at will.

The index is kept small on purpose. A street's words (descriptor, locality, town) are indexed
once per street (``address_search_streets``: a few thousand rows), not once per address.
Only the words an address has of its own (flat and building names, organisation) are posted per
address (``address_search_terms``, with its street); most houses have none, and
``address_search_term_streets`` counts them per street. ``address_search_entries`` holds one
row per address with what a search filters on and its order (``sort_key``: street, number,
flat, unique), so pages are keyset pages. ``address_search_vocabulary`` counts each term, for
typo correction and for searching the rarest term first; ``address_search_state`` carries a
version that changes with every refresh, so each process knows when its cached vocabulary is
stale. Only ``search_index.refresh`` writes these tables, in the caller's unit of work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base


class SearchEntry(Base):
    """One address (LPI) as the search sees it."""

    __tablename__ = "address_search_entries"

    # No foreign key to the LPI: a deleted address leaves its entry until the refresh that
    # follows in the same unit of work removes it.
    lpi_key: Mapped[str] = mapped_column(String(14), primary_key=True)
    uprn: Mapped[int] = mapped_column(BigInteger)
    usrn: Mapped[int] = mapped_column(BigInteger)
    # Street, building number, flat, LPI key: unique, the order of every address list.
    sort_key: Mapped[str] = mapped_column(String(200))
    postcode_outward: Mapped[str] = mapped_column(String(4))
    postcode_inward: Mapped[str] = mapped_column(String(3))
    # House numbers, from the number fields or, failing those, from the names ("Flat 3").
    pao_start: Mapped[int | None] = mapped_column(Integer)
    pao_suffix: Mapped[str | None] = mapped_column(String(2))
    pao_end: Mapped[int | None] = mapped_column(Integer)
    sao_start: Mapped[int | None] = mapped_column(Integer)
    sao_suffix: Mapped[str | None] = mapped_column(String(2))
    sao_end: Mapped[int | None] = mapped_column(Integer)
    # The address's own normalised words (not its street's), space separated.
    words: Mapped[str] = mapped_column(String(400), default="")

    # Indexes, not constraints, so a full refresh can drop them and build them again after
    # loading (several times faster than keeping them up to date row by row). The postcode
    # index ends in the sort key: a postcode's first page is read in order, never sorted.
    __table_args__ = (
        Index("ix_address_search_entries_sort_key", "sort_key", unique=True),
        Index(
            "ix_address_search_entries_postcode", "postcode_outward", "postcode_inward", "sort_key"
        ),
        # A street's house and flat numbers, with the key (the primary key of a table without
        # rowid rides along on SQLite): a street's addresses with a number are read from the
        # index alone.
        Index(
            "ix_address_search_entries_usrn_numbers",
            "usrn",
            "pao_start",
            "pao_end",
            "sao_start",
            "sao_end",
        ),
        # On SQLite the rows live in the primary key's own tree (no rowid, no second copy of
        # the key): a third less to write and read.
        {"sqlite_with_rowid": False},
    )


class SearchTerm(Base):
    """A word an address has of its own (a flat, building or organisation name).

    Keyed by term, then street: the addresses of a street with a word are one range of the key,
    so a query reads only the streets its other words allow.
    """

    __tablename__ = "address_search_terms"

    term: Mapped[str] = mapped_column(String(60), primary_key=True)
    usrn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    lpi_key: Mapped[str] = mapped_column(String(14), primary_key=True)

    __table_args__ = (
        Index("ix_address_search_terms_lpi_key", "lpi_key"),
        {"sqlite_with_rowid": False},
    )


class SearchTermStreet(Base):
    """How many addresses of a street have a term of their own: the search's plan, in memory."""

    __tablename__ = "address_search_term_streets"

    term: Mapped[str] = mapped_column(String(60), primary_key=True)
    usrn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    address_count: Mapped[int] = mapped_column(Integer)


class SearchStreet(Base):
    """A street as the search sees it: its words (descriptor, locality, town) and size."""

    __tablename__ = "address_search_streets"

    usrn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    words: Mapped[str] = mapped_column(String(400))
    address_count: Mapped[int] = mapped_column(Integer)


class SearchVocabulary(Base):
    """How many addresses have a term of their own: for typo correction and query order."""

    __tablename__ = "address_search_vocabulary"

    term: Mapped[str] = mapped_column(String(60), primary_key=True)
    address_count: Mapped[int] = mapped_column(Integer)


class SearchState(Base):
    """The index's version: it changes with every refresh (one row, id 1)."""

    __tablename__ = "address_search_state"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
