"""What a matcher is given and what it answers, whichever matcher it is.

A ``MatchInput`` is one messy address; a ``MatchOutcome`` is the best UPRN (or none), its score
in [0, 1], the reason in words, the matched address printed on one line, and the runners-up.
``verdict`` sorts outcomes into matched, unsure and no match for summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# At or above MATCHED a match is given; between UNSURE and MATCHED the best candidate is given
# as a runner-up only. The fast matcher's score is calibrated so that MATCHED is where precision
# on the accuracy set reaches 99.6% (ADR 19).
MATCHED = 0.90
UNSURE = 0.40


@dataclass(frozen=True, slots=True)
class MatchInput:
    """One messy address: free text and, when the caller has it, a postcode."""

    text: str
    postcode: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A gazetteer address a messy address may be, with its score."""

    uprn: int
    score: float
    address: str
    reason: str


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """The answer for one messy address: the best match (or None) and the runners-up."""

    id: str | None
    best: Match | None
    runners_up: tuple[Match, ...] = field(default_factory=tuple)
    # The score and reason even when nothing reached the threshold: why there is no match.
    score: float = 0.0
    reason: str = "no gazetteer address shares a postcode, street or building with it"
    method: str = "fast"

    @property
    def uprn(self) -> int | None:
        """The matched UPRN, or None."""
        return self.best.uprn if self.best is not None else None

    @property
    def verdict(self) -> str:
        """``matched``, ``unsure`` (a candidate scored, but under the threshold) or ``no match``."""
        if self.best is not None:
            return "matched"
        if self.score >= UNSURE:
            return "unsure"
        return "no match"
