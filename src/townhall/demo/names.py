"""Invented people's names: Faker's British name lists, sampled with the build's own PRNG.

Faker's ``en_GB`` provider lists first names by popularity and surnames with their frequency.
They are read once here and sampled with a seeded ``random.Random``: calling Faker for each of
250,000 people would take minutes, and its own random state would be one more thing to seed.
"""

from __future__ import annotations

import random
from itertools import accumulate
from typing import Literal

from faker.providers.person.en_GB import Provider as BritishNames

Sex = Literal["F", "M"]


class NameSampler:
    """Draws first names and surnames with realistic frequencies from one seeded PRNG."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        # The first-name lists are in order of popularity without weights: a Zipf-like weight
        # by rank gives common names their share without a flat tail.
        self._first: dict[Sex, tuple[list[str], list[float]]] = {
            "F": _by_rank(BritishNames.first_names_female),
            "M": _by_rank(BritishNames.first_names_male),
        }
        surnames: dict[str, float] = dict(BritishNames.last_names)
        self._surnames = list(surnames)
        self._surname_weights = list(accumulate(surnames.values()))

    def first_name(self, sex: Sex) -> str:
        """A first name for someone of this sex."""
        names, cumulative = self._first[sex]
        return self._rng.choices(names, cum_weights=cumulative)[0]

    def surname(self) -> str:
        """A surname; about one in forty is double-barrelled."""
        first = self._rng.choices(self._surnames, cum_weights=self._surname_weights)[0]
        if self._rng.random() < 0.025:
            second = self._rng.choices(self._surnames, cum_weights=self._surname_weights)[0]
            if second != first:
                return f"{first}-{second}"
        return first

    def word(self) -> str:
        """A surname used as a word in a place name ("Mortimer" in "Mortimer Road")."""
        return self._rng.choices(self._surnames, cum_weights=self._surname_weights)[0]


def _by_rank(names: tuple[str, ...]) -> tuple[list[str], list[float]]:
    unique = list(dict.fromkeys(names))
    return unique, list(accumulate(1 / (rank + 8) for rank in range(len(unique))))
