"""The agent's queue: the ticket list with its filters and sorts, saved views, and bulk changes.

Thin callers of tickets.services and selectors; one ticket's page is ``ticket_views``.
"""

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.params import ParameterError, parse_datetime, parse_id, parse_ids, to_id
from core.roles import agent_required
from core.types import AuthedRequest, Viewer
from customers.selectors import customer_email_by_id
from tickets.forms import (
    SORTS as SORT_CHOICES,
)
from tickets.forms import (
    AvailabilityForm,
    BulkForm,
    SavedViewForm,
    SavedViewRenameForm,
    TicketFilterForm,
)
from tickets.models import Kind, Priority, Status
from tickets.selectors import (
    BUILTIN_VIEWS,
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
    """Read the queue's view, filters, sort and cursor from the query string and load one page."""
    params = request.GET if params is None else params
    saved_id = parse_id(params, "saved")
    saved = saved_view_get_for(viewer=request.user, view_id=saved_id) if saved_id is not None else None
    if saved is not None and not any(key in params for key in (*TicketFilterForm.base_fields, "view")):
        # a saved view holds ticket_list's own filters; the form only shows them
        stored = dict(saved.filters)
        view = stored.pop("view", "") or ""
        stored_sort = stored.pop("sort", "") or "updated"
        filters = stored
        form = TicketFilterForm(_form_data(filters, view=view, sort=stored_sort, viewer=request.user))
    else:
        form = TicketFilterForm(params)
        if form.errors:  # a crafted or stale filter is a 400 naming it, not silently the whole queue
            field, errors = next(iter(form.errors.items()))
            raise ParameterError(field, " ".join(errors))
        filters = form.filters()
        view = params.get("view", DEFAULT_VIEW)
        if "requester" in filters:  # the box takes an address; an address nobody has matches nothing
            filters["requester_email"] = filters.pop("requester")
        if filters.pop("unassigned", False):
            filters["assignee"] = "none"
    view = view if view in BUILTIN_VIEWS else ""
    sort = (form.cleaned_data.get("sort") if form.is_valid() else None) or "updated"
    changed_since = parse_datetime(params, "changed_since")
    now = timezone.now()
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
    elsewhere = None
    if filters.get("q") and view and not params.get("cursor") and changed_since is None:
        # the search box searches everything the agent can see, not just this view: "#1060" typed in
        # "My open tickets" offers #1060 when it is a colleague's or solved
        elsewhere = ticket_search_elsewhere(viewer=request.user, view=view, text=filters["q"], now=now)
    base_query = params.copy()
    base_query.pop("cursor", None)
    base_query.pop("changed_since", None)
    saved_filters = {**filters, "view": view, "sort": sort}
    return {
        "page": page,
        "elsewhere": elsewhere,
        "search_all_query": urlencode({"view": "", "q": filters.get("q", "")}),
        "now": now,
        "view": view,
        "sort": sort,
        "view_label": saved.name if saved else BUILTIN_VIEWS.get(view, "Search results"),
        "saved_view": saved,
        "builtin_views": list(BUILTIN_VIEWS.items()),
        "saved_views": saved_views_for(viewer=request.user),
        "filter_form": form,
        "filters_json": json.dumps(saved_filters, default=str),
        "base_query": base_query.urlencode(),
        "agents": agents_active(),
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "kinds": Kind.choices,
        "sorts": SORT_CHOICES,
        "queues": queues_for(viewer=request.user),
        # rows link to /agent/tickets/<id>/: reversed once, not 50 times
        "ticket_base_url": reverse("agent-ticket-detail", args=[0])[: -len("0/")],
    }


def _form_data(filters: dict[str, Any], *, view: str, sort: str, viewer: Viewer) -> QueryDict:
    """ticket_list's filters as the filter form's query string (requester id -> e-mail, "none" -> unassigned)."""
    data = QueryDict(mutable=True)
    data.update({"view": view, "sort": sort})
    for key, value in filters.items():
        if key == "requester":
            value = customer_email_by_id(customer_id=to_id(value, field="requester")) or ""
        elif key == "requester_email":
            key = "requester"
        elif key == "assignee" and value in ("none", "me"):
            key, value = ("unassigned", "on") if value == "none" else ("assignee", viewer.pk)
        data.setlist(key, [str(v) for v in value] if isinstance(value, list) else [str(value)])
    return data


@agent_required
def ticket_queue_view(request: AuthedRequest) -> HttpResponse:
    context = _queue_context(request)
    if request.htmx and request.GET.get("changed_since"):
        # the periodic refresh: only the rows that changed, swapped in place by id
        return render(request, "tickets/ticket_queue.html#refresh", context)
    if request.htmx and (request.GET.get("cursor") or request.htmx.target == "queue-results"):
        return render(request, "tickets/ticket_queue.html#results", context)
    # the full page only: the 20-second refresh and the result partials do not show the switch
    context["availability"] = queue_availability_for(agent=request.user)
    return render(request, "tickets/ticket_queue.html", context)


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
