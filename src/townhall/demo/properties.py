"""Properties of the synthetic borough: BLPUs with UPRNs and their BS7666 addresses (LPIs).

This module owns what stands along each street: terraces of houses (some converted into flats),
council estates of named blocks, private blocks of flats, shops with flats above on the
shopping streets, and a few schools, surgeries, halls and churches. A block is a parent
property (class PP) whose flats share its coordinates. Addresses follow BS7666: numbers,
suffixes ("12A"), ranges ("14-16"), building names, and logical statuses (approved, alternative,
provisional, historic). It also says which homes people can live in and who owns them; it must
not invent people.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from townhall.demo.address_text import PostalAddress
from townhall.demo.names import NameSampler
from townhall.demo.postcodes import CouncilPostcode
from townhall.demo.streets import StreetPlan
from townhall.domains.addresses.schemas import NewAddress, NewProperty
from townhall.platform.geography import BoundingBox, grid_to_wgs84

# UPRNs of the council's older stock and of new builds come from two ranges, as in a real LLPG.
FIRST_UPRN = 100_021_000_000
FIRST_NEW_BUILD_UPRN = 10_093_000_000

# LPI keys start with the authority's four-digit custodian code. Hackney's is known; another
# council gets a stable stand-in made from its GSS code.
_CUSTODIAN_CODES = {"E09000012": 5360}

APPROVED, ALTERNATIVE, PROVISIONAL, HISTORIC = 1, 3, 6, 8
_IN_USE, _UNDER_CONSTRUCTION, _DEMOLISHED = 2, 1, 4

# How many properties a postcode of each kind holds, relative to a street of houses.
_KIND_DENSITY = {"houses": 1.0, "estate": 3.5, "flats": 2.0, "mixed": 1.4, "shops": 1.2}
_KINDS_ON_A_STREET = (("houses", 45), ("estate", 18), ("flats", 17), ("mixed", 15), ("shops", 5))
_KINDS_ON_A_HIGH_STREET = (("shops", 70), ("flats", 15), ("houses", 15))

_ESTATE_BLOCKS = ("House", "House", "Court", "Point", "Lodge", "Tower")
_PRIVATE_BLOCKS = ("Mansions", "Apartments", "Court", "Lofts", "Works", "Building")
_HOUSE_NAMES = ("Rose Cottage", "The Old Bakery", "Ivy House", "The Coach House", "Old Forge")
_CONVERTED_FLATS = (
    ("Flat A", "Flat B", "Flat C", "Flat D"),
    ("Ground Floor Flat", "First Floor Flat", "Second Floor Flat", "Top Floor Flat"),
    ("Basement Flat", "Ground Floor Flat", "First Floor Flat", "Top Floor Flat"),
)
_SHOPS = (
    ("CR08", "{surname}'s Groceries"), ("CR08", "{surname} Hardware"),
    ("CR08", "{word} Newsagents"), ("CR08", "{word} Florist"), ("CR08", "{surname} Bakery"),
    ("CR08", "{word} Launderette"), ("CR08", "{surname} Barbers"), ("CR07", "{word} Cafe"),
    ("CR07", "The {word} Kitchen"), ("CR10", "{word} Fried Chicken"), ("CR10", "{word} Pizza"),
    ("CR06", "The {word} Arms"), ("CO01", "{surname} Architects Ltd"),
    ("CO01", "{surname} & {other} LLP"),
)  # fmt: skip
_COMMUNITY = (
    ("CE03", "{street} Primary School"), ("CM02", "{locality} Medical Centre"),
    ("CC04", "{locality} Community Hall"), ("ZW99CH", "St {saint}'s Church"),
    ("CL06", "{locality} Leisure Centre"),
)  # fmt: skip
_SAINTS = ("Mark", "John", "Mary", "Paul", "Michael", "Peter", "Matthew", "Luke", "Anne")


@dataclass(frozen=True, slots=True)
class Home:
    """A dwelling people can live in, and what their records need to know of it."""

    uprn: int
    address: PostalAddress
    council_owned: bool
    classification: str


@dataclass
class PlacedProperties:
    """Every property and address of the borough, and the homes among them."""

    properties: list[NewProperty]
    addresses: list[NewAddress]
    homes: list[Home]


def custodian_code(council_code: str) -> int:
    """The four-digit code that starts the council's LPI keys."""
    return _CUSTODIAN_CODES.get(council_code, 1000 + int(council_code[1:]) % 9000)


def place_properties(
    streets: list[StreetPlan],
    *,
    target: int,
    rng: random.Random,
    names: NameSampler,
    bounds: BoundingBox,
    council_code: str,
    reference_date: date,
) -> PlacedProperties:
    """Put about ``target`` properties along the streets, with their addresses."""
    placer = _Placer(rng, names, bounds, custodian_code(council_code), reference_date)
    kinds: list[tuple[StreetPlan, int, CouncilPostcode, str]] = []
    for street in streets:
        choices = _KINDS_ON_A_HIGH_STREET if street.high_street else _KINDS_ON_A_STREET
        for position, postcode in enumerate(street.postcodes):
            kind = rng.choices([k for k, _ in choices], weights=[w for _, w in choices])[0]
            kinds.append((street, position, postcode, kind))
    weights = [_KIND_DENSITY[kind] * rng.lognormvariate(0, 0.4) for *_, kind in kinds]
    budgets = _share_out(target, weights)
    numbering: dict[int, _Numbering] = {}
    for (street, position, postcode, kind), budget in zip(kinds, budgets, strict=True):
        if budget == 0:
            continue
        numbers = numbering.setdefault(street.usrn, _Numbering())
        numbers.side = None if len(street.postcodes) == 1 else position % 2
        placer.fill_postcode(street, postcode, kind, budget, numbers)
    return placer.finish()


def _share_out(total: int, weights: list[float]) -> list[int]:
    """Whole numbers in proportion to ``weights`` that add up to ``total`` exactly."""
    scale = total / sum(weights)
    shares = [weight * scale for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda index: counts[index] - shares[index])
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


@dataclass
class _Numbering:
    """House numbers along one street: odd on one side, even on the other."""

    side: int | None = None  # 0 odd, 1 even, None both (a street of one postcode)
    next_by_side: list[int] = field(default_factory=lambda: [1, 2, 1])
    suffixed: set[int] = field(default_factory=set)

    def take(self, count: int = 1) -> tuple[int, int]:
        """The next number (or range of ``count`` numbers) on this side: (first, last)."""
        index, step = self._counter()
        first = self.next_by_side[index]
        end = first + step * (count - 1)
        self.next_by_side[index] = end + step
        return first, end

    def suffix_previous(self) -> int | None:
        """The last number taken on this side, if it has no "A" house yet, for "12A"."""
        index, step = self._counter()
        last = self.next_by_side[index] - step
        if last <= 0 or last in self.suffixed:
            return None
        self.suffixed.add(last)
        return last

    def _counter(self) -> tuple[int, int]:
        return (2, 1) if self.side is None else (self.side, 2)


@dataclass
class _Draft:
    """A property before its latitude and longitude are known."""

    uprn: int
    parent_uprn: int | None
    logical_status: int
    blpu_state: int | None
    classification_code: str
    easting: float
    northing: float
    postcode: str
    organisation: str | None
    start_date: date
    end_date: date | None
    last_update_date: date


class _Unit(NamedTuple):
    """Which part of a building an address is: its SAO and floor (all None for the whole)."""

    sao_text: str | None = None
    sao_number: int | None = None
    level: str | None = None


@dataclass
class _Building:
    """Where a building stands and the address parts its units share."""

    street: StreetPlan
    postcode: str
    point: tuple[float, float]
    number: tuple[int, int] | None = None  # first and last of a range
    suffix: str | None = None
    name: str | None = None


