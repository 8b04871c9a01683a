"""Residents of the synthetic borough: invented people living in households in its homes.

This module owns who lives where: household make-up (people alone, couples, families, lone
parents, sharers, pensioners, three generations), an age profile like an inner London
borough's, names, dates of birth, contact details, some recent moves within the borough and
some recent changes of surname. It invents the truth; how each council system records these
people (and gets them wrong) belongs to ``source_systems`` and ``errors_in_records``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from townhall.demo.names import NameSampler, Sex
from townhall.demo.properties import Home

# Letters that never begin a real National Insurance number (nor come second): every number
# made from them is invalid by construction, so no invented person can hold a real one.
_UNISSUED_NINO_LETTERS = "DFIQUV"
_NINO_SPACE = len(_UNISSUED_NINO_LETTERS) ** 2 * 1_000_000
_NINO_STRIDE = 7_919_993  # coprime with the space, so index -> number is one-to-one

# Ofcom keeps these numbers for drama and examples: they never ring anyone.
_MOBILE_PREFIX = "07700 900"
_LANDLINE_PREFIX = "020 7946 0"
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

_HOUSEHOLDS = (
    ("alone", 15), ("couple", 15), ("family", 30), ("lone_parent", 11), ("sharers", 20),
    ("pensioners", 4), ("three_generations", 5),
)  # fmt: skip
_OCCUPIED = 0.98
_MOVED_RECENTLY = 0.08
_SURNAME_CHANGED_RECENTLY = 0.25


@dataclass(slots=True)
class Resident:
    """An invented person: the truth that every source record of them is measured against."""

    person_key: str
    sex: Sex
    title: str | None
    first_name: str
    middle_names: str | None
    last_name: str
    previous_last_name: str | None  # changed recently: older records may still use this
    date_of_birth: date
    home: Home
    previous_home: Home | None  # moved recently: a slow system may still hold this
    moved_on: date | None
    email: str | None
    phone: str | None
    national_insurance_number: str | None
    age: int

    @property
    def is_adult(self) -> bool:
        """Eighteen or over."""
        return self.age >= 18


@dataclass(slots=True)
class Household:
    """The people living in one home, the one named on its bills first."""

    home: Home
    kind: str
    members: list[Resident] = field(default_factory=list)

    @property
    def adults(self) -> list[Resident]:
        """The members aged eighteen or over, the household's head first."""
        return [member for member in self.members if member.is_adult]


def populate(
    homes: list[Home], *, rng: random.Random, names: NameSampler, reference_date: date
) -> list[Household]:
    """A household in nearly every home, with its residents."""
    builder = _HouseholdBuilder(rng, names, reference_date)
    kinds = [kind for kind, _ in _HOUSEHOLDS]
    weights = [weight for _, weight in _HOUSEHOLDS]
    households: list[Household] = []
    for home in homes:
        if rng.random() >= _OCCUPIED:
            continue
        household = Household(home, rng.choices(kinds, weights=weights)[0])
        builder.fill(household)
        households.append(household)
    # Moves within the borough: the household used to live in another of its homes.
    for household in households:
        if rng.random() < _MOVED_RECENTLY:
            previous = homes[rng.randrange(len(homes))]
            if previous.uprn != household.home.uprn:
                moved_on = reference_date - timedelta(days=rng.randint(30, 3 * 365))
                for member in household.members:
                    member.previous_home = previous
                    member.moved_on = moved_on
    return households


