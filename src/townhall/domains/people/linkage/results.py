"""What linkage hands to the residents service: scored pairs of source records and their evidence.

This module owns the shapes that cross from scoring (Splink, ``linkage.scoring``) to placing
records in residents (``people.residents``, ``people.review``): a scored pair of source records,
and the field by field comparison behind its score. Scoring never writes links; the residents
service never computes a score. Both sides speak in source record ids (``people_source_records``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol


class Comparison(NamedTuple):
    """One field's comparison in a pair: the two values, the level they fell in, its weight."""

    field: str  # the comparison's name in the model: "first_name", "date_of_birth"
    label: str  # as a person reads it: "First name"
    left: str | None  # the value compared, from the pair's first record (as the model saw it)
    right: str | None
    level: str  # the comparison level's description: "Exact match", "Within one character"
    # Partial match weight: log2 of the level's Bayes factor (m / u). Positive is evidence for
    # a match, negative against; 0 when the field was missing from either record.
    weight: float

    def as_json(self) -> dict[str, Any]:
        """A JSON object of the comparison (stored on review items)."""
        return self._asdict()


class ScoredPair(NamedTuple):
    """Two source records the model compared, with how likely they are one person."""

    left: int  # the smaller source record id
    right: int
    match_weight: float  # the prior plus every comparison's weight, in bits
    match_probability: float
    # The evidence, field by field, when it was asked for (review band, incremental, on demand).
    comparisons: tuple[Comparison, ...] = ()
    prior_weight: float = 0.0  # log2 of the prior odds that two records match


class Thresholds(NamedTuple):
    """Where the model's probability decides: link at ``link``, send for review from ``review``."""

    link: float
    review: float


class Scorer(Protocol):
    """A trained model ready to score pairs of source records (``linkage.scoring``)."""

    model_id: int

    def score_all(
        self,
        *,
        at_least: float,
        with_evidence_below: float,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> Iterator[ScoredPair]:
        """Every blocked pair of every source record with probability ``at_least``.

        Pairs below ``with_evidence_below`` (the review band) carry their comparisons.
        ``on_progress(phase, done, total)`` reports long phases.
        """
        ...

    def score_records(self, record_ids: Sequence[int], *, at_least: float) -> list[ScoredPair]:
        """Pairs of each given (new or changed) record with any other record, with evidence."""
        ...

    def evidence(self, left: int, right: int) -> ScoredPair:
        """One pair's score and comparisons, whether or not blocking would have paired them."""
        ...


def ordered(a: int, b: int) -> tuple[int, int]:
    """A pair of record ids, smaller first (how pairs and kept-apart rows are keyed)."""
    return (a, b) if a < b else (b, a)


def pairs_of(records: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Every ordered pair of distinct ids in ``records``."""
    ids = sorted(set(records))
    for index, left in enumerate(ids):
        for right in ids[index + 1 :]:
            yield left, right
