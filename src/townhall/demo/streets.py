"""Streets of the synthetic borough: where they run, what they are called, their USRNs.

This module owns laying streets along the council's real postcodes. Royal Mail draws a postcode
around a stretch of a street, so a street here is a short chain of neighbouring postcodes of one
postcode sector (nearest neighbour first). Each sector becomes a locality with an invented
name; the town is the post town of the postcode area. It must not place properties.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from townhall.demo.names import NameSampler
from townhall.demo.post_towns import post_town
from townhall.demo.postcodes import CouncilPostcode
from townhall.domains.addresses.schemas import NewStreet
from townhall.platform.geography import BoundingBox

FIRST_USRN = 20_400_000

# A jump longer than this between neighbouring postcodes starts a new street.
_LONGEST_STEP_METRES = 250.0

_STREET_WORDS = (
    "Albion", "Victoria", "Kingsland", "Queensbridge", "Navarino", "Amhurst", "Cazenove",
    "Evering", "Dunsmure", "Sandringham", "Mortimer", "Richmond", "Wellington", "Clarence",
    "Windsor", "Lansdowne", "Grosvenor", "Cromwell", "Marlborough", "Nelson", "Trafalgar",
    "Waterloo", "Balmoral", "Osborne", "Devonshire", "Beresford", "Cecil", "Clifton", "Elgin",
    "Glenarm", "Lavender", "Rectory", "Vicarage", "Church", "Chapel", "Mill", "Brook", "Well",
    "Spring", "Orchard", "Cedar", "Elm", "Ash", "Oak", "Beech", "Chestnut", "Willow",
    "Laburnum", "Hawthorn", "Holly", "Linden", "Maple", "Poplar", "Sycamore", "Rose", "Ivy",
    "Myrtle", "Primrose", "Manor", "Grange", "Priory", "Abbey", "Castle", "Market", "Station",
    "Bridge", "Canal", "Wharf", "Forest", "Meadow", "Northwold", "Southgate", "Westgate",
    "Kenninghall", "Rendlesham", "Reighton", "Kyverdale", "Alvington", "Benthal", "Colvestone",
    "Englefield", "Fassett", "Greenwood", "Hertford", "Ickburgh", "Kenmure", "Lauriston",
    "Lenthall", "Mapledene", "Middleton", "Nightingale", "Northchurch", "Oldfield", "Pembury",
    "Powerscroft", "Queensdown", "Rushmore", "Sigdon", "Tresham", "Urswick", "Wilton",
    "Yoakley", "Farleigh", "Cassland", "Penshurst", "Tudor", "Stuart", "Hanover", "Brunswick",
    "Belgrave", "Cambridge", "Oxford", "Durham", "Gloucester", "Warwick", "Stanhope", "Milton",
    "Shakespeare", "Chaucer", "Wordsworth", "Tennyson", "Byron", "Shelley", "Dickens",
)  # fmt: skip

# Street types and how common each is in an inner London borough.
_STREET_TYPES = (
    ("Road", 30), ("Street", 18), ("Avenue", 6), ("Grove", 5), ("Gardens", 5), ("Place", 5),
    ("Close", 5), ("Terrace", 4), ("Lane", 4), ("Mews", 3), ("Way", 3), ("Walk", 3),
    ("Crescent", 3), ("Square", 2), ("Row", 2), ("Hill", 1), ("Rise", 1), ("Yard", 1),
)  # fmt: skip

_LOCALITY_STARTS = (
    "Ash", "Bar", "Black", "Bram", "Brook", "Church", "Clap", "Cran", "Dal", "Elm", "Fair",
    "Gold", "Hag", "Hart", "Hay", "Heather", "Holly", "Hom", "Hox", "Kings", "Lea", "Marsh",
    "Mill", "Oak", "Queens", "Rose", "Stam", "Stoke", "Well", "White", "Wood", "Haber",
)  # fmt: skip
_LOCALITY_ENDS = (
    "ton", "field", "ford", "ley", "wick", "ham", "well", "bury", "stone", "worth", "gate",
    "dale", "wood", "marsh", "stead", "land",
)  # fmt: skip
_LOCALITY_QUALIFIERS = ("", "", "", " Green", " Hill", " Park", " Town", " Vale", " End")


@dataclass(frozen=True, slots=True)
class StreetPlan:
    """A street of the borough and the postcodes along it, in order from one end."""

    usrn: int
    descriptor: str
    locality: str
    town: str
    postcodes: tuple[CouncilPostcode, ...]
    high_street: bool  # a shopping street: shops with flats above
    neighbour_usrn: int | None  # a nearby street, for corner properties' second address
    start: tuple[float, float]
    end: tuple[float, float]
    start_date: date

    def as_new_street(self, administrative_area: str, last_update: date) -> NewStreet:
        """The street as the gazetteer records it."""
        return NewStreet(
            usrn=self.usrn,
            record_type=1,
            descriptor=self.descriptor,
            locality=self.locality,
            town=self.town,
            administrative_area=administrative_area,
            state=2,
            start_easting=self.start[0],
            start_northing=self.start[1],
            end_easting=self.end[0],
            end_northing=self.end[1],
            start_date=self.start_date,
            end_date=None,
            last_update_date=last_update,
        )


def plan_streets(
    postcodes: tuple[CouncilPostcode, ...],
    *,
    rng: random.Random,
    names: NameSampler,
    bounds: BoundingBox,
    reference_date: date,
) -> list[StreetPlan]:
    """Lay streets along the postcodes, sector by sector, and name them."""
    sectors: dict[str, list[CouncilPostcode]] = {}
    for postcode in postcodes:
        sectors.setdefault(postcode.postcode[:-2], []).append(postcode)

    naming = _StreetNamer(rng, names)
    plans: list[StreetPlan] = []
    usrn = FIRST_USRN
    for sector, members in sectors.items():
        locality = naming.locality()
        town = post_town(sector)
        chains = _split_into_streets(_nearest_neighbour_chain(members), rng)
        # The longest street of a sector is its shopping street, in about half the sectors.
        longest = max(range(len(chains)), key=lambda index: len(chains[index]))
        has_high_street = len(chains[longest]) >= 3 and rng.random() < 0.5
        previous_usrn: int | None = None
        for index, chain in enumerate(chains):
            usrn += rng.randint(1, 9)
            high_street = has_high_street and index == longest
            start, end = _street_ends(chain, rng, bounds)
            plans.append(
                StreetPlan(
                    usrn=usrn,
                    descriptor=naming.street(locality, high_street=high_street),
                    locality=locality,
                    town=town,
                    postcodes=tuple(chain),
                    high_street=high_street,
                    neighbour_usrn=previous_usrn,
                    start=start,
                    end=end,
                    start_date=reference_date - timedelta(days=rng.randint(3650, 9000)),
                )
            )
            previous_usrn = usrn
    return plans


def _nearest_neighbour_chain(members: list[CouncilPostcode]) -> list[CouncilPostcode]:
    """The sector's postcodes in a walk that always steps to the nearest one not yet visited."""
    points = np.array([(member.easting, member.northing) for member in members])
    visited = np.zeros(len(members), dtype=bool)
    order = [0]
    visited[0] = True
    for _ in range(len(members) - 1):
        distances = np.hypot(*(points - points[order[-1]]).T)
        distances[visited] = np.inf
        nearest = int(np.argmin(distances))
        order.append(nearest)
        visited[nearest] = True
    return [members[index] for index in order]


