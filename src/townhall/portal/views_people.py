"""The staff pages about people: residents, the review queue of possible matches, decisions.

This module owns the routes under ``/staff/people``:

* ``/staff/people``: search residents by name, date of birth, postcode or UPRN;
* ``/staff/people/residents/{id}``: one resident's golden record (each field with where it came
  from), contact details, addresses, linked source records (with a form to unlink one) and the
  decisions that touched it; a merged id redirects to the resident it was merged into;
* ``/staff/people/review``: the queue of possible matches, most probable first;
* ``/staff/people/review/{id}``: a possible match's evidence, field by field and as the match
  weight chart (``match_weight_chart``), with forms to accept or reject it;
* ``/staff/people/decisions/{id}``: what a decision changed, who made it and why, with a form to
  undo it.

Who may do what (ADR 35): officers who serve residents (housing, parking) and the data steward
and administrator may look residents up; only the data steward and the administrator decide on
links (review, unlink, undo) and see the queue and decisions. The work is the people domain's
(``residents``, ``review``, ``decisions``); this module turns forms into its inputs and its
answers into pages. Each page records one use per resident it shows before it is sent; each
change records its uses in its own unit of work (``residents.apply``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from townhall.domains.people import decisions, golden, residents, review
from townhall.domains.people.data_uses import LINKS, PEOPLE, RESIDENT, REVIEW_ITEM
from townhall.domains.people.decisions import Decision
from townhall.domains.people.linkage.results import ScoredPair
from townhall.domains.people.schemas import SourceRecord
from townhall.domains.people.service import get_source_record, record_references
from townhall.errors import Conflict, NotFound
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.vocabulary import Action
from townhall.platform.auth.csrf import csrf_protected
from townhall.platform.auth.sessions import SignedInStaff, require_staff
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.context import AppContext
from townhall.platform.http.pagination import PageRequest
from townhall.platform.http.routing import townhall_router
from townhall.portal.match_weight_chart import draw_match_weight_chart, percent
from townhall.portal.paging import PagedList, PageLinks, filled_filters
from townhall.portal.views_sign_in import FieldProblem, FormPage, render_form

PEOPLE_PATH = "/staff/people"
RESIDENTS_PATH = PEOPLE_PATH + "/residents"
REVIEW_PATH = PEOPLE_PATH + "/review"
DECISIONS_PATH = PEOPLE_PATH + "/decisions"
RESULTS_PER_PAGE = 25

# Who may look residents up, and who may decide which records are one person (ADR 35).
VIEWERS = (
    StaffRole.DATA_STEWARD,
    StaffRole.ADMINISTRATOR,
    StaffRole.HOUSING_OFFICER,
    StaffRole.PARKING_OFFICER,
)
DECIDERS = (StaffRole.DATA_STEWARD, StaffRole.ADMINISTRATOR)

LOOK_UP = "Finding a resident's council records to give them a council service"
STEWARDSHIP = "Keeping the council's records of residents correctly joined"
# A reason is written into the decision and shown with it; a paragraph at most.
MAX_REASON = 2000
_MAX_UPRN_DIGITS = 12

# The words the pages use for the domain's codes.
# Staff know a UPRN by its initials.
FIELD_LABELS = {**golden.FIELD_LABELS, "uprn": "UPRN"}
RULE_WORDS = {
    "most_trusted": "From the most trusted system that has it",
    "most_recent": "The most recently updated",
}
LINK_WORDS = {
    "model": "By the model",
    "review": "By a reviewer",
    "staff": "By a member of staff",
    "rerun": "By a full re-run",
    "alone": "On its own (no match)",
}
DECISION_KINDS = {
    "link": "Linked by the model",
    "accept": "Possible match accepted",
    "reject": "Possible match rejected",
    "merge": "Residents merged",
    "unlink": "Record unlinked",
    "rerun": "Full re-run",
    "undo": "Undo",
}

Viewer = Annotated[SignedInStaff, require_staff(*VIEWERS)]
Decider = Annotated[SignedInStaff, require_staff(*DECIDERS)]
SearchUses = Annotated[DataUses, personal_data(PEOPLE, RESIDENT, purpose=LOOK_UP)]
ResidentUses = Annotated[DataUses, personal_data(PEOPLE, RESIDENT, purpose=LOOK_UP)]
ReviewUses = Annotated[DataUses, personal_data(PEOPLE, REVIEW_ITEM, purpose=STEWARDSHIP)]
LinkUses = Annotated[DataUses, personal_data(PEOPLE, LINKS, purpose=STEWARDSHIP)]


@dataclass(frozen=True)
class ResidentQuery:
    """The resident search form as the query string carries it, and where in the results."""

    q: str = ""
    date_of_birth: str = ""
    postcode: str = ""
    uprn: str = ""
    cursor: str = ""
    page: str = "1"

    def filled(self) -> dict[str, str]:
        """The form's fields that were filled in, trimmed."""
        return filled_filters(self)


