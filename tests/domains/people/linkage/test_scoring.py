"""The linkage model trained on hand-written records, scored every way the Scorer offers.

Training takes a few seconds (Splink's three estimates), so one module-scoped database is
trained once and every test reads the same model.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from tests.conftest import BACKEND, create_postgres_database, drop_postgres_database
from townhall.domains.people.linkage.model import MISSING_OR_SAME_HOME
from townhall.domains.people.linkage.results import ordered
from townhall.domains.people.linkage.scoring import NoLinkageModel, SplinkScorer, load_scorer
from townhall.domains.people.linkage.training import train
from townhall.domains.people.models import LinkageModel
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.service import load_source_records
from townhall.platform.db import Database
from townhall.platform.migrations import upgrade

UPDATED = datetime(2024, 5, 6, tzinfo=UTC)
FIRST = (
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Mia",
    "Arthur",
    "Grace",
    "Leo",
    "Freya",
    "Oscar",
    "Lily",
    "Harry",
    "Ivy",
    "Jack",
    "Rosie",
    "Alfie",
    "Ella",
    "Theo",
)
LAST = (
    *("Okafor", "Patel", "Nowak", "Murphy", "Hughes", "Khan", "Evans", "Silva", "Kaur"),
    *("Reid", "Clarke", "Adeyemi", "Walsh", "Novak", "Price", "Hussain", "Moss", "Baker"),
)
SYSTEMS = ("housing", "council_tax", "benefits", "parking")


def person_records(count: int, seed: int) -> list[NewSourceRecord]:
    """``count`` invented people, each in two or three systems with small disagreements."""
    rng = random.Random(seed)
    records = []
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        born = date(1940 + rng.randrange(60), 1 + rng.randrange(12), 1 + rng.randrange(28))
        unit = f"{rng.randrange(10)}{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}"
        postcode = f"E{1 + rng.randrange(9)} {unit}"
        uprn = 100021000000 + number
        for copy, system in enumerate(rng.sample(SYSTEMS, 2 + rng.randrange(2))):
            records.append(
                NewSourceRecord(
                    source_system=system, source_record_id=f"P{number:05d}-{copy}", title=None,
                    first_name=first.upper() if copy == 1 else first, middle_names=None,
                    last_name=last, date_of_birth=born if copy < 2 else None,
                    email=f"{first}.{last}{number}@example.com".lower() if copy == 0 else None,
                    phone=f"07700 9{number:05d}" if copy == 1 else None,
                    national_insurance_number=None, address_text=None, postcode=postcode,
                    uprn=uprn if copy != 1 else None, attributes={}, source_updated_at=UPDATED,
                )
            )  # fmt: skip
    return records


SPECIAL = [
    # A nickname and the day and month swapped, at the same address.
    NewSourceRecord("housing", "S1", None, "William", None, "Fairweather", date(1975, 3, 11),
                    None, None, None, None, "N1 4LA", 100021999001, {}, UPDATED),
    NewSourceRecord("parking", "S2", None, "Bill", None, "Fairweather", date(1975, 11, 3),
                    None, None, None, None, "N1 4LA", 100021999001, {}, UPDATED),
    # A stranger who shares only a common surname with someone.
    NewSourceRecord("benefits", "S3", None, "Zainab", None, "Patel", date(2001, 7, 30),
                    None, None, "QQ123456C", None, "SE1 9ZZ", None, {}, UPDATED),
    # A mother and her son: one home, one landline, one surname; another name and birthday.
    NewSourceRecord("housing", "S4", None, "Aisha", None, "Brennan", date(1970, 2, 14),
                    None, "020 7946 0991", None, None, "E5 0AA", 100021999002, {}, UPDATED),
    NewSourceRecord("council_tax", "S5", None, "Connor", None, "Brennan", date(2001, 9, 30),
                    None, "020 7946 0991", None, None, "E5 0AA", 100021999002, {}, UPDATED),
    # Given name and family name entered the wrong way round (no UK postcode outward code).
    NewSourceRecord("benefits", "S6", None, "Okonkwo", None, "Temitope", date(1988, 6, 1),
                    None, None, None, None, "BFPO 105", None, {}, UPDATED),
    NewSourceRecord("parking", "S7", None, "Temitope", None, "Okonkwo", date(1988, 6, 1),
                    None, None, None, None, "BFPO 105", None, {}, UPDATED),
    # An initial in one system, the name in full in another.
    NewSourceRecord("housing", "S8", None, "T", None, "Abernethy", date(1960, 1, 5),
                    None, None, None, None, "N16 7UX", 100021999003, {}, UPDATED),
    NewSourceRecord("council_tax", "S9", None, "Tobias", None, "Abernethy", date(1960, 1, 5),
                    None, None, None, None, "N16 7UX", 100021999003, {}, UPDATED),
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A database of about 600 records with a model trained on them (once per module)."""
    if BACKEND == "postgresql":
        admin = _postgres_admin()
        url = create_postgres_database(admin)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('linkage') / 'linkage.db'}"
    database = Database(url)
    upgrade(database)
    load_source_records(database, [*person_records(250, seed=3), *SPECIAL])
    train(database)
    yield database
    database.dispose()
    if BACKEND == "postgresql":
        drop_postgres_database(admin, url)