def _split_into_streets(
    chain: list[CouncilPostcode], rng: random.Random
) -> list[list[CouncilPostcode]]:
    """Cut the walk into streets of one to five postcodes, and wherever it jumps far."""
    streets: list[list[CouncilPostcode]] = []
    current: list[CouncilPostcode] = []
    wanted = 0
    for postcode in chain:
        if current and (
            len(current) >= wanted
            or math.dist(current[-1][1:], postcode[1:]) > _LONGEST_STEP_METRES
        ):
            streets.append(current)
            current = []
        if not current:
            wanted = rng.choices((1, 2, 3, 4, 5), weights=(25, 35, 22, 12, 6))[0]
        current.append(postcode)
    if current:
        streets.append(current)
    return streets


def _street_ends(
    chain: list[CouncilPostcode], rng: random.Random, bounds: BoundingBox
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the street starts and ends: a little beyond its first and last postcodes."""
    first, last = chain[0], chain[-1]
    if len(chain) == 1:
        bearing = rng.uniform(0, math.pi)
        half_length = rng.uniform(60, 150)
        dx, dy = math.cos(bearing) * half_length, math.sin(bearing) * half_length
        return (
            bounds.clamp(first.easting - dx, first.northing - dy),
            bounds.clamp(first.easting + dx, first.northing + dy),
        )
    length = math.dist(first[1:], last[1:]) or 1.0
    beyond = 30.0 / length
    dx, dy = (last.easting - first.easting) * beyond, (last.northing - first.northing) * beyond
    return (
        bounds.clamp(first.easting - dx, first.northing - dy),
        bounds.clamp(last.easting + dx, last.northing + dy),
    )


class _StreetNamer:
    """Invents locality and street names, none used twice in the borough while names last."""

    def __init__(self, rng: random.Random, names: NameSampler) -> None:
        self._rng = rng
        self._names = names
        self._types = [kind for kind, _ in _STREET_TYPES]
        self._type_weights = [weight for _, weight in _STREET_TYPES]
        self._used: set[str] = set()

    def locality(self) -> str:
        """A place name such as "Ashfield" or "Millbury Green"."""
        return self._unique(
            lambda: (
                self._rng.choice(_LOCALITY_STARTS)
                + self._rng.choice(_LOCALITY_ENDS)
                + self._rng.choice(_LOCALITY_QUALIFIERS)
            )
        )

    def street(self, locality: str, *, high_street: bool) -> str:
        """A street name such as "Mortimer Road"; a shopping street may be "... High Street"."""
        if high_street and self._rng.random() < 0.5:
            name = f"{locality.split(maxsplit=1)[0]} High Street"
            if name not in self._used:
                self._used.add(name)
                return name
        return self._unique(self._street_name)

    def _street_name(self) -> str:
        word = self._rng.choice(_STREET_WORDS) if self._rng.random() < 0.6 else self._names.word()
        kind = self._rng.choices(self._types, weights=self._type_weights)[0]
        return f"{word} {kind}"

    def _unique(self, invent: Callable[[], str]) -> str:
        # A large council can run out of fresh names; real boroughs repeat a few too.
        name = invent()
        for _ in range(20):
            if name not in self._used:
                break
            name = invent()
        self._used.add(name)
        return name
