"""Benchmark: address matching accuracy and speed, Townhall's matchers against uk-address-matcher.

    python bench/addresses_matching.py --database-url sqlite:////tmp/matching-bench/borough.db
    python bench/addresses_matching.py ... --size 2000 --no-splink     # the fast matcher only
    python bench/addresses_matching.py ... --fit                         # refit score weights

The gazetteer is a demo borough (``townhall demo --size borough --build-only``: 100,000
properties). From its approved residential addresses, ``size`` records are drawn and written the
way council systems write them, errors included, by the ``address-errors`` package (its bundled
pooled profile, plus by default 10% extra typing noise: ``--extra-noise 0`` gives the profile as
fitted on real recorded addresses), which records which property each string came
from. A share (``--held-out``, 10%) of the drawn properties is removed from the gazetteer the
matchers see: those strings have no true match.

Every matcher gets the same strings and the same gazetteer, in the same run:

* ``fast``: Townhall's own matcher, with the gazetteer in memory;
* ``best``: the fast matcher, then uk-address-matcher for the strings ``methods.worth_asking``
  sends on (the fast one unsure), its answer taken when it is the fast matcher's own best
  candidate (``methods.better``), as ``townhall addresses match`` does it;
* ``uk-address-matcher``: its default ``AddressMatcher`` (exact match, then the pretrained Splink
  model), used directly, with its own acceptance (a resolved canonical id is an answer).

Definitions (an "answer" is a UPRN a matcher returns for a string):

* true positive: an answer equal to the property the string was generated from;
* false positive: an answer for a held-out string (nothing in the gazetteer is right), or an
  answer naming another property than the string's;
* false negative: no answer for a string whose property is in the gazetteer;
* precision = TP / (TP + FP); recall = TP / (strings whose property is in the gazetteer), so a
  wrong answer for a matchable string costs both precision and recall.

Figures are also given without "collisions": strings the generator itself flags as written the
same as another property's address (a dropped flat number leaves the block's address), which no
matcher can resolve. Addresses per second count the whole matcher run, preparing the gazetteer
included (uk-address-matcher prepares its canonical side every run; the fast matcher's load from
the database is counted too); the fast matcher's matching alone is given too. Last, the p50 and
p99 of one lookup through the database (``DatabaseGazetteer``, as the API does it).
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select

from townhall.domains.addresses.matching import (
    DatabaseGazetteer,
    FastMatcher,
    MatchInput,
    MemoryGazetteer,
)
from townhall.domains.addresses.matching.parse import parse_address
from townhall.domains.addresses.matching.results import MatchOutcome
from townhall.domains.addresses.matching.score import (
    DECISION_FEATURES,
    FEATURES,
    decision_features,
    features,
)
from townhall.domains.addresses.models import AddressRecord, Property, Street
from townhall.platform.db import Database

DEFAULT_URL = "sqlite:////tmp/matching-bench/borough.db"


@dataclass(frozen=True, slots=True)
class Case:
    """One messy string, the property it came from, and whether that property is held out."""

    id: str
    text: str
    postcode: str | None
    truth: int
    held_out: bool
    collision: bool
    rules: str = ""  # the generator's applied rules and noise, for looking at misses


def components(database: Database) -> list[dict[str, str]]:
    """The approved residential addresses as address-errors' components (one per UPRN)."""
    statement = (
        select(
            AddressRecord.uprn,
            AddressRecord.sao_start_number,
            AddressRecord.sao_start_suffix,
            AddressRecord.sao_text,
            AddressRecord.pao_start_number,
            AddressRecord.pao_start_suffix,
            AddressRecord.pao_end_number,
            AddressRecord.pao_text,
            AddressRecord.postcode,
            AddressRecord.usrn,
            Street.descriptor,
            Street.locality,
            Street.town,
            Property.parent_uprn,
            Property.classification_code,
        )
        .join(Street, Street.usrn == AddressRecord.usrn)
        .join(Property, Property.uprn == AddressRecord.uprn)
        .where(AddressRecord.logical_status == 1)
        .order_by(AddressRecord.lpi_key)
    )
    records: dict[str, dict[str, str]] = {}
    with database.read() as session:
        for row in session.execute(statement):
            (uprn, sn, ss, st, pn, ps, pe, pt, postcode, usrn, street, locality, town, parent,
             classification) = row  # fmt: skip
            if str(uprn) in records:
                continue
            number = f"{pn}{ps or ''}" + (f"-{pe}" if pe else "") if pn is not None else ""
            records[str(uprn)] = {
                "uprn": str(uprn),
                "subname": (st or (f"FLAT {sn}{ss or ''}" if sn is not None else "")).upper(),
                "name": (pt or "").upper(),
                "number": number,
                "streetname": street.upper(),
                "locality": (locality or "").upper(),
                "townname": town.upper(),
                "postcode": postcode,
                "parentuprn": str(parent) if parent else "",
                "usrn": str(usrn),
                "classificationcode": classification,
            }
    return list(records.values())