class _HouseholdBuilder:
    """Makes the members of each kind of household, numbering people as it goes."""

    def __init__(self, rng: random.Random, names: NameSampler, reference_date: date) -> None:
        self.rng = rng
        self.names = names
        self.reference_date = reference_date
        self.count = 0

    def fill(self, household: Household) -> None:
        """Add the members a household of its kind has."""
        rng = self.rng
        kind = household.kind
        if kind == "alone":
            low, high = rng.choices(((19, 44), (45, 64), (65, 95)), weights=(55, 28, 17))[0]
            self._person(household, rng.randint(low, high), self._sex(), None)
        elif kind in ("couple", "family", "three_generations"):
            low, high = {"couple": (21, 75), "family": (24, 52)}.get(kind, (30, 50))
            head = self._couple(household, rng.randint(low, high))
            if kind != "couple":
                self._children(household, head, rng.choices((1, 2, 3, 4), (30, 40, 20, 10))[0])
            if kind == "three_generations":
                self._person(household, min(98, head.age + rng.randint(22, 38)), self._sex(), None)
        elif kind == "lone_parent":
            head = self._person(household, rng.randint(19, 55), self._sex(female=0.85), None)
            self._children(household, head, rng.choices((1, 2, 3), (50, 35, 15))[0])
        elif kind == "sharers":
            for _ in range(rng.choices((2, 3, 4, 5), (40, 35, 18, 7))[0]):
                self._person(household, rng.randint(19, 40), self._sex(), None)
        else:  # pensioners
            head = self._person(household, rng.randint(65, 92), self._sex(), None)
            if rng.random() < 0.5:
                self._partner(household, head)

    def _couple(self, household: Household, age: int) -> Resident:
        head = self._person(household, age, self._sex(), None)
        self._partner(household, head)
        return head

    def _partner(self, household: Household, head: Resident) -> Resident:
        rng = self.rng
        sex: Sex = head.sex if rng.random() < 0.06 else ("M" if head.sex == "F" else "F")
        age = max(18, head.age + rng.randint(-6, 6))
        if rng.random() < 0.55:
            # Married and took the head's surname; some did so recently.
            own = self.names.surname()
            partner = self._person(household, age, sex, head.last_name)
            if rng.random() < _SURNAME_CHANGED_RECENTLY:
                partner.previous_last_name = own
            if partner.title in ("Ms", "Miss") and rng.random() < 0.7:
                partner.title = "Mrs"
            return partner
        return self._person(household, age, sex, None)

    def _children(self, household: Household, parent: Resident, count: int) -> None:
        oldest = min(17, parent.age - 18)
        if oldest < 0:
            return
        for _ in range(count):
            self._person(household, self.rng.randint(0, oldest), self._sex(), parent.last_name)

    def _sex(self, female: float = 0.5) -> Sex:
        return "F" if self.rng.random() < female else "M"

    def _person(self, household: Household, age: int, sex: Sex, surname: str | None) -> Resident:
        rng = self.rng
        self.count += 1
        first = self.names.first_name(sex)
        middle: str | None = None
        if rng.random() < 0.45:
            middle = self.names.first_name(sex)
            if rng.random() < 0.1:
                middle = f"{middle} {self.names.first_name(sex)}"
        last = surname or self.names.surname()
        born = self.reference_date - timedelta(days=age * 365 + rng.randint(0, 364))
        adult = age >= 18
        resident = Resident(
            person_key=f"P{self.count:09d}",
            sex=sex,
            title=self._title(sex) if adult else None,
            first_name=first,
            middle_names=middle,
            last_name=last,
            previous_last_name=None,
            date_of_birth=born,
            home=household.home,
            previous_home=None,
            moved_on=None,
            email=self._email(first, last) if adult and rng.random() < 0.55 else None,
            phone=self._phone() if age >= 14 and rng.random() < 0.75 else None,
            national_insurance_number=_nino(self.count) if age >= 16 else None,
            age=age,
        )
        household.members.append(resident)
        return resident

    def _title(self, sex: Sex) -> str:
        roll = self.rng.random()
        if roll < 0.03:
            return "Dr"
        if roll < 0.04:
            return "Mx"
        if sex == "M":
            return "Mr"
        return "Ms" if roll < 0.55 else "Miss"

    def _email(self, first: str, last: str) -> str:
        handle = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
        return f"{handle}{self.rng.randint(1, 99)}@{self.rng.choice(_EMAIL_DOMAINS)}"

    def _phone(self) -> str:
        if self.rng.random() < 0.8:
            return f"{_MOBILE_PREFIX}{self.rng.randint(0, 999):03d}"
        return f"{_LANDLINE_PREFIX}{self.rng.randint(0, 999):03d}"


def _nino(index: int) -> str:
    """A unique National Insurance number that cannot be a real one (an unissued prefix)."""
    number = (index * _NINO_STRIDE) % _NINO_SPACE
    prefix, digits = divmod(number, 1_000_000)
    first, second = divmod(prefix, len(_UNISSUED_NINO_LETTERS))
    return (
        f"{_UNISSUED_NINO_LETTERS[first]}{_UNISSUED_NINO_LETTERS[second]}"
        f"{digits:06d}{'ABCD'[number % 4]}"
    )
