"""Connecting a resident's account to the council's records of them, and showing those records.

This module owns ``/account/connect`` (the form: a reference a council system gave them, their
date of birth as day, month and year, their postcode) and what ``/account`` shows of the
council's joined-up record once the account is connected. It checks only that each answer is
there and well formed, as GOV.UK forms do, so it can say which field to fix; whether the three
belong together is ``domains.people.connection``'s to decide, with its limit on attempts and its
one refusal that never says which part was wrong. What the record shows is ``me_api``'s
``council_record``, the same as ``GET /api/v1/me``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates

from townhall.domains.addresses.text import normalise_postcode
from townhall.domains.people.connection import MAX_REFERENCE, Proof, connect_account
from townhall.domains.people.data_uses import LINKS, PEOPLE
from townhall.domains.people.me_api import connection_use
from townhall.domains.people.me_schemas import DetailPublic, MyRecordPublic
from townhall.errors import TooManyRequests, UnprocessableContent
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.resident_view import london_time
from townhall.platform.auth.sessions import SignedInResident, require_resident, sign_in_context
from townhall.platform.context import AppContext
from townhall.portal.views_sign_in import FieldProblem, FormPage, render_form

CONNECT = "/account/connect"
CONNECTED = "/account?connected=1"
DATE_OF_BIRTH = "date-of-birth"
_DATE_PARTS = ("day", "month", "year")
# The golden record's parts of a name, in the order a name is written.
_NAME_FIELDS = ("title", "first_name", "middle_names", "last_name")
# Shown elsewhere on the page: the name whole, addresses and contact details in their own lists.
_NOT_DETAILS = {*_NAME_FIELDS, "email", "phone", "address_text", "postcode", "uprn"}


@dataclass(frozen=True)
class ConnectAnswers:
    """What the form sent, as typed, so a page with errors can show it again."""

    reference: Annotated[str, Form()] = ""
    day: Annotated[str, Form(alias=f"{DATE_OF_BIRTH}-day")] = ""
    month: Annotated[str, Form(alias=f"{DATE_OF_BIRTH}-month")] = ""
    year: Annotated[str, Form(alias=f"{DATE_OF_BIRTH}-year")] = ""
    postcode: Annotated[str, Form()] = ""

    def part(self, name: str) -> str:
        """One part of the date of birth, without the spaces people type around numbers."""
        value: str = getattr(self, name)
        return value.strip()


@dataclass
class ConnectPage:
    """The form page: the answers, each field's problem, and which date parts are wrong."""

    answers: ConnectAnswers = field(default_factory=ConnectAnswers)
    form: FormPage = field(default_factory=FormPage)
    wrong_date_parts: tuple[str, ...] = ()
    connected: bool = False

    def date_message(self) -> dict[str, str] | None:
        """The ``errorMessage`` of the GOV.UK date input, or None."""
        if not self.wrong_date_parts:
            return None
        return self.form.message_for(f"{DATE_OF_BIRTH}-{self.wrong_date_parts[0]}")

    def date_items(self) -> list[dict[str, object]]:
        """The ``items`` of the GOV.UK date input, marking the parts to fix."""
        widths = {"day": 2, "month": 2, "year": 4}
        return [
            {
                "name": name,
                "value": getattr(self.answers, name),
                "classes": f"govuk-input--width-{widths[name]}"
                + (" govuk-input--error" if name in self.wrong_date_parts else ""),
                "autocomplete": f"bday-{name}",
            }
            for name in _DATE_PARTS
        ]


def date_of_birth(
    answers: ConnectAnswers, today: date
) -> tuple[date | None, str | None, tuple[str, ...]]:
    """The date typed, or the GOV.UK message saying what is wrong and which parts to fix."""
    parts = {name: answers.part(name) for name in _DATE_PARTS}
    missing = tuple(name for name in _DATE_PARTS if not parts[name])
    if len(missing) == len(_DATE_PARTS):
        return None, "Enter your date of birth", _DATE_PARTS
    if missing:
        return None, f"Date of birth must include a {' and '.join(missing)}", missing
    if not all(value.isdigit() for value in parts.values()) or len(parts["year"]) != 4:
        return None, "Date of birth must be a real date", _DATE_PARTS
    try:
        born = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        return None, "Date of birth must be a real date", _DATE_PARTS
    if born >= today:
        return None, "Date of birth must be in the past", _DATE_PARTS
    return born, None, ()


def check_answers(answers: ConnectAnswers, today: date) -> tuple[Proof | None, ConnectPage]:
    """The proof the answers make, or the page saying which fields to fix."""
    page = ConnectPage(answers=answers)
    problems: list[FieldProblem] = []
    reference = answers.reference.strip()
    if not reference:
        problems.append(FieldProblem("reference", "Enter your reference"))
    elif len(reference) > MAX_REFERENCE:
        problems.append(
            FieldProblem("reference", f"Reference must be {MAX_REFERENCE} characters or fewer")
        )
    born, date_problem, page.wrong_date_parts = date_of_birth(answers, today)
    if date_problem is not None:
        # The summary links to the first part to fix, as GOV.UK's date input pattern says.
        problems.append(FieldProblem(f"{DATE_OF_BIRTH}-{page.wrong_date_parts[0]}", date_problem))
    if not answers.postcode.strip():
        problems.append(FieldProblem("postcode", "Enter your postcode"))
    elif normalise_postcode(answers.postcode) is None:
        problems.append(FieldProblem("postcode", "Enter a real postcode"))
    page.form = FormPage(problems)
    if problems or born is None:
        return None, page
    return Proof(reference, born, answers.postcode), page


