"""What ``/api/v1/me`` answers about the resident's own council records, and what it takes.

The JSON shapes of the signed-in resident's account and, once it is connected to the council's
records of them, their joined-up record: each detail with the system it came from, their contact
details and addresses with the systems that hold them, and every council record about them.
Internal ids of source records are left out: a resident knows a record by its system and
reference. Times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from townhall.domains.people.golden import FIELD_LABELS
from townhall.domains.people.residents import LinkedRecord, ResidentView
from townhall.platform.auth.residents import ResidentMember


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _systems(sources: list[dict[str, Any]]) -> list[str]:
    return sorted({str(source["source_system"]) for source in sources})


class AccountPublic(BaseModel):
    """Your account: the email address you sign in with."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["res_3f9a0c1d2b4e5f60"])
    email: str = Field(examples=["grace@example.com"])
    verified: bool = Field(description="Whether you proved you read the address (a code).")
    verified_at: datetime | None
    connected: bool = Field(
        description="Whether the account is connected to the council's records of you "
        "(POST `/api/v1/me/resident-connection`)."
    )

    @classmethod
    def of(cls, member: ResidentMember) -> AccountPublic:
        """The public shape of an account."""
        return cls(
            id=member.id,
            email=member.email,
            verified=member.verified_at is not None,
            verified_at=member.verified_at,
            connected=member.resident_id is not None,
        )


class DetailPublic(BaseModel):
    """One detail of your joined-up record, and the council system it was taken from."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(examples=["last_name"])
    label: str = Field(examples=["Last name"])
    value: str | None = Field(examples=["Adeyemi"])
    system: str | None = Field(description="The council system it came from.", examples=["housing"])
    updated_at: str | None = Field(description="When that system last changed its record.")


class HeldPublic(BaseModel):
    """A contact detail or an address, and the council systems that hold it."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="email, phone or address", examples=["email"])
    value: str = Field(examples=["grace@example.com"])
    postcode: str | None = None
    uprn: int | None = None
    systems: list[str] = Field(examples=[["council_tax", "housing"]])


class RecordPublic(BaseModel):
    """One council system's record of you."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(examples=["council_tax"])
    reference: str = Field(description="Its reference in that system.", examples=["CT00012345"])
    updated_at: datetime = Field(description="When that system last changed it.")
    joined_at: datetime = Field(description="When it was joined to your record.")

    @classmethod
    def of(cls, record: LinkedRecord) -> RecordPublic:
        """The public shape of a linked record."""
        return cls(
            system=record.source_system,
            reference=record.source_system_record_id,
            updated_at=record.source_updated_at,
            joined_at=record.linked_at,
        )


class MyRecordPublic(BaseModel):
    """The council's joined-up record of you, and which of its systems hold what."""

    model_config = ConfigDict(extra="forbid")

    resident_id: str = Field(examples=["R7K3MQ9XA2"])
    details: list[DetailPublic]
    contact_details: list[HeldPublic]
    addresses: list[HeldPublic]
    records: list[RecordPublic]

    @classmethod
    def of(cls, resident: ResidentView) -> MyRecordPublic:
        """The public shape of a resident, as they see themselves."""
        golden = resident.golden
        order = [name for name in FIELD_LABELS if name in golden]
        order += sorted(name for name in golden if name not in FIELD_LABELS)
        return cls(
            resident_id=resident.id,
            details=[
                DetailPublic(
                    field=name,
                    label=FIELD_LABELS.get(name, name.replace("_", " ").capitalize()),
                    value=_text(golden[name].get("value")),
                    system=golden[name].get("source_system"),
                    updated_at=_text(golden[name].get("updated_at")),
                )
                for name in order
            ],
            contact_details=[
                HeldPublic(
                    kind=str(item["kind"]),
                    value=str(item["value"]),
                    systems=_systems(item.get("sources", [])),
                )
                for item in resident.contact_details
            ],
            addresses=[
                HeldPublic(
                    kind="address",
                    value=str(item.get("address_text") or ""),
                    postcode=item.get("postcode"),
                    uprn=item.get("uprn"),
                    systems=_systems(item.get("sources", [])),
                )
                for item in resident.addresses
            ],
            records=[RecordPublic.of(record) for record in resident.records],
        )


class MePublic(BaseModel):
    """You: your account and, once it is connected, the council's records of you."""

    model_config = ConfigDict(extra="forbid")

    account: AccountPublic
    council_record: MyRecordPublic | None = Field(
        description="None until the account is connected to the council's records."
    )

    @classmethod
    def of_account(cls, member: ResidentMember, record: MyRecordPublic | None) -> MePublic:
        """The answer of ``/me`` for ``member``."""
        return cls(account=AccountPublic.of(member), council_record=record)


class ConnectionRequest(BaseModel):
    """Three things the council sent you, which together show which records are yours."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(
        min_length=1,
        max_length=64,
        description="A reference a council system gave you, such as your council tax account "
        "number or tenancy reference, as a letter or bill shows it.",
        examples=["CT00012345"],
    )
    date_of_birth: date = Field(examples=["1971-04-02"])
    postcode: str = Field(min_length=5, max_length=10, examples=["E8 4RP"])
