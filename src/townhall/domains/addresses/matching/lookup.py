"""Matching a request's addresses against the database: the entry point the API calls.

This module owns the one ``DatabaseGazetteer`` kept per database (its word index of streets and
building names is worth keeping between requests; it refreshes itself when the gazetteer
changes) and matching a list of inputs with the fast matcher.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

from townhall.domains.addresses.matching.fast import FastMatcher
from townhall.domains.addresses.matching.gazetteer import DatabaseGazetteer
from townhall.domains.addresses.matching.results import MatchInput, MatchOutcome
from townhall.platform.db import Database

_lock = threading.Lock()
_gazetteers: weakref.WeakKeyDictionary[Database, DatabaseGazetteer] = weakref.WeakKeyDictionary()


def gazetteer_of(database: Database) -> DatabaseGazetteer:
    """The database's gazetteer for lookups, made on first use."""
    with _lock:
        found = _gazetteers.get(database)
        if found is None:
            found = DatabaseGazetteer(database)
            _gazetteers[database] = found
        return found


def match_addresses(database: Database, inputs: Sequence[MatchInput]) -> list[MatchOutcome]:
    """Each input's outcome, in order, from the fast matcher on the database."""
    matcher = FastMatcher(gazetteer_of(database))
    return [matcher.match(item) for item in inputs]