@dataclass(frozen=True)
class Shown:
    """One row of the record's summary: what it is, its value, and the systems it came from."""

    label: str
    value: str
    systems: tuple[str, ...]

    @property
    def row(self) -> dict[str, object]:
        """A row of the GOV.UK summary list: the value, then where it came from."""
        html = escape(self.value)
        if self.systems:
            names = ", ".join(service_name(system) for system in self.systems)
            html += Markup('<br><span class="govuk-body-s">From: %s</span>') % names
        return {"key": {"text": self.label}, "value": {"html": html}}


def service_name(system: str) -> str:
    """A source system's key as people read it: ``council_tax`` as "Council tax"."""
    return system.replace("_", " ").capitalize()


@dataclass(frozen=True)
class ShownSource:
    """One council service's record joined into the resident's: which, and its reference."""

    service: str
    reference: str
    updated_at: datetime


@dataclass(frozen=True)
class CouncilRecordSummary:
    """What ``/account`` shows of the council's joined-up record of the resident."""

    details: list[Shown]
    addresses: list[Shown]
    contact_details: list[Shown]
    sources: list[ShownSource]

    @classmethod
    def of(cls, record: MyRecordPublic) -> CouncilRecordSummary:
        """The summary of ``record``: the name whole, dates as people write them."""
        by_field = {detail.field: detail for detail in record.details if detail.value}
        details: list[Shown] = []
        name = [by_field[part] for part in _NAME_FIELDS if part in by_field]
        if name:
            systems = tuple(sorted({part.system for part in name if part.system}))
            details.append(Shown("Name", " ".join(str(part.value) for part in name), systems))
        details.extend(
            _shown(detail) for detail in by_field.values() if detail.field not in _NOT_DETAILS
        )
        kinds = {"email": "Email address", "phone": "Phone number"}
        return cls(
            details=details,
            addresses=[
                Shown("Address", _address(held.value, held.postcode), tuple(held.systems))
                for held in record.addresses
            ],
            contact_details=[
                Shown(kinds.get(held.kind, held.kind.capitalize()), held.value, tuple(held.systems))
                for held in record.contact_details
            ],
            sources=[
                ShownSource(service_name(each.system), each.reference, each.updated_at)
                for each in record.records
            ],
        )


def _address(text: str, postcode: str | None) -> str:
    """An address with its postcode, once (some systems keep it in the text already)."""
    if postcode and postcode.replace(" ", "") not in text.upper().replace(" ", ""):
        return f"{text}, {postcode}" if text else postcode
    return text


def _shown(detail: DetailPublic) -> Shown:
    value = str(detail.value)
    if detail.field == "date_of_birth":
        try:
            born = date.fromisoformat(value)
            value = f"{born.day} {born:%B %Y}"
        except ValueError:
            pass  # shown as the system holds it
    return Shown(detail.label, value, (detail.system,) if detail.system else ())


def add_connect_routes(router: APIRouter, context: AppContext, templates: Jinja2Templates) -> None:
    """``/account/connect``: the form, and what its answers lead to."""

    def show(request: Request, page: ConnectPage, status_code: int = 200) -> HTMLResponse:
        return render_form(
            templates, request, "account/connect.html", {"page": page}, status_code=status_code
        )

    @router.get(CONNECT, name="account_connect")
    def show_connect(
        request: Request, resident: Annotated[SignedInResident, require_resident()]
    ) -> HTMLResponse:
        """Ask for the three things that show which council records are the resident's."""
        return show(request, ConnectPage(connected=resident.member.resident_id is not None))

    @router.post(CONNECT, name="account_connect_submit")
    async def submit_connect(
        request: Request,
        resident: Annotated[SignedInResident, require_resident()],
        uses: Annotated[DataUses, personal_data(PEOPLE, LINKS)],
        answers: Annotated[ConnectAnswers, Depends()],
    ) -> Response:
        """Connect the account, or say which field to fix, that the details do not match, or
        when to try again."""
        today = sign_in_context(request).clock().date()
        proof, page = check_answers(answers, today)
        page.connected = resident.member.resident_id is not None
        if proof is None:
            return show(request, page, 400)
        try:
            member = await run_in_threadpool(
                connect_account, context.database, context.rate_limiter, resident.member, proof
            )
        except TooManyRequests as refusal:
            return throttled(templates, request, refusal)
        except UnprocessableContent as refusal:
            page.form = FormPage([FieldProblem("reference", refusal.detail)])
            return show(request, page, 400)
        await uses.record(connection_use(uses, member))
        return RedirectResponse(CONNECTED, status_code=303)


def throttled(
    templates: Jinja2Templates, request: Request, refusal: TooManyRequests
) -> HTMLResponse:
    """The 429 page: too many attempts, and the time they can try again (UK time)."""
    seconds = int(refusal.headers.get("Retry-After", "60"))
    # The limiter counts in real time, so the time to come back is the real one too.
    again = datetime.now(UTC) + timedelta(seconds=seconds)
    return templates.TemplateResponse(
        request,
        "account/connect_throttled.html",
        {"try_again": london_time(again)},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )
