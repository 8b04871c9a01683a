"""What the council holds about a resident, gathered from each place that holds some.

This module owns the ``HeldDataSource`` protocol and the platform's own source, the resident
accounts that sign in as the resident. A subject access export (``subject_access``) asks every
registered source (``townhall.data_uses.held_data_sources``) for its section; a domain that comes
to hold data about residents adds one source there, and the export and its report show it with
nothing else changed. A source is asked about every id the resident has had (a merged resident's
earlier ids too, ``townhall.data_uses.all_ids_of``), the id they have now first.

A source gives values as people read them and never gives a secret: no password or code hashes,
no tokens, no identifiers at a sign-in provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.platform.audit.chain import canonical_time
from townhall.platform.audit.vocabulary import ACCOUNT, Service
from townhall.platform.auth.sign_in_models import ResidentAccount

FieldValue = str | bool | None


@dataclass(frozen=True)
class HeldField:
    """One value held: its name (snake_case), how a person reads the name, and the value."""

    name: str
    label: str
    value: FieldValue


@dataclass(frozen=True)
class HeldItem:
    """One record held about the resident (an account, a source record...)."""

    # An opaque key of the record ("resident-account:res_..."), as audit records name it.
    subject: str
    fields: list[HeldField]


@dataclass(frozen=True)
class HeldSection:
    """What one source holds about the resident."""

    name: str
    title: str
    service: Service
    items: list[HeldItem] = field(default_factory=list)


class HeldDataSource(Protocol):
    """A place that holds data about residents, able to say what it holds about one."""

    @property
    def name(self) -> str:
        """A short key of the source (``resident-accounts``), unique among sources."""

    @property
    def title(self) -> str:
        """What the section is, as a heading: "Accounts you sign in with"."""

    @property
    def service(self) -> Service:
        """The part of the council that holds it."""

    def collect(self, session: Session, resident_ids: Sequence[str]) -> HeldSection:
        """Everything this source holds about the resident known by ``resident_ids`` (the id
        they have now first, then ids merged into it), read in ``session``."""
        ...


class ResidentAccounts:
    """The council accounts linked to the resident: address, verification, sign-in provider."""

    name = "resident-accounts"
    title = "Accounts you sign in with"
    service = ACCOUNT

    def collect(self, session: Session, resident_ids: Sequence[str]) -> HeldSection:
        """The accounts connected to any of the resident's ids, oldest first."""
        accounts = session.scalars(
            select(ResidentAccount)
            .where(ResidentAccount.resident_id.in_(resident_ids))
            .order_by(ResidentAccount.created_at, ResidentAccount.id)
        )
        items = [
            HeldItem(
                subject=f"resident-account:{account.id}",
                fields=[
                    HeldField("email", "Email address", account.email),
                    HeldField(
                        "verified", "Email address confirmed", account.verified_at is not None
                    ),
                    HeldField("created_at", "Created", canonical_time(account.created_at)),
                    HeldField(
                        "sign_in_provider",
                        "Signs in with",
                        account.oidc_issuer if account.oidc_issuer else "A code sent by email",
                    ),
                ],
            )
            for account in accounts
        ]
        return HeldSection(self.name, self.title, self.service, items)