def _postgres_admin() -> str:
    url = os.environ.get("TOWNHALL_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("PostgreSQL is not configured: set TOWNHALL_TEST_POSTGRES_URL")
    return url


@pytest.fixture(scope="module")
def scorer(trained: Database) -> Iterator[SplinkScorer]:
    loaded = load_scorer(trained)
    yield loaded
    loaded.close()


def ids_of(database: Database) -> dict[str, int]:
    with database.read() as session:
        rows = session.execute(text("SELECT source_record_id, id FROM people_source_records"))
        return {str(record): int(rid) for record, rid in rows}


def test_obvious_pairs_link_and_strangers_do_not(trained: Database, scorer: SplinkScorer) -> None:
    ids = ids_of(trained)
    person = {rid: record.split("-")[0] for record, rid in ids.items()}
    pairs = list(scorer.score_all(at_least=0.99, with_evidence_below=0.99))
    true = sum(1 for pair in pairs if person[pair.left] == person[pair.right])

    assert pairs
    assert true / len(pairs) > 0.98  # precision at the link threshold
    # Copies 0 and 1 of a person agree on name (in any case), date and postcode: always linked.
    linked = {(pair.left, pair.right) for pair in pairs}
    for number in range(250):
        assert ordered(ids[f"P{number:05d}-0"], ids[f"P{number:05d}-1"]) in linked
    stranger = ids["S3"]
    assert not [pair for pair in pairs if stranger in (pair.left, pair.right)]


def test_a_nickname_with_a_swapped_date_is_at_least_sent_for_review(
    trained: Database, scorer: SplinkScorer
) -> None:
    ids = ids_of(trained)
    pair = scorer.evidence(ids["S2"], ids["S1"])

    assert pair.match_probability >= 0.8
    levels = {comparison.field: comparison.level for comparison in pair.comparisons}
    assert levels["first_name"] == "The same name in full (a nickname)"
    assert levels["dob"] == "Day and month swapped"


def test_relatives_at_one_home_are_not_one_person(trained: Database, scorer: SplinkScorer) -> None:
    ids = ids_of(trained)
    pair = scorer.evidence(ids["S4"], ids["S5"])

    # The shared postcode and phone are the home the UPRN already counted: no weight again.
    home = {c.field: c for c in pair.comparisons if c.field in {"postcode", "phone"}}
    assert {c.level for c in home.values()} == {MISSING_OR_SAME_HOME}
    assert {c.weight for c in home.values()} == {0.0}
    assert pair.match_probability < 0.8
    linked = scorer.score_all(at_least=0.8, with_evidence_below=0.0)
    assert ordered(ids["S4"], ids["S5"]) not in {(p.left, p.right) for p in linked}


def test_swapped_names_are_paired_and_linked(trained: Database, scorer: SplinkScorer) -> None:
    ids = ids_of(trained)
    found = scorer.score_records([ids["S6"]], at_least=0.99)

    assert [(pair.left, pair.right) for pair in found] == [ordered(ids["S6"], ids["S7"])]
    levels = {comparison.field: comparison.level for comparison in found[0].comparisons}
    assert levels["first_name"] == "Swapped with the surname"
    assert levels["surname"] == "Swapped with the first name"


def test_an_initial_agrees_with_the_name_in_full(trained: Database, scorer: SplinkScorer) -> None:
    ids = ids_of(trained)
    pair = scorer.evidence(ids["S8"], ids["S9"])

    levels = {comparison.field: comparison.level for comparison in pair.comparisons}
    assert levels["first_name"] == "An initial of the other"
    assert pair.match_probability >= 0.99


def test_score_records_agrees_with_score_all(trained: Database, scorer: SplinkScorer) -> None:
    ids = ids_of(trained)
    every = {
        (pair.left, pair.right): pair
        for pair in scorer.score_all(at_least=0.5, with_evidence_below=1.0)
    }
    record = ids["P00007-0"]
    some = scorer.score_records([record], at_least=0.5)

    assert some
    assert {(pair.left, pair.right) for pair in some} == {key for key in every if record in key}
    for pair in some:
        full = every[pair.left, pair.right]
        assert pair.match_probability == pytest.approx(full.match_probability)
        assert pair.comparisons == full.comparisons


def test_evidence_sums_with_the_prior_to_the_match_weight(
    trained: Database, scorer: SplinkScorer
) -> None:
    ids = ids_of(trained)
    pair = scorer.evidence(ids["P00001-0"], ids["S3"])  # never blocked together

    assert [comparison.field for comparison in pair.comparisons] == [
        "first_name", "surname", "dob", "postcode", "uprn", "email", "phone", "nino",
    ]  # fmt: skip
    total = pair.prior_weight + sum(comparison.weight for comparison in pair.comparisons)
    assert total == pytest.approx(pair.match_weight)
    assert pair.match_probability < 0.01


def test_training_is_deterministic(trained: Database) -> None:
    again = train(trained)
    with trained.read() as session:
        first, second = session.scalars(select(LinkageModel).order_by(LinkageModel.id)).all()[-2:]
        assert (second.id, second.active, first.active) == (again.id, True, False)
        assert first.settings["probability_two_random_records_match"] == pytest.approx(
            second.settings["probability_two_random_records_match"]
        )
        for before, after in zip(
            first.settings["comparisons"], second.settings["comparisons"], strict=True
        ):
            for old, new in zip(
                before["comparison_levels"], after["comparison_levels"], strict=True
            ):
                assert old.get("m_probability") == pytest.approx(new.get("m_probability"))
                assert old.get("u_probability") == pytest.approx(new.get("u_probability"))


def test_without_a_model_loading_names_the_command(database: Database) -> None:
    with pytest.raises(NoLinkageModel, match="townhall people train"):
        load_scorer(database)