def messy_cases(
    records: list[dict[str, str]],
    *,
    size: int,
    held_out_share: float,
    seed: int,
    extra_noise: float = 0.1,
) -> list[Case]:
    """``size`` strings from residential records, ``held_out_share`` of them held out.

    ``extra_noise`` is typing noise added on top of the profile's learned errors (0 gives the
    profile as it was fitted on real recorded addresses).
    """
    from address_errors import Controls, Corruptor, Noise, Profile, add_context
    from address_errors.context import COLUMNS
    from address_errors.pipeline.reference import derive_columns

    rows = [{**dict.fromkeys(COLUMNS, ""), **r, "feature_type": "builtaddress"} for r in records]
    derive_columns(rows)
    add_context(rows)
    rng = random.Random(seed)
    residential = [r["uprn"] for r in rows if r["classificationcode"].startswith("R")]
    chosen = rng.sample(residential, size)
    held = set(rng.sample(chosen, round(size * held_out_share)))
    controls = Controls(noise=Noise(rate=extra_noise))
    generator = Corruptor(Profile.load(), seed=seed, controls=controls)
    generator.index(rows)
    cases = []
    for number, out in enumerate(generator.generate(chosen)):
        truth = out["source_uprn"]
        cases.append(
            Case(
                id=f"m{number}",
                text=out["recorded_address"],
                postcode=out["recorded_postcode"] or None,
                truth=int(truth),
                held_out=truth in held,
                collision=out["collision"] in ("matches_other_only", "matches_label_and_other"),
                rules="|".join(x for x in (out["applied_rules"], out["noise_ops"]) if x),
            )
        )
    return cases


def score_answers(cases: Sequence[Case], answers: dict[str, int | None]) -> dict[str, Any]:
    """Precision and recall of ``answers`` (case id to UPRN or None), overall and collision-free."""

    def figures(subset: Iterable[Case]) -> dict[str, Any]:
        tp = fp = matchable = 0
        for case in subset:
            answer = answers.get(case.id)
            if not case.held_out:
                matchable += 1
            if answer is None:
                continue
            if not case.held_out and answer == case.truth:
                tp += 1
            else:
                fp += 1
        return {
            "precision": tp / (tp + fp) if tp + fp else math.nan,
            "recall": tp / matchable if matchable else math.nan,
            "true_positives": tp,
            "false_positives": fp,
            "matchable": matchable,
        }

    return {
        "all": figures(cases),
        "without_collisions": figures(c for c in cases if not c.collision),
    }


def run_fast(
    database: Database, cases: Sequence[Case], held: set[int]
) -> tuple[dict[str, MatchOutcome], float, float]:
    """The fast matcher's outcomes, and its seconds (loading, matching)."""
    started = time.perf_counter()
    gazetteer = MemoryGazetteer.load(database, exclude_uprns=held)
    loaded = time.perf_counter()
    matcher = FastMatcher(gazetteer)
    outcomes = {c.id: matcher.match(MatchInput(c.text, c.postcode, c.id)) for c in cases}
    return outcomes, loaded - started, time.perf_counter() - loaded


def run_uk_address_matcher(
    database: Database, cases: Sequence[Case], held: set[int]
) -> tuple[dict[str, MatchOutcome], float]:
    """uk-address-matcher's default AddressMatcher: outcomes and seconds for the whole run."""
    from townhall.domains.addresses.matching.splink import SplinkMatcher

    started = time.perf_counter()
    with SplinkMatcher.load(database, exclude_uprns=held) as matcher:
        results = matcher.match([MatchInput(c.text, c.postcode, c.id) for c in cases])
    seconds = time.perf_counter() - started
    return {str(key): value for key, value in results.items()}, seconds