@dataclass
class ListPage:
    """What a list page shows besides its items: the form's problems and the links on."""

    form: FormPage = field(default_factory=FormPage)
    links: PageLinks = field(default_factory=PageLinks)
    searched: bool = False


@dataclass(frozen=True)
class QueueEntry:
    """A review item as the queue lists it: the record in doubt and the resident it may be."""

    item: review.ReviewItemView
    record: SourceRecord

    @property
    def probability(self) -> str:
        """The match probability as a percentage."""
        return percent(self.item.match_probability)


def parse_search(query: ResidentQuery, errors: list[FieldProblem]) -> dict[str, Any]:
    """The search service's filters from the form; problems are added to ``errors``."""
    filled = query.filled()
    filters: dict[str, Any] = {"q": filled.get("q")}
    born = filled.get("date_of_birth")
    if born is not None:
        try:
            if len(born) != len("1970-01-31"):
                raise ValueError(born)
            filters["date_of_birth"] = date.fromisoformat(born)
        except ValueError:
            errors.append(
                FieldProblem("date_of_birth", "Date of birth must be a real date, like 1970-01-31")
            )
    postcode = filled.get("postcode")
    if postcode is not None:
        filters["postcode"] = postcode.upper()
    uprn = filled.get("uprn")
    if uprn is not None:
        if uprn.isdigit() and len(uprn) <= _MAX_UPRN_DIGITS:
            filters["uprn"] = int(uprn)
        else:
            errors.append(FieldProblem("uprn", "UPRN must be a number of up to 12 digits"))
    return filters


def reason_of(text: str, errors: list[FieldProblem], field_id: str, what: str) -> str:
    """A decision's reason from a form; a problem when it is missing or too long."""
    reason = text.strip()
    if not reason:
        errors.append(FieldProblem(field_id, f"Enter why you are {what}"))
    elif len(reason) > MAX_REASON:
        errors.append(
            FieldProblem(field_id, f"The reason must be {MAX_REASON} characters or fewer")
        )
    return reason


def _record_or_none(pages: PeoplePages, record_id: int) -> SourceRecord | None:
    try:
        return get_source_record(pages.context.database, record_id)
    except NotFound:
        return None


