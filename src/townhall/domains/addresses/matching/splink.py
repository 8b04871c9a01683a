"""Batch matching with uk-address-matcher (MoJ's pretrained Splink model) on an in-memory DuckDB.

This module owns the uk-address-matcher path: reading the gazetteer into a DuckDB table in the
shape it takes (``unique_id`` the UPRN, ``address_concat`` the printed address without its
postcode, ``postcode``; every live, alternative, provisional and historic LPI, so a UPRN has
several variants to be matched against, as its documentation recommends), running its default
stages (exact match, then the Splink model) on a list of messy addresses, and turning each
answer into a ``MatchOutcome``: the model's match weight and distinguishability (the gap to the
next UPRN) become a score in [0, 1], its match reason a reason in words, and the next candidates
the runners-up.

Its acceptance follows its documentation's guidance on choosing a threshold: keep every
candidate, and accept the best only at or above a match weight and a distinguishability chosen
on labelled data (ours: the address-errors strings of ``bench/addresses_matching.py``, on
another seed than the reported one; ADR 19). The score is built so that exactly those
thresholds give ``results.MATCHED``. uk-address-matcher, Splink and DuckDB are imported inside
the functions: they take seconds to import and the API never needs them.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from townhall.domains.addresses.matching.gazetteer import gazetteer_rows
from townhall.domains.addresses.matching.results import MATCHED, Match, MatchInput, MatchOutcome
from townhall.domains.addresses.text import single_line
from townhall.platform.db import Database

if TYPE_CHECKING:
    import duckdb

# Accepted when the best UPRN's match weight reaches this and it is at least
# DISTINGUISHABILITY ahead of the next UPRN (a lone candidate has no rival). Chosen on labelled
# data as uk-address-matcher's documentation asks (ADR 19); its own Hackney benchmark also
# uses a distinguishability of 1.
MATCH_WEIGHT = 21.0
DISTINGUISHABILITY = 1.0
RUNNERS_UP = 3
_STATUSES = (1, 3, 6, 8)
# log2(9): a weight this far above a threshold is odds of 9 to 1, a score of MATCHED (0.9).
_AT_THRESHOLD = math.log2(MATCHED / (1.0 - MATCHED))

# uk-address-matcher's match reasons, in words.
_REASONS = {
    "exact": "the address and postcode are exactly the gazetteer's",
    "exact_no_whitespace": "the address and postcode are the gazetteer's but for spacing",
    "exact_flat_retraction": "the address is the gazetteer's without the word FLAT",
    "exact_partial_postcode": "the address is exact and the postcode nearly so",
    "peeled_address": "the address is the gazetteer's without its town or locality",
    "peeled_address_stripped": "the address is the gazetteer's without its town or punctuation",
    "peeled_address_partial_postcode": "the address is the gazetteer's, the postcode nearly so",
    "unique_trigram": "only this address shares its rarest letter sequences",
    "splink": "the Splink model",
}


@dataclass(frozen=True, slots=True)
class _Candidate:
    uprn: int
    weight: float | None


def _odds_score(excess: float) -> float:
    """A score from how far (in bits of evidence) a weight is above or below its threshold."""
    exponent = -(excess + _AT_THRESHOLD)
    if exponent > 60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, exponent))


def _reason(match_reason: str, weight: float | None, distinguishability: float | None) -> str:
    key = match_reason.split(":", 1)[0].strip()
    words = _REASONS.get(key, match_reason)
    if key != "splink" or weight is None:
        return words
    if distinguishability is None:
        return f"{words}: match weight {weight:.1f}, the only candidate"
    return f"{words}: match weight {weight:.1f}, {distinguishability:.1f} ahead of the next"


# The loggers uk-address-matcher runs through: each stage, every SQL statement, timings.
_CHATTY_LOGGERS = ("uk_address_matcher", "splink", "sqlglot")


@contextmanager
def _quiet(*, logs: bool) -> Iterator[None]:
    """Mute its progress logging (when ``logs`` is false) and the one warning it raises.

    uk-address-matcher 1.5.3 still calls ``importlib.resources.path`` (deprecated since
    Python 3.11); only that warning is ignored.
    """
    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    if not logs:
        for logger in loggers:
            logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r"path is deprecated\. Use files\(\) instead",
                category=DeprecationWarning,
            )
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class SplinkMatcher:
    """uk-address-matcher's default stages against a snapshot of the gazetteer held in DuckDB."""

    def __init__(
        self,
        rows: Iterable[tuple[int, str, str | None, str]],
        *,
        match_weight: float = MATCH_WEIGHT,
        distinguishability: float = DISTINGUISHABILITY,
        show_progress: Literal["off", "stages", "auto"] = "off",
    ) -> None:
        """``rows`` are (UPRN, address without postcode, postcode, printed address with it).

        ``show_progress`` is uk-address-matcher's own: "off" also mutes its log lines.
        """
        import duckdb  # noqa: PLC0415

        self.match_weight = match_weight
        self.distinguishability = distinguishability
        self.show_progress = show_progress
        self.printed: dict[int, str] = {}
        canonical: list[tuple[str, str, str | None]] = []
        for uprn, address, postcode, printed in rows:
            self.printed.setdefault(uprn, printed)
            canonical.append((str(uprn), address, postcode))
        self.size = len(canonical)
        self._folder: str | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None
        self._connection: duckdb.DuckDBPyConnection = duckdb.connect()
        self._connection.execute(
            "CREATE TABLE townhall_canonical "
            "(unique_id VARCHAR, address_concat VARCHAR, postcode VARCHAR)"
        )
        _insert(self._connection, "townhall_canonical", canonical)

    @classmethod
    def load(cls, database: Database, exclude_uprns: Iterable[int] = frozenset()) -> SplinkMatcher:
        """Read every live, alternative, provisional and historic address of the database."""
        rows: list[tuple[int, str, str | None, str]] = []
        for row in gazetteer_rows(database, exclude_uprns):
            (uprn, _key, _usrn, _status, s1, s1x, s2, s2x, sao, p1, p1x, p2, p2x, pao,
             postcode, street, locality, town, classification) = row  # fmt: skip
            parts: dict[str, Any] = {
                "sao_start_number": s1,
                "sao_start_suffix": s1x,
                "sao_end_number": s2,
                "sao_end_suffix": s2x,
                "sao_text": sao,
                "pao_start_number": p1,
                "pao_start_suffix": p1x,
                "pao_end_number": p2,
                "pao_end_suffix": p2x,
                "pao_text": pao,
                "street": street,
                "locality": locality,
                "town": town,
                "classification_code": classification,
            }
            rows.append(
                (
                    int(uprn),
                    single_line(**parts),
                    postcode,
                    single_line(**parts, postcode=postcode),
                )
            )
        return cls(rows)

    def _prepared(self) -> str:
        """The gazetteer cleaned, indexed and written once, for every chunk matched after."""
        if self._folder is None:
            from uk_address_matcher import (  # type: ignore[import-untyped]  # noqa: PLC0415
                prepare_canonical_folder,
            )

            folder = tempfile.mkdtemp(prefix="townhall-ukam-")
            # Removed when the matcher is closed or dropped, whichever comes first.
            self._cleanup = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            prepare_canonical_folder(
                self._connection.table("townhall_canonical"),
                folder,
                con=self._connection,
                overwrite=True,
                show_progress=self.show_progress,
            )
            self._folder = folder
        return self._folder

    def close(self) -> None:
        """Release the DuckDB connection, its snapshot and the prepared gazetteer."""
        self._connection.close()
        if self._cleanup is not None:
            self._cleanup()
        self._folder = None

    def __enter__(self) -> SplinkMatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def match(self, inputs: Sequence[MatchInput]) -> dict[str | None, MatchOutcome]:
        """Each input's outcome, keyed by its id (ids should be unique; None is one key)."""
        keys = [f"i{position}" for position in range(len(inputs))]
        if not inputs:
            return {}
        if self.size == 0:
            return {
                item.id: MatchOutcome(
                    item.id, None, reason="the gazetteer is empty", method="splink"
                )
                for item in inputs
            }
        chosen, candidates = self._run(keys, inputs)
        outcomes: dict[str | None, MatchOutcome] = {}
        for key, item in zip(keys, inputs, strict=True):
            outcomes[item.id] = self._outcome(item, chosen.get(key), candidates.get(key, []))
        return outcomes

    def _run(
        self, keys: Sequence[str], inputs: Sequence[MatchInput]
    ) -> tuple[dict[str, tuple[Any, ...]], dict[str, list[_Candidate]]]:
        """uk-address-matcher's chosen answer and its Splink candidates, by input key."""
        with _quiet(logs=self.show_progress != "off"):
            from uk_address_matcher import (  # noqa: PLC0415
                AddressMatcher,
                ExactMatchStage,
                SplinkStage,
            )

            connection = self._connection
            table = "townhall_messy"
            connection.execute(f"DROP TABLE IF EXISTS {table}")
            connection.execute(
                f"CREATE TABLE {table} "
                "(unique_id VARCHAR, address_concat VARCHAR, postcode VARCHAR)"
            )
            _insert(
                connection,
                table,
                [
                    (key, item.text, item.postcode or None)
                    for key, item in zip(keys, inputs, strict=True)
                ],
            )
            # Every candidate kept (thresholds at their most permissive): the thresholds are
            # applied here, so an answer under them is still reported, as unsure.
            stage = SplinkStage(
                final_match_weight_threshold=-1e9, final_distinguishability_threshold=None
            )
            matcher = AddressMatcher(
                canonical_addresses=self._prepared(),
                addresses_to_match=connection.table(table),
                con=connection,
                stages=[ExactMatchStage(), stage],
                show_progress=self.show_progress,
            )
            with matcher.match() as result:
                matches = result.matches()
                # When every input matched exactly the Splink stage did not run: no weights.
                wanted = ["unique_id", "resolved_canonical_id", "match_reason"] + [
                    column if column in matches.columns else f"NULL AS {column}"
                    for column in ("match_weight", "distinguishability")
                ]
                chosen = {row[0]: row[1:] for row in matches.select(", ".join(wanted)).fetchall()}
                candidates: dict[str, list[_Candidate]] = {}
                if stage.best_matches_table is not None:
                    ranked = connection.sql(
                        f"SELECT unique_id_r, unique_id_l, match_weight "  # noqa: S608
                        f"FROM {stage.best_matches_table} "
                        f"WHERE unique_id_l IS NOT NULL AND candidate_rank <= {RUNNERS_UP + 1} "
                        f"ORDER BY unique_id_r, candidate_rank"
                    ).fetchall()
                    for key, uprn, weight in ranked:
                        candidates.setdefault(key, []).append(_Candidate(int(uprn), weight))
            connection.execute(f"DROP TABLE IF EXISTS {table}")
        return chosen, candidates

    def _outcome(
        self, item: MatchInput, chosen: tuple[Any, ...] | None, candidates: list[_Candidate]
    ) -> MatchOutcome:
        if chosen is None or chosen[0] is None:
            return MatchOutcome(
                item.id,
                None,
                reason="uk-address-matcher found no candidate sharing enough with it",
                method="splink",
            )
        uprn_text, match_reason, weight, distinguishability = chosen
        uprn = int(uprn_text)
        reason = _reason(str(match_reason), weight, distinguishability)
        if weight is None:  # a deterministic stage: an exact or near-exact address
            score = 1.0
            accepted = True
        else:
            score = self.score(weight, distinguishability)
            accepted = weight >= self.match_weight and (
                distinguishability is None or distinguishability >= self.distinguishability
            )
        best = Match(uprn, round(score, 4), self.printed.get(uprn, ""), reason)
        top = candidates[0].weight if candidates else None
        runners = tuple(
            Match(
                c.uprn,
                round(self._runner_score(c.weight, top), 4),
                self.printed.get(c.uprn, ""),
                "the Splink model's next candidate",
            )
            for c in candidates
            if c.uprn != uprn and c.weight is not None
        )[:RUNNERS_UP]
        if accepted:
            return MatchOutcome(item.id, best, runners, score=best.score, reason=reason,
                                method="splink")  # fmt: skip
        if distinguishability is not None and distinguishability < self.distinguishability:
            reason += "; another address fits almost as well"
        return MatchOutcome(
            item.id,
            None,
            (best, *runners)[: 1 + RUNNERS_UP],
            score=best.score,
            reason=reason,
            method="splink",
        )

    def score(self, weight: float, distinguishability: float | None) -> float:
        """A Splink answer's score: exactly MATCHED where both thresholds are just met."""
        by_weight = _odds_score(weight - self.match_weight)
        if distinguishability is None:
            return by_weight
        return min(by_weight, _odds_score(distinguishability - self.distinguishability))

    def _runner_score(self, weight: float | None, top: float | None) -> float:
        if weight is None:
            return 0.0
        # A runner-up is behind the best by (top - weight): its distinguishability is negative.
        behind = (top - weight) if top is not None else 0.0
        return self.score(weight, -behind)


def _insert(
    connection: duckdb.DuckDBPyConnection, table: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Rows into a DuckDB table, through a DataFrame (executemany is row by row)."""
    if not rows:
        return
    import pandas as pd  # type: ignore[import-untyped]  # noqa: PLC0415

    frame = pd.DataFrame(rows, columns=["unique_id", "address_concat", "postcode"], dtype=object)
    connection.register("townhall_rows", frame)
    try:
        connection.execute(f"INSERT INTO {table} SELECT * FROM townhall_rows")  # noqa: S608
    finally:
        connection.unregister("townhall_rows")
