"""Matching a batch of any size with a chosen method: fast, splink (uk-address-matcher) or best.

This module owns the batch entry point the CLI uses. Inputs are read and matched a chunk at a
time (``CHUNK`` addresses), so memory holds one chunk's inputs and outcomes plus the gazetteer
snapshot, whatever the number of rows; outcomes come back in input order.

* ``fast``: Townhall's own matcher over the gazetteer held in memory;
* ``splink``: uk-address-matcher's default stages (``splink.SplinkMatcher``);
* ``best``: the fast matcher first, then uk-address-matcher only for the addresses the fast one
  was unsure of (``worth_asking``); uk-address-matcher's answer replaces the fast one's only
  when it accepted (its thresholds met) the fast matcher's own best candidate (``better``).
  Sending it the "no match" addresses too was measured to cost precision (ADR 19).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Literal, get_args

from townhall.domains.addresses.matching.fast import FastMatcher
from townhall.domains.addresses.matching.gazetteer import MemoryGazetteer
from townhall.domains.addresses.matching.results import MatchInput, MatchOutcome
from townhall.platform.db import Database

if TYPE_CHECKING:
    from townhall.domains.addresses.matching.splink import SplinkMatcher
    from townhall.platform.progress import BuildProgress

Method = Literal["fast", "splink", "best"]
METHODS: tuple[str, ...] = get_args(Method)
CHUNK = 50_000


def match_batch(
    database: Database,
    inputs: Iterable[MatchInput],
    *,
    method: Method,
    on_progress: BuildProgress | None = None,
    total: int | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[MatchOutcome]:
    """Each input's outcome, in input order, matched ``chunk_size`` at a time.

    ``total`` (the number of inputs, when known) sizes the progress bar; the gazetteer is read
    once, when the first outcome is asked for.
    """
    if method not in METHODS:
        msg = f"unknown matching method {method!r}: use one of {', '.join(METHODS)}"
        raise ValueError(msg)
    return _match_batch(
        database, inputs, method, on_progress=on_progress, total=total, chunk_size=chunk_size
    )


def _match_batch(
    database: Database,
    inputs: Iterable[MatchInput],
    method: Method,
    *,
    on_progress: BuildProgress | None,
    total: int | None,
    chunk_size: int,
) -> Iterator[MatchOutcome]:
    if on_progress is not None:
        on_progress.phase("Reading the gazetteer", 1)
    fast = FastMatcher(MemoryGazetteer.load(database)) if method != "splink" else None
    splink: SplinkMatcher | None = None
    if method == "splink":
        splink = _splink(database)
    if on_progress is not None:
        on_progress.advance(1)
        on_progress.phase("Matching addresses", total or 0)
    try:
        iterator = iter(inputs)
        while chunk := list(islice(iterator, chunk_size)):
            if fast is not None:
                outcomes = [fast.match(item) for item in chunk]
            else:
                outcomes = [MatchOutcome(item.id, None, method="splink") for item in chunk]
            again = [
                number
                for number, outcome in enumerate(outcomes)
                if method == "splink" or (method == "best" and worth_asking(outcome))
            ]
            if again:
                if splink is None:
                    splink = _splink(database)
                second = _splink_outcomes(splink, [chunk[number] for number in again])
                for number, outcome in zip(again, second, strict=True):
                    outcomes[number] = (
                        outcome if method == "splink" else better(outcomes[number], outcome)
                    )
            if on_progress is not None:
                on_progress.advance(len(chunk))
            yield from outcomes
    finally:
        if splink is not None:
            splink.close()


def _splink(database: Database) -> SplinkMatcher:
    # Imported here: uk-address-matcher takes seconds to import and only this path needs it.
    from townhall.domains.addresses.matching.splink import SplinkMatcher  # noqa: PLC0415

    return SplinkMatcher.load(database)


def _splink_outcomes(matcher: SplinkMatcher, items: Sequence[MatchInput]) -> list[MatchOutcome]:
    """uk-address-matcher's outcomes in order, whatever the inputs' own ids (None, repeated)."""
    keyed = [dataclasses.replace(item, id=str(number)) for number, item in enumerate(items)]
    found = matcher.match(keyed)
    return [
        dataclasses.replace(found[key.id], id=item.id)
        for key, item in zip(keyed, items, strict=True)
    ]


# The fast matcher's best candidate must score at least this for uk-address-matcher's agreement
# to make it a match. Chosen on the seed the weights are fitted on (2027, 6,000 strings), never on
# the reported one: from 0.4 to 0.5, 4 fewer false positives for 4 fewer true ones (precision
# 99.65% to 99.73%, recall 95.80% to 95.72%); 0.6 changed nothing more (ADR 19).
ASK_FROM = 0.5


def worth_asking(fast: MatchOutcome) -> bool:
    """Whether uk-address-matcher could change the fast answer under ``better``'s rule."""
    return fast.verdict == "unsure" and fast.score >= ASK_FROM


def better(fast: MatchOutcome, splink: MatchOutcome) -> MatchOutcome:
    """The better of the fast matcher's answer and uk-address-matcher's for the same address.

    uk-address-matcher's match is taken only when the fast matcher was unsure (a candidate
    scored between ``ASK_FROM`` and ``MATCHED``) and uk-address-matcher accepted that same
    candidate, the fast matcher's best: two matchers agreeing. Otherwise the fast answer stands.
    Measured on the address-errors strings (ADR 19), uk-address-matcher's other answers for
    these addresses were wrong far more often: for a "no match" most are a neighbouring flat of
    a property that is not in the gazetteer.
    """
    if not worth_asking(fast) or splink.best is None or not fast.runners_up:
        return fast
    if fast.runners_up[0].uprn == splink.best.uprn:
        return splink
    return fast