def database_latency(database: Database, cases: Sequence[Case], count: int) -> dict[str, float]:
    """p50 and p99 milliseconds of one lookup through the database (the API's path)."""
    gazetteer = DatabaseGazetteer(database)
    matcher = FastMatcher(gazetteer)
    matcher.match(MatchInput(cases[0].text, cases[0].postcode))  # reads the word index once
    times = []
    for case in cases[:count]:
        started = time.perf_counter()
        matcher.match(MatchInput(case.text, case.postcode))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "lookups": len(times),
        "p50_ms": round(times[len(times) // 2], 2),
        "p99_ms": round(times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)], 2),
    }


def _logistic(rows: list[list[float]], labels: list[float]) -> list[float]:
    """Logistic regression weights by Newton's method, with a little L2."""
    import numpy as np

    x = np.array(rows)
    y = np.array(labels)
    w = np.zeros(x.shape[1])
    ridge = 1e-3 * np.eye(x.shape[1])
    for _ in range(25):  # iteratively reweighted least squares
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        w -= np.linalg.solve(hessian, gradient)
    return [round(float(value), 3) for value in w]


def fit_weights(
    database: Database, *, size: int, seed: int
) -> tuple[dict[str, float], dict[str, float]]:
    """The score's two sets of weights, fitted on a generated training set.

    First the candidate weights (every candidate whose numbers agree, labelled by whether it is
    the string's property), then, with those, the decision weights (the best candidate of each
    string, labelled the same way).
    """
    records = components(database)
    cases = messy_cases(records, size=size, held_out_share=0.1, seed=seed)
    held = {c.truth for c in cases if c.held_out}
    gazetteer = MemoryGazetteer.load(database, exclude_uprns=held)
    # One string in five without its postcode: residents often leave it out.
    parsed_cases = [
        (case, parse_address(case.text, None if number % 5 == 0 else case.postcode))
        for number, case in enumerate(cases)
    ]
    rows: list[list[float]] = []
    labels: list[float] = []
    for case, parsed in parsed_cases:
        for address in gazetteer.candidates(parsed):
            values = features(parsed, address)
            if values is None:
                continue
            rows.append([values[name] for name in FEATURES])
            labels.append(float(address.uprn == case.truth and not case.held_out))
    weights = dict(zip(FEATURES, _logistic(rows, labels), strict=True))
    matcher = FastMatcher(gazetteer, weights=weights)
    rows, labels = [], []
    for case, parsed in parsed_cases:
        ranking = matcher.rank(parsed)
        if not ranking.comparisons:
            continue
        values = decision_features(
            parsed, ranking.comparisons, postcode_known=ranking.postcode_known
        )
        rows.append([values[name] for name in DECISION_FEATURES])
        best = ranking.comparisons[0].address.uprn
        labels.append(float(best == case.truth and not case.held_out))
    decision = dict(zip(DECISION_FEATURES, _logistic(rows, labels), strict=True))
    return weights, decision


def run(
    database_url: str = DEFAULT_URL,
    *,
    size: int = 11_000,
    held_out_share: float = 0.1,
    seed: int = 2026,
    splink: bool = True,
    latency_lookups: int = 1000,
    extra_noise: float = 0.1,
) -> dict[str, Any]:
    """Generate the messy set, run every matcher on it, and return the figures."""
    database = Database(database_url)
    try:
        started = time.perf_counter()
        records = components(database)
        cases = messy_cases(
            records,
            size=size,
            held_out_share=held_out_share,
            seed=seed,
            extra_noise=extra_noise,
        )
        generation = time.perf_counter() - started
        held = {c.truth for c in cases if c.held_out}
        report: dict[str, Any] = {
            "strings": len(cases),
            "held_out": len(held),
            "collisions": sum(c.collision for c in cases),
            "gazetteer_addresses": len(records),
            "extra_noise": extra_noise,
            "generation_seconds": round(generation, 2),
        }
        outcomes, load_seconds, match_seconds = run_fast(database, cases, held)
        fast_answers = {key: value.uprn for key, value in outcomes.items()}
        report["fast"] = {
            **score_answers(cases, fast_answers),
            "load_seconds": round(load_seconds, 2),
            "match_seconds": round(match_seconds, 2),
            "addresses_per_second": round(len(cases) / (load_seconds + match_seconds), 1),
            "matching_only_per_second": round(len(cases) / match_seconds, 1),
            "calibration": calibration(cases, outcomes),
        }
        if splink:
            from townhall.domains.addresses.matching.methods import better, worth_asking

            ukam, ukam_seconds = run_uk_address_matcher(database, cases, held)
            report["uk_address_matcher"] = {
                **score_answers(cases, {key: value.uprn for key, value in ukam.items()}),
                "seconds": round(ukam_seconds, 2),
                "addresses_per_second": round(len(cases) / ukam_seconds, 1),
            }
            # "best" as methods.match_batch does it: uk-address-matcher only for what
            # methods.worth_asking sends on (the fast matcher unsure), its answer taken when it
            # is the fast one's own best guess.
            again = [c for c in cases if worth_asking(outcomes[c.id])]
            best_answers = dict(fast_answers)
            best_seconds = load_seconds + match_seconds
            if again:
                second, seconds = run_uk_address_matcher(database, again, held)
                for case in again:
                    best_answers[case.id] = better(outcomes[case.id], second[case.id]).uprn
                best_seconds += seconds
            report["best"] = {
                **score_answers(cases, best_answers),
                "sent_on": len(again),
                "addresses_per_second": round(len(cases) / best_seconds, 1),
            }
        report["database_lookup"] = database_latency(database, cases, latency_lookups)
        return report
    finally:
        database.dispose()


