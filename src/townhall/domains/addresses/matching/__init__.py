"""Address matching: from a messy address (free text, perhaps a postcode) to a UPRN.

This package owns reading a messy address (``parse``), finding the gazetteer addresses it may
be (``gazetteer``: by postcode, street, building name and number, from the database or from a
snapshot held in memory), scoring each (``score``: field comparisons, numbers exact, a score in
[0, 1] calibrated on the synthetic accuracy set), the fast matcher for interactive lookups
(``fast``), the batch matcher built on uk-address-matcher (``splink``, imported lazily), and
the choice between them (``methods``). ADR 19 records the measurements behind the choices.
"""

from __future__ import annotations

from townhall.domains.addresses.matching.fast import FastMatcher
from townhall.domains.addresses.matching.gazetteer import (
    DatabaseGazetteer,
    GazetteerAddress,
    MemoryGazetteer,
)
from townhall.domains.addresses.matching.parse import ParsedAddress, parse_address
from townhall.domains.addresses.matching.results import Match, MatchInput, MatchOutcome

__all__ = [
    "DatabaseGazetteer",
    "FastMatcher",
    "GazetteerAddress",
    "Match",
    "MatchInput",
    "MatchOutcome",
    "MemoryGazetteer",
    "ParsedAddress",
    "parse_address",
]
