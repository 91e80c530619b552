"""The agent's queue: the ticket list with its filters and sorts, saved views, and bulk changes.

Thin callers of tickets.services and selectors; one ticket's page is ``ticket_views``.
"""

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.pagination import Page
from core.params import parse_datetime, parse_id, parse_ids
from core.roles import agent_required
from core.types import AuthedRequest
from customers.selectors import customer_email_by_id
from tickets.filters import BUILTIN_VIEWS, SORT_LABELS, TicketFilters, TicketFiltersInvalid
from tickets.filters import KEYS as FILTER_KEYS
from tickets.forms import AvailabilityForm, BulkForm, SavedViewForm, SavedViewRenameForm
from tickets.models import Kind, Priority, Status
from tickets.selectors import (
    QUEUE_ROW_COLUMNS,
    agent_by_email,
    agents_active,
    queue_availability_for,
    queues_for,
    saved_view_get_for,
    saved_views_for,
    ticket_list,
    ticket_search_elsewhere,
)
from tickets.services import (
    queue_membership_set_available,
    saved_view_create,
    saved_view_delete,
    saved_view_update,
    tickets_bulk_update,
)

DEFAULT_VIEW = "mine"


def _queue_context(request: AuthedRequest, params: QueryDict | None = None) -> dict[str, Any]:
    """Read the queue's view, filters, sort and cursor from the query string and load one page.

    A bad filter is not silently dropped (that would show the whole queue): the page comes back with what
    was typed in the boxes, each bad field named, and no rows (``filter_errors``; a 400 for a full page)."""
    params = request.GET if params is None else params
    saved_id = parse_id(params, "saved")
    saved = saved_view_get_for(viewer=request.user, view_id=saved_id) if saved_id is not None else None
    errors: dict[str, list[str]] = {}
    if saved is not None and not any(key in params for key in FILTER_KEYS):
        # a stored value that no longer parses is a 400 naming it (nothing was typed to keep)
        filters = TicketFilters.from_saved(saved.filters)
        shown = _shown(filters.to_query_dict(), requester=filters.requester)
    else:
        try:
            filters = TicketFilters.from_query(params)
        except TicketFiltersInvalid as exc:
            errors, filters = exc.errors, TicketFilters()
        shown = _shown(params, requester=filters.requester)
        if "view" not in params:
            filters = replace(filters, view=DEFAULT_VIEW)
    view, sort = filters.view, filters.sort
    changed_since = parse_datetime(params, "changed_since")
    now = timezone.now()
    elsewhere = None
    if errors:
        view, sort = params.get("view", DEFAULT_VIEW), params.get("sort", "")
        page = Page(items=[], next_cursor=None)
    else:
        page = ticket_list(
            viewer=request.user,
            view=view or None,
            filters=filters,
            sort=sort,
            cursor=params.get("cursor"),
            changed_since=changed_since,
            now=now,
            columns=QUEUE_ROW_COLUMNS,
            with_tags=False,
        )
        if filters.q and view and not params.get("cursor") and changed_since is None:
            # the search box searches everything the agent can see, not just this view: "#1060" typed in
            # "My open tickets" offers #1060 when it is a colleague's or solved
            elsewhere = ticket_search_elsewhere(viewer=request.user, view=view, text=filters.q, now=now)
    base_query = params.copy()
    base_query.pop("cursor", None)
    base_query.pop("changed_since", None)
    return {
        "page": page,
        "elsewhere": elsewhere,
        "search_all_query": TicketFilters(q=filters.q).to_query(),
        "now": now,
        "view": view,
        "sort": sort,
        "view_label": saved.name if saved else BUILTIN_VIEWS.get(view, "Search results"),
        "saved_view": saved,
        "builtin_views": list(BUILTIN_VIEWS.items()),
        "saved_views": saved_views_for(viewer=request.user),
        "shown": shown,
        "filter_errors": errors,
        "filters_json": json.dumps(filters.to_saved()),
        "base_query": base_query.urlencode(),
        "agents": agents_active(),
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "kinds": Kind.choices,
        "sorts": list(SORT_LABELS.items()),
        "queues": queues_for(viewer=request.user),
        # rows link to /agent/tickets/<id>/: reversed once, not 50 times
        "ticket_base_url": reverse("agent-ticket-detail", args=[0])[: -len("0/")],
    }


def _shown(query: QueryDict, *, requester: int | None = None) -> dict[str, Any]:
    """What the filter boxes show, as typed (kept when it is wrong). The requester box takes an address:
    a saved view's requester id shows as that customer's address, which filters the same tickets."""
    shown: dict[str, Any] = {key: query.getlist(key) for key in ("status", "priority")}
    shown |= {key: query.get(key, "") for key in ("q", "queue", "assignee", "tag", "requester_email", "kind")}
    if requester is not None and not shown["requester_email"]:
        shown["requester_email"] = customer_email_by_id(customer_id=requester) or ""
    return shown


@agent_required
def ticket_queue_view(request: AuthedRequest) -> HttpResponse:
    context = _queue_context(request)
    if request.htmx and request.GET.get("changed_since"):
        # the periodic refresh: only the rows that changed, swapped in place by id
        return render(request, "tickets/ticket_queue.html#refresh", context)
    if request.htmx and (request.GET.get("cursor") or request.htmx.target == "queue-results"):
        # a 200 even with a bad filter: htmx swaps no 4xx, and the row naming the field must show
        return render(request, "tickets/ticket_queue.html#results", context)
    # the full page only: the 20-second refresh and the result partials do not show the switch
    context["availability"] = queue_availability_for(agent=request.user)
    status = 400 if context["filter_errors"] else 200
    return render(request, "tickets/ticket_queue.html", context, status=status)


