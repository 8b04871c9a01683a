"""The data protection officer's pages: search the audit trail, a resident's report, holds.

This module owns the routes under ``/staff/audit``, for members of staff with the role
``data_protection_officer`` only (others get the 403 page):

* ``/staff/audit``: search the records by resident, consumer, member of staff, action, service
  and dates, newest first, every field of each record, and whether a hold hides it;
* ``/staff/audit/residents/{resident_id}``: the subject access report, everything held about a
  resident and its uses, readable on screen and printable to PDF (a print stylesheet);
* ``/staff/audit/holds``: the holds, newest first, a form to make one and buttons to lift them.

The work is ``townhall.platform.audit``'s (``search``, ``holds``, ``subject_access``), the same the
API at ``/api/v1/audit`` does; this module turns forms into its inputs and its answers into
pages. Each page that shows records about residents records one use per resident shown, and
the report records an export, before the page is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.templating import Jinja2Templates

from townhall.data_uses import all_ids_of, held_data_sources, vocabulary
from townhall.errors import Conflict, NotFound, ValidationFailed
from townhall.platform.audit import holds, subject_access
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.holds import HoldRecord, NewHold
from townhall.platform.audit.resident_view import utc_now
from townhall.platform.audit.search import FoundRecord, RecordFilters, resident_ids, search_records
from townhall.platform.audit.vocabulary import DATA_PROTECTION, DATA_USES, EVERYTHING_HELD, Action
from townhall.platform.auth.csrf import csrf_protected
from townhall.platform.auth.sessions import SignedInStaff, require_staff
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.context import AppContext
from townhall.platform.http.pagination import PageRequest
from townhall.platform.http.routing import townhall_router
from townhall.portal.paging import PagedList, PageLinks, filled_filters
from townhall.portal.views_sign_in import FieldProblem, FormPage, render_form

SEARCH_PATH = "/staff/audit"
HOLDS_PATH = "/staff/audit/holds"
REPORT_PATH = "/staff/audit/residents"
RESULTS_PER_PAGE = 25
# What a data protection officer uses residents' data for on these pages.
PURPOSE = "Answering data protection requests and investigating uses of personal data"
# Identifiers typed into the forms: as the API takes them.
_MAX_IDENTIFIER = 64

DataProtectionOfficer = Annotated[SignedInStaff, require_staff(StaffRole.DATA_PROTECTION_OFFICER)]
TrailUses = Annotated[DataUses, personal_data(DATA_PROTECTION, DATA_USES, purpose=PURPOSE)]
ExportUses = Annotated[DataUses, personal_data(DATA_PROTECTION, EVERYTHING_HELD, purpose=PURPOSE)]


@dataclass(frozen=True)
class SearchQuery:
    """The search form as the query string carries it, and where in the results."""

    resident_id: str = ""
    consumer_id: str = ""
    actor_id: str = ""
    action: str = ""
    service: str = ""
    occurred_from: str = ""
    occurred_to: str = ""
    cursor: str = ""
    page: str = "1"

    def filled(self) -> dict[str, str]:
        """The form's fields that were filled in, trimmed."""
        return filled_filters(self)


@dataclass
class SearchPage:
    """What the search page shows."""

    query: SearchQuery
    form: FormPage = field(default_factory=FormPage)
    searched: bool = False
    results: list[FoundRecord] = field(default_factory=list)
    links: PageLinks = field(default_factory=PageLinks)


class HoldForm(BaseModel):
    """The hold form as it was filled in (its form token is the CSRF guard's)."""

    resident_id: str = ""
    consumer_id: str = ""
    actor_id: str = ""
    accessed_from: str = ""
    accessed_to: str = ""
    hidden_until: str = ""
    reason: str = ""


def parse_date(text: str, field_id: str, label: str, errors: list[FieldProblem]) -> date | None:
    """A ``YYYY-MM-DD`` date from a form, or None (with the problem added when it is not one)."""
    text = text.strip()
    if not text:
        return None
    try:
        # Exactly YYYY-MM-DD: fromisoformat alone also takes 20261101 and week dates.
        if len(text) == len("2026-11-01"):
            return date.fromisoformat(text)
    except ValueError:
        pass
    errors.append(FieldProblem(field_id, f"{label} must be a real date, like 2026-11-01"))
    return None


def _identifier(text: str, field_id: str, label: str, errors: list[FieldProblem]) -> str | None:
    """An identifier from a form (None when empty); a problem when it cannot be one."""
    text = text.strip()
    if not text:
        return None
    if len(text) > _MAX_IDENTIFIER or not all("!" <= character <= "~" for character in text):
        errors.append(
            FieldProblem(
                field_id, f"{label} must be {_MAX_IDENTIFIER} letters, digits or signs, no spaces"
            )
        )
        return None
    return text


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day is not None else None


