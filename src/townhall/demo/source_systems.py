"""The council's source systems and the person records each holds about the residents.

This module owns who appears in which system and how each system writes them down:
housing (council tenants), council tax (the people liable for each home), benefits (claimants,
with a National Insurance number), parking (permit holders and their vehicles) and social care.
Each system has its own habits (capitals, address style, whether it asks for a date of birth,
how often it misses a move or a change of name) and its own record numbers. Every record is
also written to the truth: the invented person it belongs to and the disagreements it carries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from townhall.demo.address_text import format_address
from townhall.demo.errors_in_records import (
    misspell,
    mistype_postcode,
    nickname,
    swap_day_and_month,
)
from townhall.demo.people import Household, Resident
from townhall.demo.properties import Home
from townhall.domains.people.schemas import NewSourceRecord

# Letters of the current number plate format (no I, Q or Z in the random part).
_PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXY"
_LONDON_PLATE_AREAS = ("LA", "LB", "LC", "LD", "LE", "LF", "LG", "LH", "LJ", "LK", "LL", "LM")


@dataclass(frozen=True)
class SystemProfile:
    """One source system's habits: how it numbers records and how often it errs, and how."""

    name: str
    record_id: str  # format with the record's number
    address_styles: tuple[str, ...]
    capital_names: bool  # an older system that keeps names in capitals
    no_uprn: float  # the address was typed, never matched to the gazetteer
    old_address: float  # a mover's record still has their previous home
    no_date_of_birth: float
    day_month_swapped: float
    nickname: float
    typo: float
    old_surname: float  # after a change of surname, the record still has the old one
    duplicate: float  # the same person entered a second time
    middle_names: float  # how often it records middle names it was given
    email: float
    phone: float
    national_insurance_number: float


_SYSTEMS = (
    SystemProfile(
        name="housing",
        record_id="HSG{:07d}",
        address_styles=("upper_short", "number_first"),
        capital_names=True,
        no_uprn=0.05,
        old_address=0.10,
        no_date_of_birth=0.05,
        day_month_swapped=0.02,
        nickname=0.04,
        typo=0.04,
        old_surname=0.5,
        duplicate=0.02,
        middle_names=0.3,
        email=0.4,
        phone=0.9,
        national_insurance_number=0.6,
    ),
    SystemProfile(
        name="council_tax",
        record_id="CTX{:08d}",
        address_styles=("formal", "formal_with_postcode"),
        capital_names=False,
        no_uprn=0.02,
        old_address=0.04,
        no_date_of_birth=0.65,
        day_month_swapped=0.01,
        nickname=0.03,
        typo=0.03,
        old_surname=0.3,
        duplicate=0.015,
        middle_names=0.5,
        email=0.5,
        phone=0.6,
        national_insurance_number=0.0,
    ),
    SystemProfile(
        name="benefits",
        record_id="HB{:07d}",
        address_styles=("upper_short", "formal"),
        capital_names=True,
        no_uprn=0.08,
        old_address=0.15,
        no_date_of_birth=0.01,
        day_month_swapped=0.03,
        nickname=0.01,
        typo=0.03,
        old_surname=0.2,
        duplicate=0.02,
        middle_names=0.9,
        email=0.3,
        phone=0.8,
        national_insurance_number=0.97,
    ),
    SystemProfile(
        name="parking",
        record_id="PK{:07d}",
        address_styles=("typed", "slash", "formal"),
        capital_names=False,
        no_uprn=0.45,
        old_address=0.35,
        no_date_of_birth=0.85,
        day_month_swapped=0.02,
        nickname=0.15,
        typo=0.06,
        old_surname=0.3,
        duplicate=0.03,
        middle_names=0.05,
        email=0.95,
        phone=0.7,
        national_insurance_number=0.0,
    ),
    SystemProfile(
        name="social_care",
        record_id="{:07d}",
        address_styles=("formal", "upper_short", "number_first"),
        capital_names=False,
        no_uprn=0.3,
        old_address=0.25,
        no_date_of_birth=0.03,
        day_month_swapped=0.04,
        nickname=0.08,
        typo=0.05,
        old_surname=0.5,
        duplicate=0.04,
        middle_names=0.7,
        email=0.2,
        phone=0.9,
        national_insurance_number=0.3,
    ),
)
PROFILES = {profile.name: profile for profile in _SYSTEMS}


class TruthRow(NamedTuple):
    """Which invented person a source record belongs to, and how it differs from them."""

    source_system: str
    source_record_id: str
    person_key: str
    variations: str  # space-separated tags: nickname, old_address, no_dob...


@dataclass
class SourceRecords:
    """Every system's records and the truth about each."""

    records: list[NewSourceRecord]
    truth: list[TruthRow]


def write_source_records(
    households: list[Household], *, rng: random.Random, reference_date: date
) -> SourceRecords:
    """What each system holds about the households' members."""
    writer = _RecordWriter(rng, reference_date)
    for household in households:
        writer.council_tax(household)
        writer.housing(household)
        writer.benefits(household)
        writer.parking(household)
        for member in household.members:
            writer.social_care(member)
    return writer.finish()


class _Draft(NamedTuple):
    record: NewSourceRecord  # with an empty record id until the system numbers its records
    person_key: str
    variations: list[str]


class _RecordWriter:
    """Decides membership and writes records, then numbers each system's records."""

    def __init__(self, rng: random.Random, reference_date: date) -> None:
        self.rng = rng
        self.reference_date = reference_date
        self.drafts: dict[str, list[_Draft]] = {name: [] for name in PROFILES}
        self.references = 0
        self.zones: dict[str, str] = {}

    # Who each system knows about.

    def council_tax(self, household: Household) -> None:
        adults = household.adults
        if not adults:
            return
        account = self._reference("CT")
        liable = adults[:2] if len(adults) > 1 and self.rng.random() < 0.35 else adults[:1]
        for person in liable:
            self._write(
                "council_tax",
                person,
                {
                    "account_ref": account,
                    "band": self._band(household.home),
                    "liability": "joint" if len(liable) > 1 else "sole",
                    "single_person_discount": len(adults) == 1,
                },
            )

    def housing(self, household: Household) -> None:
        adults = household.adults
        if not household.home.council_owned or not adults:
            return
        tenancy = self._reference("TEN")
        tenure = self.rng.choices(("Secure", "Introductory", "Temporary"), (85, 8, 7))[0]
        tenants = adults[:2] if len(adults) > 1 and self.rng.random() < 0.5 else adults[:1]
        for role, person in zip(("lead", "joint"), tenants, strict=False):
            self._write(
                "housing", person, {"tenancy_ref": tenancy, "tenure": tenure, "tenant_role": role}
            )

    def benefits(self, household: Household) -> None:
        adults = household.adults
        if not adults:
            return
        head = adults[0]
        chance = 0.45 if household.home.council_owned else 0.35 if head.age >= 66 else 0.10
        if self.rng.random() < chance:
            benefit = self.rng.choices(
                ("Housing Benefit", "Council Tax Reduction", "Discretionary Housing Payment"),
                (55, 40, 5),
            )[0]
            self._write("benefits", head, {"claim_ref": self._reference("HB"), "benefit": benefit})

    def parking(self, household: Household) -> None:
        adults = household.adults
        chance = 0.12 if household.home.council_owned else 0.28
        if not adults or self.rng.random() >= chance:
            return
        holders = [self.rng.choice(adults)]
        if len(adults) > 1 and self.rng.random() < 0.08:
            holders.append(next(adult for adult in adults if adult is not holders[0]))
        for person in holders:
            home = person.home.address.postcode
            zone = self.zones.setdefault(home[:-2], f"Zone {_zone_name(len(self.zones))}")
            valid_until = self.reference_date + timedelta(days=self.rng.randint(1, 365))
            self._write(
                "parking",
                person,
                {
                    "permit_type": "Resident",
                    "permit_zone": zone,
                    "vehicle_registration": self._number_plate(),
                    "valid_until": valid_until.isoformat(),
                },
            )

    def social_care(self, person: Resident) -> None:
        if person.age >= 75:
            chance, group = 0.15, "Older people"
        elif person.age >= 65:
            chance, group = 0.04, "Older people"
        elif person.age < 18:
            chance, group = 0.015, "Children"
        else:
            chance = 0.006
            group = self.rng.choice(("Learning disability", "Mental health", "Physical support"))
        if self.rng.random() < chance:
            status = "Open" if self.rng.random() < 0.8 else "Closed"
            self._write("social_care", person, {"client_group": group, "case_status": status})

    # How each system writes a person down.

    def _write(self, system: str, person: Resident, attributes: dict[str, Any]) -> None:
        profile = PROFILES[system]
        self.drafts[system].append(self._draft(profile, person, attributes, []))
        if self.rng.random() < profile.duplicate:
            self.drafts[system].append(
                self._draft(profile, person, dict(attributes), ["duplicate"])
            )

    def _draft(
        self,
        profile: SystemProfile,
        person: Resident,
        attributes: dict[str, Any],
        variations: list[str],
    ) -> _Draft:
        rng = self.rng
        home: Home = person.home
        updated = self._updated_at(person.moved_on)
        if person.previous_home is not None and rng.random() < profile.old_address:
            home = person.previous_home
            updated = self._updated_at(None, before=person.moved_on)
            variations.append("old_address")

        first, middle, last = self._names(profile, person, variations)

        born: date | None = person.date_of_birth
        if rng.random() < profile.no_date_of_birth:
            born = None
            variations.append("no_dob")
        elif rng.random() < profile.day_month_swapped:
            swapped = swap_day_and_month(person.date_of_birth)
            if swapped is not None:
                born = swapped
                variations.append("dob_day_month_swapped")

        uprn: int | None = home.uprn
        if rng.random() < profile.no_uprn:
            uprn = None
            variations.append("no_uprn")
        postcode: str | None = home.address.postcode
        roll = rng.random()
        if roll < 0.02:
            postcode = None
            variations.append("no_postcode")
        elif roll < 0.04:
            postcode = mistype_postcode(home.address.postcode, rng)
            variations.append("postcode_typo")

        record = NewSourceRecord(
            source_system=profile.name,
            source_record_id="",
            title=person.title,
            first_name=first,
            middle_names=middle,
            last_name=last,
            date_of_birth=born,
            email=person.email if rng.random() < profile.email else None,
            phone=person.phone if rng.random() < profile.phone else None,
            national_insurance_number=self._nino(person, profile),
            address_text=format_address(home.address, rng.choice(profile.address_styles), rng),
            postcode=postcode,
            uprn=uprn,
            attributes=attributes,
            source_updated_at=updated,
        )
        return _Draft(record, person.person_key, variations)

    def _names(
        self, profile: SystemProfile, person: Resident, variations: list[str]
    ) -> tuple[str, str | None, str]:
        """First name, middle names and surname as this system has them."""
        rng = self.rng
        first = person.first_name
        familiar = nickname(person.first_name, rng) if rng.random() < profile.nickname else None
        if familiar is not None:
            first = familiar
            variations.append("nickname")
        elif rng.random() < profile.typo:
            first = misspell(person.first_name, rng)
            variations.append("first_name_typo")
        elif rng.random() < 0.01:
            first = person.first_name[0]
            variations.append("initial_only")

        last = person.last_name
        if person.previous_last_name is not None and rng.random() < profile.old_surname:
            last = person.previous_last_name
            variations.append("old_surname")
        elif rng.random() < profile.typo:
            last = misspell(last, rng)
            variations.append("last_name_typo")

        middle = person.middle_names if rng.random() < profile.middle_names else None
        if profile.capital_names:
            return first.upper(), _upper(middle), last.upper()
        return first, middle, last

    def _nino(self, person: Resident, profile: SystemProfile) -> str | None:
        number = person.national_insurance_number
        if number is None or self.rng.random() >= profile.national_insurance_number:
            return None
        if self.rng.random() < 0.5:
            # Written in pairs, as on the letter from HMRC.
            return f"{number[:2]} {number[2:4]} {number[4:6]} {number[6:8]} {number[8]}"
        return number

    def finish(self) -> SourceRecords:
        """Number each system's records in an order that says nothing about who is who."""
        records: list[NewSourceRecord] = []
        truth: list[TruthRow] = []
        for name, drafts in self.drafts.items():
            profile = PROFILES[name]
            self.rng.shuffle(drafts)
            number = self.rng.randint(1_000, 50_000)
            for draft in drafts:
                number += self.rng.randint(1, 4)
                record_id = profile.record_id.format(number)
                records.append(draft.record._replace(source_record_id=record_id))
                truth.append(
                    TruthRow(name, record_id, draft.person_key, " ".join(draft.variations))
                )
        return SourceRecords(records, truth)

    # Values.

    def _reference(self, prefix: str) -> str:
        self.references += 1
        return f"{prefix}{self.references:08d}"

    def _updated_at(self, after: date | None, before: date | None = None) -> datetime:
        start = after or self.reference_date - timedelta(days=6 * 365)
        end = before or self.reference_date
        days = max(0, (end - start).days)
        day = start + timedelta(days=self.rng.randint(0, days))
        return datetime.combine(day, time(self.rng.randint(8, 18), self.rng.randint(0, 59)), UTC)

    def _band(self, home: Home) -> str:
        if home.classification == "RD02":
            return self.rng.choice("EFGH")
        if home.classification == "RD03":
            return self.rng.choice("DEF")
        if home.classification == "RD04":
            return self.rng.choice("CDE")
        return self.rng.choice("ABC")

    def _number_plate(self) -> str:
        year = self.rng.randint(2, 24)
        age_identifier = year + (50 if self.rng.random() < 0.5 else 0)
        letters = "".join(self.rng.choice(_PLATE_LETTERS) for _ in range(3))
        return f"{self.rng.choice(_LONDON_PLATE_AREAS)}{age_identifier:02d} {letters}"


def _upper(text: str | None) -> str | None:
    return text.upper() if text is not None else None


def _zone_name(index: int) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return letters[index % len(letters)] + (str(index // len(letters)) if index >= 23 else "")