def calibration(cases: Sequence[Case], outcomes: dict[str, MatchOutcome]) -> list[dict[str, Any]]:
    """For bands of the fast matcher's best-candidate score: how often that candidate was right."""
    bands: dict[float, list[bool]] = {}
    for case in cases:
        outcome = outcomes[case.id]
        best = outcome.best or (outcome.runners_up[0] if outcome.runners_up else None)
        if best is None:
            continue
        band = min(0.9, math.floor(best.score * 10) / 10)
        bands.setdefault(band, []).append(not case.held_out and best.uprn == case.truth)
    return [
        {"score_from": band, "answers": len(right), "precision": round(sum(right) / len(right), 4)}
        for band, right in sorted(bands.items())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--size", type=int, default=11_000)
    parser.add_argument("--held-out", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-splink", action="store_true", help="the fast matcher only")
    parser.add_argument(
        "--latency-lookups", type=int, default=1000, help="lookups timed through the database"
    )
    parser.add_argument(
        "--extra-noise",
        type=float,
        default=0.1,
        help="typing noise on top of the learned profile (0: the profile as fitted on real data)",
    )
    parser.add_argument("--fit", action="store_true", help="fit the score's weights and print")
    arguments = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("uk_address_matcher").setLevel(logging.WARNING)
    if arguments.fit:
        # Another seed than the benchmark's: the weights are not fitted on what they are scored on.
        database = Database(arguments.database_url)
        weights, decision = fit_weights(database, size=arguments.size, seed=arguments.seed + 1)
        print(f"WEIGHTS = {weights}\nDECISION_WEIGHTS = {decision}")
        database.dispose()
        return
    report = run(
        arguments.database_url,
        size=arguments.size,
        held_out_share=arguments.held_out,
        seed=arguments.seed,
        splink=not arguments.no_splink,
        latency_lookups=arguments.latency_lookups,
        extra_noise=arguments.extra_noise,
    )
    print_report(report)


def print_report(report: dict[str, Any]) -> None:
    print(
        f"{report['strings']} strings ({report['held_out']} held out, {report['collisions']} "
        f"collisions, extra noise {report['extra_noise']}) against "
        f"{report['gazetteer_addresses']} addresses; generated in {report['generation_seconds']} s"
    )
    for name in ("fast", "best", "uk_address_matcher"):
        if name not in report:
            continue
        figures = report[name]
        for subset in ("all", "without_collisions"):
            f = figures[subset]
            print(
                f"{name:<20} {subset:<19} precision {f['precision']:.4%}  recall "
                f"{f['recall']:.4%}  (TP {f['true_positives']}, FP {f['false_positives']}, "
                f"matchable {f['matchable']})"
            )
        print(f"{name:<20} addresses/s {figures['addresses_per_second']} (loading included)")
    if "best" in report:
        print(f"best: {report['best']['sent_on']} strings sent on to uk-address-matcher")
    lookup = report["database_lookup"]
    print(
        f"one lookup through the database (DatabaseGazetteer): p50 {lookup['p50_ms']} ms, "
        f"p99 {lookup['p99_ms']} ms over {lookup['lookups']} lookups"
    )
    if "fast" in report:
        fast = report["fast"]
        print(
            f"fast: load {fast['load_seconds']} s, match {fast['match_seconds']} s "
            f"({fast['matching_only_per_second']} addresses/s matching alone)"
        )
        for band in fast["calibration"]:
            print(
                f"  score >= {band['score_from']:.1f}: {band['answers']} answers, "
                f"precision {band['precision']:.4f}"
            )


if __name__ == "__main__":
    main()