def _day_end(day: date | None) -> datetime | None:
    """The start of the next day: dates on forms include the whole of the day."""
    return _day_start(day + timedelta(days=1)) if day is not None else None


def search_filters(query: SearchQuery, errors: list[FieldProblem]) -> RecordFilters:
    """The filters the form asks for; problems with them are added to ``errors``."""
    filled = query.filled()
    action = filled.get("action")
    if action is not None and action not in set(Action):
        errors.append(FieldProblem("action", "Choose an action from the list"))
    service = filled.get("service")
    if service is not None and service not in vocabulary().services:
        errors.append(FieldProblem("service", "Choose a service from the list"))
    since = parse_date(query.occurred_from, "occurred_from", "The first date", errors)
    until = parse_date(query.occurred_to, "occurred_to", "The last date", errors)
    if since is not None and until is not None and since > until:
        errors.append(FieldProblem("occurred_to", "The last date must not be before the first"))
    end = _day_end(until)
    return RecordFilters(
        resident_id=_identifier(query.resident_id, "resident_id", "Resident", errors),
        consumer_id=_identifier(query.consumer_id, "consumer_id", "Consumer", errors),
        actor_id=_identifier(query.actor_id, "actor_id", "Account", errors),
        action=action,
        service=service,
        occurred_from=_day_start(since),
        occurred_to=end - timedelta(microseconds=1) if end is not None else None,
    )


@dataclass
class AuditPages:
    """The pages' work, between the routes and the audit trail's services."""

    context: AppContext
    templates: Jinja2Templates

    def search(self, query: SearchQuery) -> tuple[SearchPage, int]:
        """The search page for ``query`` and its status (400 when the form has problems)."""
        shown = SearchPage(query=query)
        filled = query.filled()
        if not filled and not query.cursor:
            return shown, 200
        filters = search_filters(query, shown.form.errors)
        if shown.form.errors:
            return shown, 400
        shown.searched = True
        paged = PagedList(self.context.cursors, SEARCH_PATH, filled)
        after = paged.position(query.cursor, query.page, shown.links)
        found = search_records(
            self.context.database, filters, PageRequest(RESULTS_PER_PAGE, after), now=utc_now()
        )
        shown.results = found.items
        paged.links(found, shown.links)
        return shown, 200

    def holds(self, cursor: str, page: str) -> tuple[list[HoldRecord], PageLinks]:
        """A page of holds, newest first, and the links on."""
        links = PageLinks()
        paged = PagedList(self.context.cursors, HOLDS_PATH, {})
        after = paged.position(cursor, page, links)
        found = holds.list_holds(self.context.database, PageRequest(RESULTS_PER_PAGE, after))
        paged.links(found, links)
        return found.items, links

    def render(
        self,
        request: Request,
        template: str,
        values: dict[str, Any],
        status_code: int = 200,
    ) -> HTMLResponse:
        """A page of this module, with its forms' token."""
        words = vocabulary()
        return render_form(
            self.templates,
            request,
            template,
            {
                **values,
                "actions": [action.value for action in Action],
                "services": sorted(words.services.values(), key=lambda s: s.name),
                "vocabulary": words,
                "now": utc_now(),
            },
            status_code=status_code,
        )