@require_POST
@agent_required
def ticket_bulk_view(request: AuthedRequest) -> HttpResponse:
    ids = parse_ids(request.POST, "ticket")
    form = BulkForm(request.POST, ticket_ids=ids)
    message = ""
    if form.is_valid():
        action, value = form.cleaned_data["action"], form.cleaned_data["value"].strip()
        try:
            result = tickets_bulk_update(
                ticket_ids=form.cleaned_data["ticket"], actor=request.user, **_bulk_change(action, value)
            )
        except ApplicationError as exc:
            message = exc.message
        else:
            count = len(result.updated)
            message = f"Updated {count} ticket{'s' if count != 1 else ''}."
            if result.failed:
                reasons = sorted(set(result.failed.values()))
                message += f" {len(result.failed)} not changed: {'; '.join(reasons)}"
    else:
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
    query = request.POST.get("return_query", "")
    if not request.htmx:
        messages.info(request, message)
        return redirect(f"{reverse('agent-home')}?{query}")
    context = {**_queue_context(request, QueryDict(query)), "bulk_message": message}
    return render(request, "tickets/ticket_queue.html#results", context)


def _bulk_change(action: str, value: str) -> dict[str, Any]:
    if action == "status":
        if value not in Status.values or value == Status.CLOSED:
            raise ApplicationError(f"{value!r} is not a status you can set.")
        return {"status": value}
    if action == "priority":
        if value not in Priority.values:
            raise ApplicationError(f"{value!r} is not a priority.")
        return {"priority": value}
    if action == "tag":
        if not value:
            raise ApplicationError("Give the tag to add.")
        return {"add_tags": [value]}
    if not value or value in {"none", "nobody", "-"}:
        return {"assignee": None}
    agent = agent_by_email(email=value)
    if agent is None:
        raise ApplicationError(f"No agent with the e-mail {value!r}.")
    return {"assignee": agent}


@require_POST
@agent_required
def saved_view_create_view(request: AuthedRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    try:
        filters = json.loads(request.POST.get("filters") or "{}")
    except ValueError:
        filters = {}
    if form.is_valid():
        try:
            saved = saved_view_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                filters=filters,
                is_shared=form.cleaned_data["is_shared"],
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect(f"{reverse('agent-home')}?saved={saved.pk}")
    else:
        messages.error(request, "Give the view a name.")
    return redirect("agent-home")


def _saved_views_changed(
    request: AuthedRequest, *, view_id: int, form: SavedViewRenameForm, deleted: bool = False
) -> HttpResponse:
    """After a rename or delete: the page again (no JS), the page of the view (htmx, when it is the one shown,
    whose heading names it), else the saved-views list swapped in place, with the error under its view."""
    location = reverse("agent-home") + ("" if deleted else f"?saved={view_id}")
    if not request.htmx:
        if form.errors:
            messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(location)
    shown = QueryDict(urlsplit(request.htmx.current_url or "").query).get("saved")
    if not form.errors and shown == str(view_id):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = location
        return response
    context = {
        "saved_views": saved_views_for(viewer=request.user),
        "saved_view_edited": view_id,
        "saved_view_form": form,
        "saved_view_shown": shown,
    }
    return render(request, "tickets/ticket_queue.html#saved-views", context)


@require_POST
@agent_required
def saved_view_rename_view(request: AuthedRequest, view_id: int) -> HttpResponse:
    saved = saved_view_get_for(viewer=request.user, view_id=view_id)  # another's private view: 404
    form = SavedViewRenameForm(request.POST)
    if form.is_valid():
        try:
            saved_view_update(view=saved, actor=request.user, name=form.cleaned_data["name"])
        except ApplicationError as exc:
            form_add_service_error(form, exc)
    return _saved_views_changed(request, view_id=saved.pk, form=form)


@require_POST
@agent_required
def saved_view_delete_view(request: AuthedRequest, view_id: int) -> HttpResponse:
    saved = saved_view_get_for(viewer=request.user, view_id=view_id)
    form = SavedViewRenameForm({"name": saved.name})
    form.is_valid()
    try:
        saved_view_delete(view=saved, actor=request.user)
    except ApplicationError as exc:  # a view another agent shares: only its owner removes it
        form_add_service_error(form, exc)
    return _saved_views_changed(request, view_id=saved.pk, form=form, deleted=not form.errors)


@require_POST
@agent_required
def agent_availability_view(request: AuthedRequest) -> HttpResponse:
    """The agent marks themself available for round-robin assignment, or away (Zendesk's agent status)."""
    form = AvailabilityForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Say available=on or available=off.")
    available = form.cleaned_data["available"] == "on"
    queue_membership_set_available(agent=request.user, available=available)
    if not request.htmx:
        messages.success(
            request, "You are available: new tickets reach you." if available else "You are away: new tickets skip you."
        )
        return redirect("agent-home")
    context = {"availability": queue_availability_for(agent=request.user)}
    return render(request, "tickets/ticket_queue.html#availability", context)
