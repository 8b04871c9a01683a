"""The fast matcher: one messy address to a UPRN in milliseconds, for interactive lookups.

This module owns the whole of a single match: read the address, fetch its candidates from a
``Gazetteer`` (the database, or a snapshot in memory), compare each, keep the best per UPRN, and
turn the best probability into a score that also accounts for a runner-up as good as the best
(two "12 High Street"s in different towns with no postcode: neither is a match). Below the
threshold (``results.MATCHED``) the answer is no match, with the candidates as runners-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from townhall.domains.addresses.matching.gazetteer import Gazetteer
from townhall.domains.addresses.matching.parse import ParsedAddress, parse_address
from townhall.domains.addresses.matching.results import (
    MATCHED,
    Match,
    MatchInput,
    MatchOutcome,
)
from townhall.domains.addresses.matching.score import Comparison, compare, decide

RUNNERS_UP = 3


@dataclass(frozen=True, slots=True)
class Ranking:
    """A messy address's candidates whose numbers agree, best first, one per UPRN."""

    parsed: ParsedAddress
    comparisons: list[Comparison]
    # Whether the written postcode has any gazetteer address (a best candidate off a known
    # postcode is doubtful; off a mistyped one, less so).
    postcode_known: bool


class FastMatcher:
    """Matches messy addresses against a gazetteer, one at a time."""

    def __init__(
        self,
        gazetteer: Gazetteer,
        *,
        threshold: float = MATCHED,
        weights: dict[str, float] | None = None,
        decision_weights: dict[str, float] | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        self.threshold = threshold
        self.weights = weights
        self.decision_weights = decision_weights

    def rank(self, parsed: ParsedAddress) -> Ranking:
        """The candidates whose numbers agree, one per UPRN (its best LPI), best first."""
        best_per_uprn: dict[int, Comparison] = {}
        postcode_known = False
        for address in self.gazetteer.candidates(parsed):
            postcode_known = postcode_known or address.postcode == parsed.postcode
            compared = compare(parsed, address, self.weights)
            if compared is None:
                continue
            held = best_per_uprn.get(address.uprn)
            if held is None or _rank(compared) > _rank(held):
                best_per_uprn[address.uprn] = compared
        ranked = sorted(best_per_uprn.values(), key=_rank, reverse=True)
        return Ranking(parsed, ranked, postcode_known=postcode_known)

    def decide(self, ranking: Ranking) -> float:
        """The probability that the ranking's best candidate is the address."""
        return decide(
            ranking.parsed,
            ranking.comparisons,
            postcode_known=ranking.postcode_known,
            weights=self.decision_weights,
        )

    def match(self, item: MatchInput) -> MatchOutcome:
        """The best UPRN for one messy address, its score, reason and runners-up."""
        parsed = parse_address(item.text, item.postcode)
        if parsed.is_empty:
            return MatchOutcome(item.id, None, reason="the address has no words or numbers")
        ranking = self.rank(parsed)
        ranked = ranking.comparisons
        if not ranked:
            return MatchOutcome(
                item.id,
                None,
                reason="no address with these numbers on this postcode, street or building",
            )
        first = ranked[0]
        second = ranked[1].probability if len(ranked) > 1 else 0.0
        score = self.decide(ranking)
        rest = sum(c.probability for c in ranked[1:])
        runners = tuple(
            Match(c.address.uprn, round(_share(c.probability, rest, score), 4),
                  c.address.single_line, c.reason)
            for c in ranked[1 : 1 + RUNNERS_UP]
        )  # fmt: skip
        best = Match(first.address.uprn, round(score, 4), first.address.single_line, first.reason)
        if score >= self.threshold:
            return MatchOutcome(item.id, best, runners, score=best.score, reason=best.reason)
        reason = first.reason
        if second >= 0.5 * first.probability and len(ranked) > 1:
            reason += "; another address fits as well"
        return MatchOutcome(
            item.id, None, (best, *runners)[: 1 + RUNNERS_UP], score=best.score, reason=reason
        )

    def match_many(self, items: Iterable[MatchInput]) -> Iterator[MatchOutcome]:
        """Each address's outcome, in order."""
        for item in items:
            yield self.match(item)


def _rank(comparison: Comparison) -> tuple[float, int]:
    # Equal logits: the approved address first.
    return comparison.logit, -comparison.address.logical_status


def _share(probability: float, rest: float, best: float) -> float:
    """A runner-up's score: its share of what the best leaves (1 - best), at most its own."""
    if probability <= 0.0:
        return 0.0
    return min(probability, (1.0 - best) * probability / rest)