class _Placer:
    """Writes the drafts, addresses and homes as the generators below ask for them."""

    def __init__(
        self,
        rng: random.Random,
        names: NameSampler,
        bounds: BoundingBox,
        custodian: int,
        reference_date: date,
    ) -> None:
        self.rng = rng
        self.names = names
        self.bounds = bounds
        self.custodian = custodian
        self.reference_date = reference_date
        self.drafts: list[_Draft] = []
        self.addresses: list[NewAddress] = []
        self.homes: list[Home] = []
        self._uprn = FIRST_UPRN
        self._new_build_uprn = FIRST_NEW_BUILD_UPRN
        self._lpi = rng.randint(10_000, 90_000)
        self._generators: dict[str, Callable[[StreetPlan, CouncilPostcode, int, _Numbering], int]]
        self._generators = {
            "houses": self._houses,
            "estate": self._estate,
            "flats": self._private_flats,
            "mixed": self._mixed,
            "shops": self._shops,
        }

    def fill_postcode(
        self,
        street: StreetPlan,
        postcode: CouncilPostcode,
        kind: str,
        budget: int,
        numbers: _Numbering,
    ) -> None:
        """Place ``budget`` properties of this ``kind`` in the postcode."""
        # About one postcode in sixty has a school, surgery, hall, church or leisure centre.
        if budget > 1 and self.rng.random() < 0.016:
            self._community_building(street, postcode, numbers)
            budget -= 1
        while budget > 0:
            budget -= self._generators[kind](street, postcode, budget, numbers)

    def finish(self) -> PlacedProperties:
        """Every property with its WGS84 coordinates, the addresses and the homes."""
        latitudes, longitudes = grid_to_wgs84(
            [draft.easting for draft in self.drafts], [draft.northing for draft in self.drafts]
        )
        properties = [
            NewProperty(
                uprn=draft.uprn,
                parent_uprn=draft.parent_uprn,
                logical_status=draft.logical_status,
                blpu_state=draft.blpu_state,
                classification_code=draft.classification_code,
                easting=draft.easting,
                northing=draft.northing,
                latitude=float(latitude),
                longitude=float(longitude),
                representative_point_code=1,
                postcode_locator=draft.postcode,
                organisation=draft.organisation,
                start_date=draft.start_date,
                end_date=draft.end_date,
                last_update_date=draft.last_update_date,
            )
            for draft, latitude, longitude in zip(
                self.drafts, latitudes.tolist(), longitudes.tolist(), strict=True
            )
        ]
        return PlacedProperties(properties, self.addresses, self.homes)

    # The kinds of postcode. Each places one building (or a few) and returns how many
    # properties it used.

    def _houses(
        self, street: StreetPlan, postcode: CouncilPostcode, budget: int, numbers: _Numbering
    ) -> int:
        roll = self.rng.random()
        if roll < 0.25 and budget >= 3:
            flats = self.rng.choice(_CONVERTED_FLATS)[: min(budget - 1, self.rng.randint(2, 4))]
            building = self._building(street, postcode, number=numbers.take())
            parent = self._parent(building)
            for flat in flats:
                self._unit(building, "RD06", parent, sao_text=flat, council_chance=0.03)
            return len(flats) + 1
        squeezed_in = numbers.suffix_previous() if roll < 0.28 else None
        if squeezed_in is not None:
            # A house built later between two others takes the number before it and a letter.
            building = self._building(street, postcode, number=(squeezed_in, squeezed_in))
            building.suffix = "A"
        else:
            building = self._building(street, postcode, number=numbers.take())
        kind = self.rng.choices(("RD04", "RD03", "RD02", "RH03"), weights=(80, 13, 5, 2))[0]
        self._unit(building, kind, None, council_chance=0.04)
        return 1

    def _estate(
        self, street: StreetPlan, postcode: CouncilPostcode, budget: int, numbers: _Numbering
    ) -> int:
        if budget < 5:
            return self._houses(street, postcode, budget, numbers)
        flats = min(budget - 1, self.rng.randint(8, 60))
        building = self._building(street, postcode)
        building.name = f"{self.names.word()} {self.rng.choice(_ESTATE_BLOCKS)}"
        parent = self._parent(building)
        per_floor = self.rng.randint(2, 6)
        sheltered = self.rng.random() < 0.05
        for flat in range(1, flats + 1):
            self._unit(
                building,
                "RD08" if sheltered else "RD06",
                parent,
                sao_number=flat,
                level=_floor((flat - 1) // per_floor),
                council_chance=0.8,
            )
        return flats + 1

    def _private_flats(
        self, street: StreetPlan, postcode: CouncilPostcode, budget: int, numbers: _Numbering
    ) -> int:
        if budget < 4:
            return self._houses(street, postcode, budget, numbers)
        flats = min(budget - 1, self.rng.randint(6, 40))
        building = self._building(street, postcode, number=numbers.take())
        building.name = f"{self.names.word()} {self.rng.choice(_PRIVATE_BLOCKS)}"
        new_build = self.rng.random() < 0.1
        parent = self._parent(building, new_build=new_build)
        per_floor = self.rng.randint(2, 5)
        for flat in range(1, flats + 1):
            self._unit(
                building,
                "RD06",
                parent,
                sao_number=flat,
                level=_floor((flat - 1) // per_floor),
                new_build=new_build,
            )
        return flats + 1

    def _mixed(
        self, street: StreetPlan, postcode: CouncilPostcode, budget: int, numbers: _Numbering
    ) -> int:
        if self.rng.random() < 0.2:
            return self._private_flats(street, postcode, min(budget, 12), numbers)
        return self._houses(street, postcode, budget, numbers)

    def _shops(
        self, street: StreetPlan, postcode: CouncilPostcode, budget: int, numbers: _Numbering
    ) -> int:
        kind, pattern = self.rng.choice(_SHOPS)
        organisation = pattern.format(
            surname=self.names.surname(), other=self.names.surname(), word=self.names.word()
        )
        wide = self.rng.random() < 0.15
        building = self._building(street, postcode, number=numbers.take(2 if wide else 1))
        if budget >= 3 and self.rng.random() < 0.5:
            parent = self._parent(building)
            self._unit(building, kind, parent, sao_text="Ground Floor", organisation=organisation)
            flats = ("First Floor Flat", "Second Floor Flat")[: min(budget - 2, 2)]
            for flat in flats:
                self._unit(building, "RD06", parent, sao_text=flat)
            return len(flats) + 2
        self._unit(building, kind, None, organisation=organisation)
        return 1

    def _community_building(
        self, street: StreetPlan, postcode: CouncilPostcode, numbers: _Numbering
    ) -> None:
        kind, pattern = self.rng.choice(_COMMUNITY)
        name = pattern.format(
            street=street.descriptor.split()[0],
            locality=street.locality,
            saint=self.rng.choice(_SAINTS),
        )
        building = self._building(street, postcode, number=numbers.take())
        building.name = name
        self._unit(building, kind, None, organisation=name)

    # Building blocks.

    def _building(
        self, street: StreetPlan, postcode: CouncilPostcode, number: tuple[int, int] | None = None
    ) -> _Building:
        # A postcode's centroid is the middle of its addresses: buildings scatter around it.
        point = self.bounds.clamp(
            postcode.easting + max(-60.0, min(60.0, self.rng.gauss(0, 20))),
            postcode.northing + max(-60.0, min(60.0, self.rng.gauss(0, 20))),
        )
        return _Building(street, postcode.postcode, point, number)

    def _parent(self, building: _Building, *, new_build: bool = False) -> int:
        """Add the property of a whole building of flats (class PP); return its UPRN."""
        uprn = self._property(building, "PP", approved_only=True, new_build=new_build)
        self._address(uprn, self.drafts[-1], building, _Unit())
        return uprn

    def _property(
        self,
        building: _Building,
        classification: str,
        *,
        approved_only: bool = False,
        new_build: bool = False,
        organisation: str | None = None,
    ) -> int:
        """Add a property with its approved address (and maybe others); return its UPRN."""
        status = PROVISIONAL if new_build else APPROVED
        if not approved_only and not new_build and self.rng.random() < 0.01:
            status = HISTORIC
        if status == PROVISIONAL:
            self._new_build_uprn += self.rng.randint(1, 3)
            uprn = self._new_build_uprn
            start = self.reference_date - timedelta(days=self.rng.randint(30, 365))
        else:
            self._uprn += self.rng.randint(1, 4)
            uprn = self._uprn
            start = self.reference_date - timedelta(days=self.rng.randint(400, 11_000))
        end = (
            start + timedelta(days=self.rng.randint(100, (self.reference_date - start).days))
            if status == HISTORIC
            else None
        )
        self.drafts.append(
            _Draft(
                uprn=uprn,
                parent_uprn=None,
                logical_status=status,
                blpu_state={APPROVED: _IN_USE, PROVISIONAL: _UNDER_CONSTRUCTION}.get(
                    status, _DEMOLISHED
                ),
                classification_code=classification,
                easting=building.point[0],
                northing=building.point[1],
                postcode=building.postcode,
                organisation=organisation,
                start_date=start,
                end_date=end,
                last_update_date=end or self._updated_after(start),
            )
        )
        return uprn

    def _unit(
        self,
        building: _Building,
        classification: str,
        parent: int | None,
        *,
        sao_text: str | None = None,
        sao_number: int | None = None,
        level: str | None = None,
        organisation: str | None = None,
        council_chance: float = 0.0,
        new_build: bool = False,
    ) -> None:
        """Add a property in ``building`` (a flat of ``parent``, or a whole house or shop)."""
        uprn = self._property(
            building, classification, new_build=new_build, organisation=organisation
        )
        draft = self.drafts[-1]
        draft.parent_uprn = parent
        self._address(uprn, draft, building, _Unit(sao_text, sao_number, level))
        if classification.startswith(("RD", "RH")) and draft.logical_status == APPROVED:
            sao = sao_text or (f"Flat {sao_number}" if sao_number else None)
            self.homes.append(
                Home(
                    uprn=uprn,
                    address=PostalAddress(
                        sao=sao,
                        building=building.name,
                        number=_pao_number(building),
                        street=building.street.descriptor,
                        locality=building.street.locality,
                        town=building.street.town,
                        postcode=building.postcode,
                    ),
                    council_owned=self.rng.random() < council_chance,
                    classification=classification,
                )
            )

    def _address(self, uprn: int, draft: _Draft, building: _Building, unit: _Unit) -> None:
        """The property's addresses: always its own, sometimes an alternative and an old one."""
        street = building.street
        self._add_lpi(
            uprn,
            building,
            unit,
            usrn=street.usrn,
            status=draft.logical_status,
            number=building.number,
            name=building.name,
            start=draft.start_date,
            end=draft.end_date,
        )
        if draft.logical_status != APPROVED:
            return
        roll = self.rng.random()
        if roll < 0.04:
            # A block on a corner also has an address on the street round the corner; a house
            # may also be known by a name.
            if building.name is not None and street.neighbour_usrn is not None:
                self._add_lpi(
                    uprn,
                    building,
                    unit,
                    usrn=street.neighbour_usrn,
                    status=ALTERNATIVE,
                    number=None,
                    name=building.name,
                    start=draft.start_date,
                    end=None,
                )
            elif building.name is None:
                self._add_lpi(
                    uprn,
                    building,
                    unit,
                    usrn=street.usrn,
                    status=ALTERNATIVE,
                    number=building.number,
                    name=self.rng.choice(_HOUSE_NAMES),
                    start=draft.start_date,
                    end=None,
                )
        elif roll < 0.06 and building.number is not None:
            # Renumbered when the street was: the old number is kept as a historic address.
            first, last = building.number
            days_since = max(1, (self.reference_date - draft.start_date).days)
            self._add_lpi(
                uprn,
                building,
                unit,
                usrn=street.usrn,
                status=HISTORIC,
                number=(first + 100, last + 100),
                name=building.name,
                start=draft.start_date,
                end=draft.start_date + timedelta(days=self.rng.randint(1, days_since)),
            )

    def _add_lpi(
        self,
        uprn: int,
        building: _Building,
        unit: _Unit,
        *,
        usrn: int,
        status: int,
        number: tuple[int, int] | None,
        name: str | None,
        start: date,
        end: date | None,
    ) -> None:
        self._lpi += self.rng.randint(1, 3)
        ranged = number is not None and number[1] != number[0]
        self.addresses.append(
            NewAddress(
                lpi_key=f"{self.custodian:04d}L{self._lpi:09d}",
                uprn=uprn,
                usrn=usrn,
                logical_status=status,
                language="ENG",
                sao_start_number=unit.sao_number,
                sao_start_suffix=None,
                sao_end_number=None,
                sao_end_suffix=None,
                sao_text=unit.sao_text,
                pao_start_number=number[0] if number else None,
                pao_start_suffix=building.suffix if number else None,
                pao_end_number=number[1] if number and ranged else None,
                pao_end_suffix=None,
                pao_text=name,
                level=unit.level,
                postcode=building.postcode,
                official_flag="Y" if status in (APPROVED, PROVISIONAL) else "N",
                start_date=start,
                end_date=end,
                last_update_date=end or self._updated_after(start),
            )
        )

    def _updated_after(self, start: date) -> date:
        return start + timedelta(days=self.rng.randint(0, (self.reference_date - start).days))


def _pao_number(building: _Building) -> str | None:
    if building.number is None:
        return None
    first, last = building.number
    text = f"{first}{building.suffix or ''}"
    return f"{text}-{last}" if last != first else text


def _floor(index: int) -> str:
    return "Ground Floor" if index == 0 else f"Floor {index}"