@dataclass
class PeoplePages:
    """The pages' work, between the routes and the people domain's services."""

    context: AppContext
    templates: Jinja2Templates

    def render(
        self, request: Request, template: str, values: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        """A page of this module, with its forms' token and the words for the domain's codes."""
        return render_form(
            self.templates,
            request,
            template,
            {
                **values,
                "field_labels": FIELD_LABELS,
                "rule_words": RULE_WORDS,
                "link_words": LINK_WORDS,
                "decision_kinds": DECISION_KINDS,
                "percent": percent,
            },
            status_code=status_code,
        )

    def refused(
        self, request: Request, refused: NotFound | Conflict, title: str, back: str, back_text: str
    ) -> HTMLResponse:
        """The page saying why the service refused a change (404 or 409)."""
        return self.render(
            request,
            "people/refused.html",
            {"title": title, "detail": refused.detail, "back": back, "back_text": back_text},
            refused.status,
        )

    def search(self, query: ResidentQuery) -> tuple[ListPage, list[residents.ResidentSummary]]:
        """The search page's state and the residents found (none before a search)."""
        shown = ListPage()
        filled = query.filled()
        if not filled:
            return shown, []
        filters = parse_search(query, shown.form.errors)
        if shown.form.errors:
            return shown, []
        shown.searched = True
        paged = PagedList(self.context.cursors, PEOPLE_PATH, filled)
        after = paged.position(query.cursor, query.page, shown.links)
        found = residents.search_residents(
            self.context.database, PageRequest(RESULTS_PER_PAGE, after), **filters
        )
        paged.links(found, shown.links)
        return shown, found.items

    def queue(self, cursor: str, page: str) -> tuple[ListPage, list[QueueEntry]]:
        """A page of pending review items, most probable first, with their records."""
        shown = ListPage()
        paged = PagedList(self.context.cursors, REVIEW_PATH, {})
        after = paged.position(cursor, page, shown.links)
        found = review.list_review_items(
            self.context.database, PageRequest(RESULTS_PER_PAGE, after)
        )
        paged.links(found, shown.links)
        entries = [
            QueueEntry(item, record)
            for item in found.items
            if (record := _record_or_none(self, item.source_record_id)) is not None
        ]
        return shown, entries

    def evidence(self, item: review.ReviewItemView) -> dict[str, Any]:
        """The evidence page's values: both records, the comparison table and the chart."""
        database = self.context.database
        record = get_source_record(database, item.source_record_id)
        other = get_source_record(database, item.other_record_id)
        pair = ScoredPair(
            left=min(item.source_record_id, item.other_record_id),
            right=max(item.source_record_id, item.other_record_id),
            match_weight=item.match_weight,
            match_probability=item.match_probability,
            comparisons=item.comparisons,
            prior_weight=item.prior_weight,
        )
        # A comparison's left value is the smaller record id's (``linkage.results``).
        this_first = item.source_record_id < item.other_record_id
        headings = ("This record", "The resident's record")
        return {
            "item": item,
            "record": record,
            "other": other,
            "chart": draw_match_weight_chart(
                pair, title=f"How the match weight of possible match {item.id} adds up"
            ),
            "left_heading": headings[0] if this_first else headings[1],
            "right_heading": headings[1] if this_first else headings[0],
        }


def build_people_pages(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The pages under ``/staff/people``."""
    router = townhall_router(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[csrf_protected()],
    )
    pages = PeoplePages(context, templates)
    _add_resident_pages(router, pages)
    _add_review_pages(router, pages)
    _add_decision_pages(router, pages)
    return router


def _add_resident_pages(router: APIRouter, pages: PeoplePages) -> None:
    @router.get(PEOPLE_PATH, name="staff_people")
    async def search(
        request: Request,
        staff: Viewer,
        uses: SearchUses,
        query: Annotated[ResidentQuery, Depends()],
    ) -> HTMLResponse:
        """Search residents; each resident listed is told of the search."""
        shown, found = pages.search(query)
        await uses.record(*(uses.of(r.id, action=Action.SEARCHED) for r in found))
        status = 400 if shown.form.errors else 200
        return pages.render(
            request,
            "people/search.html",
            {"query": query, "page": shown, "residents": found, "staff": staff},
            status,
        )

    def resident_page(
        request: Request, staff: SignedInStaff, uses: DataUses, resident_id: str, page: FormPage
    ) -> Response:
        database = pages.context.database
        try:
            resident = residents.get_resident(database, resident_id)
        except NotFound:
            return pages.render(
                request, "people/not_found.html", {"what": "resident", "id": resident_id}, 404
            )
        if resident.status == "merged":
            survivor = residents.survivor_of(database, resident_id)
            return RedirectResponse(f"{RESIDENTS_PATH}/{survivor}", status_code=303)
        uses.record_now(uses.of(resident.id, subject=f"resident:{resident.id}"))
        return pages.render(
            request,
            "people/resident.html",
            {
                "resident": resident,
                "staff": staff,
                "may_decide": staff.member.role in DECIDERS,
                "page": page,
            },
            400 if page.errors else 200,
        )

    @router.get(RESIDENTS_PATH + "/{resident_id}", name="staff_people_resident")
    def show_resident(
        request: Request, staff: Viewer, uses: ResidentUses, resident_id: str
    ) -> Response:
        """One resident, or a redirect to the one a merged id now leads to."""
        return resident_page(request, staff, uses, resident_id, FormPage())

    @router.post(
        RESIDENTS_PATH + "/{resident_id}/records/{record_id}/unlink",
        name="staff_people_unlink",
    )
    def unlink(
        *,
        request: Request,
        staff: Decider,
        uses: LinkUses,
        resident_id: str,
        record_id: int,
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        """Take one source record out of its resident, then show the decision."""
        page = FormPage()
        text = reason_of(reason, page.errors, f"reason-{record_id}", "unlinking this record")
        if page.errors:
            return resident_page(request, staff, uses, resident_id, page)
        try:
            decision = residents.unlink(
                pages.context.database, record_id, actor=uses.actor, reason=text
            )
        except (NotFound, Conflict) as refused:
            return pages.refused(
                request,
                refused,
                "The record was not unlinked",
                f"{RESIDENTS_PATH}/{resident_id}",
                "Back to the resident",
            )
        return RedirectResponse(f"{DECISIONS_PATH}/{decision.id}", status_code=303)


def _add_review_pages(router: APIRouter, pages: PeoplePages) -> None:
    @router.get(REVIEW_PATH, name="staff_people_review")
    async def queue(
        request: Request,
        staff: Decider,
        uses: ReviewUses,
        cursor: str = "",
        page: str = "1",
    ) -> HTMLResponse:
        """The pending possible matches, most probable first."""
        shown, entries = pages.queue(cursor, page)
        residents_shown = dict.fromkeys(entry.item.resident_id for entry in entries)
        await uses.record(*(uses.of(resident) for resident in residents_shown))
        return pages.render(
            request,
            "people/review_queue.html",
            {"entries": entries, "page": shown, "staff": staff},
        )

    def evidence_page(
        request: Request, staff: SignedInStaff, uses: DataUses, item_id: int, page: FormPage
    ) -> HTMLResponse:
        try:
            item = review.get_review_item(pages.context.database, item_id)
        except NotFound:
            return pages.render(
                request, "people/not_found.html", {"what": "possible match", "id": item_id}, 404
            )
        values = pages.evidence(item)
        uses.record_now(uses.of(item.resident_id, subject=f"review-item:{item.id}"))
        return pages.render(
            request,
            "people/review_item.html",
            {**values, "staff": staff, "page": page},
            400 if page.errors else 200,
        )

    @router.get(REVIEW_PATH + "/{item_id}", name="staff_people_review_item")
    def evidence(request: Request, staff: Decider, uses: ReviewUses, item_id: int) -> HTMLResponse:
        """A possible match's evidence, with the forms to accept or reject it."""
        return evidence_page(request, staff, uses, item_id, FormPage())

    def decide(  # noqa: PLR0917 -- the route's own arguments, and which decision
        request: Request, staff: SignedInStaff, uses: DataUses, item_id: int, reason: str, verb: str
    ) -> Response:
        page = FormPage()
        text = reason_of(reason, page.errors, f"{verb}-reason", f"{verb}ing this match")
        if page.errors:
            return evidence_page(request, staff, uses, item_id, page)
        act = review.accept if verb == "accept" else review.reject
        try:
            decision = act(pages.context.database, item_id, actor=uses.actor, reason=text)
        except (NotFound, Conflict) as refused:
            return pages.refused(
                request,
                refused,
                f"The match was not {verb}ed",
                f"{REVIEW_PATH}/{item_id}",
                "Back to the possible match",
            )
        return RedirectResponse(f"{DECISIONS_PATH}/{decision.id}", status_code=303)

    @router.post(REVIEW_PATH + "/{item_id}/accept", name="staff_people_accept")
    def accept(
        *,
        request: Request,
        staff: Decider,
        uses: LinkUses,
        item_id: int,
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        """Link the record into the resident, then show the decision."""
        return decide(request, staff, uses, item_id, reason, "accept")

    @router.post(REVIEW_PATH + "/{item_id}/reject", name="staff_people_reject")
    def reject(
        *,
        request: Request,
        staff: Decider,
        uses: LinkUses,
        item_id: int,
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        """Keep the record apart from the resident, then show the decision."""
        return decide(request, staff, uses, item_id, reason, "reject")


def _add_decision_pages(router: APIRouter, pages: PeoplePages) -> None:
    def decision_page(  # noqa: PLR0917 -- the page and what the undo form said
        request: Request,
        staff: SignedInStaff,
        decision: Decision,
        page: FormPage,
        refusal: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        return pages.render(
            request,
            "people/decision.html",
            {
                "decision": decision,
                "staff": staff,
                "page": page,
                "refusal": refusal,
                "record_names": record_references(pages.context.database, decision.record_ids),
            },
            status_code,
        )

    @router.get(DECISIONS_PATH + "/{decision_id}", name="staff_people_decision")
    async def show(
        request: Request, staff: Decider, uses: LinkUses, decision_id: int
    ) -> HTMLResponse:
        """What a decision changed, with the form to undo it."""
        try:
            decision = decisions.get_decision(pages.context.database, decision_id)
        except NotFound:
            return pages.render(
                request, "people/not_found.html", {"what": "decision", "id": decision_id}, 404
            )
        await uses.record(
            *(uses.of(r, subject=f"decision:{decision.id}") for r in decision.resident_ids)
        )
        return decision_page(request, staff, decision, FormPage())

    @router.post(DECISIONS_PATH + "/{decision_id}/undo", name="staff_people_undo")
    def undo(
        *,
        request: Request,
        staff: Decider,
        uses: LinkUses,
        decision_id: int,
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        """Undo a decision and show the undoing one; explain a refusal on the decision's page."""
        database = pages.context.database
        page = FormPage()
        text = reason_of(reason, page.errors, "reason", "undoing this decision")
        if not page.errors:
            try:
                done = decisions.undo(database, decision_id, actor=uses.actor, reason=text)
            except NotFound:
                return pages.render(
                    request, "people/not_found.html", {"what": "decision", "id": decision_id}, 404
                )
            except Conflict as refused:
                decision = decisions.get_decision(database, decision_id)
                uses.record_now(
                    *(uses.of(r, subject=f"decision:{decision.id}") for r in decision.resident_ids)
                )
                return decision_page(request, staff, decision, page, refused.detail, 409)
            return RedirectResponse(f"{DECISIONS_PATH}/{done.id}", status_code=303)
        try:
            decision = decisions.get_decision(database, decision_id)
        except NotFound:
            return pages.render(
                request, "people/not_found.html", {"what": "decision", "id": decision_id}, 404
            )
        uses.record_now(
            *(uses.of(r, subject=f"decision:{decision.id}") for r in decision.resident_ids)
        )
        return decision_page(request, staff, decision, page, status_code=400)