def build_audit_pages(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The pages under ``/staff/audit``."""
    router = townhall_router(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[csrf_protected()],
    )
    pages = AuditPages(context, templates)

    @router.get(SEARCH_PATH, name="staff_audit")
    def search(
        request: Request,
        _officer: DataProtectionOfficer,
        uses: TrailUses,
        query: Annotated[SearchQuery, Depends()],
    ) -> HTMLResponse:
        """Search the audit trail; each resident shown is told of the search."""
        shown, status = pages.search(query)
        uses.record_now(*(uses.of(resident) for resident in resident_ids(shown.results)))
        return pages.render(request, "audit/search.html", {"page": shown}, status)

    @router.get(REPORT_PATH + "/{resident_id}", name="staff_audit_report")
    def report(
        request: Request, _officer: DataProtectionOfficer, uses: ExportUses, resident_id: str
    ) -> Response:
        """Everything held about a resident and its uses, to read or print; under every id the
        resident has had, at the id they have now (an earlier one leads there)."""
        problems: list[FieldProblem] = []
        if _identifier(resident_id, "resident_id", "Resident", problems) is None:
            return pages.render(request, "audit/not_found.html", {"resident_id": resident_id}, 404)
        ids = all_ids_of(context.database, resident_id)
        if ids[0] != resident_id:
            return RedirectResponse(f"{REPORT_PATH}/{ids[0]}", status_code=303)
        export = subject_access.export_held_data(
            context.database, ids, held_data_sources(), now=utc_now()
        )
        uses.record_now(uses.of(resident_id, action=Action.EXPORTED))
        return pages.render(request, "audit/report.html", {"export": export})

    _add_hold_pages(router, pages)
    return router


def _add_hold_pages(router: APIRouter, pages: AuditPages) -> None:
    @router.get(HOLDS_PATH, name="staff_audit_holds")
    def list_holds(
        *,
        request: Request,
        _officer: DataProtectionOfficer,
        uses: TrailUses,
        cursor: str = "",
        page: str = "1",
        lifted: str = "",
        made: str = "",
    ) -> HTMLResponse:
        """The holds, newest first, each with a button to lift it while it is active."""
        found, links = pages.holds(cursor, page)
        shown_residents = dict.fromkeys(hold.resident_id for hold in found)
        uses.record_now(*(uses.of(resident) for resident in shown_residents))
        return pages.render(
            request,
            "audit/holds.html",
            {"holds": found, "links": links, "lifted": lifted, "made": made},
        )

    @router.get(HOLDS_PATH + "/new", name="staff_audit_new_hold")
    def new_hold(
        request: Request, _officer: DataProtectionOfficer, resident_id: str = ""
    ) -> HTMLResponse:
        """The form to make a hold (for a resident, when the link names one)."""
        return pages.render(
            request,
            "audit/hold_form.html",
            {"form": HoldForm(resident_id=resident_id[:_MAX_IDENTIFIER]), "page": FormPage()},
        )

    @router.post(HOLDS_PATH, name="staff_audit_make_hold")
    def make_hold(
        request: Request,
        _officer: DataProtectionOfficer,
        uses: TrailUses,
        form: Annotated[HoldForm, Form()],
    ) -> Response:
        """Make the hold and go to the list of holds, or show the form with its problems."""
        page = FormPage()
        new = _new_hold(form, page.errors)
        if new is not None:
            try:
                hold = holds.make_hold(pages.context.database, new, uses.actor, now=utc_now())
            except ValidationFailed as refused:
                page.errors.extend(
                    FieldProblem(error.field.rpartition(".")[2], error.message)
                    for error in refused.errors
                )
            else:
                return RedirectResponse(f"{HOLDS_PATH}?made={hold.id}", status_code=303)
        return pages.render(request, "audit/hold_form.html", {"form": form, "page": page}, 400)

    @router.post(HOLDS_PATH + "/{hold_id}/lift", name="staff_audit_lift_hold")
    def lift_hold(
        request: Request, _officer: DataProtectionOfficer, uses: TrailUses, hold_id: str
    ) -> Response:
        """Lift a hold and go back to the list of holds."""
        try:
            hold = holds.lift_hold(pages.context.database, hold_id, uses.actor, now=utc_now())
        except (NotFound, Conflict) as refused:
            return pages.render(
                request,
                "audit/lift_refused.html",
                {"detail": refused.detail},
                404 if isinstance(refused, NotFound) else 409,
            )
        return RedirectResponse(f"{HOLDS_PATH}?lifted={hold.id}", status_code=303)


def _new_hold(form: HoldForm, errors: list[FieldProblem]) -> NewHold | None:
    """The hold the form asks for, or None with its problems in ``errors``."""
    if not form.resident_id.strip():
        errors.append(FieldProblem("resident_id", "Enter the resident whose view to hold back"))
    resident = _identifier(form.resident_id, "resident_id", "Resident", errors)
    consumer = _identifier(form.consumer_id, "consumer_id", "Consumer", errors)
    actor = _identifier(form.actor_id, "actor_id", "Staff account", errors)
    since = parse_date(form.accessed_from, "accessed_from", "The first date", errors)
    until = parse_date(form.accessed_to, "accessed_to", "The last date", errors)
    hidden_until = parse_date(form.hidden_until, "hidden_until", "The date", errors)
    if hidden_until is None and not any(p.field_id == "hidden_until" for p in errors):
        errors.append(FieldProblem("hidden_until", "Enter the date the resident sees them again"))
    if resident is None or hidden_until is None or errors:
        return None
    return NewHold(
        resident_id=resident,
        reason=form.reason,
        hidden_until=hidden_until,
        consumer_id=consumer,
        actor_id=actor,
        accessed_from=_day_start(since),
        accessed_to=_day_end(until),
    )
