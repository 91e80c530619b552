"""The agent workspace: the queue and the ticket page. Thin callers of tickets.services and selectors."""

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.params import ParameterError, parse_datetime, parse_id, parse_ids, parse_int, to_id
from core.roles import agent_required
from core.types import AuthedRequest, Viewer
from customers.selectors import customer_deliveries, customer_email_by_id
from customers.services import customer_get_or_create
from tickets.forms import (
    SORTS as SORT_CHOICES,
)
from tickets.forms import (
    BulkForm,
    MergeForm,
    PropertiesForm,
    ReplyForm,
    SavedViewForm,
    TicketCreateForm,
    TicketFilterForm,
)
from tickets.history import ticket_history
from tickets.models import Kind, Priority, Status
from tickets.panels import ticket_panels
from tickets.selectors import (
    BUILTIN_VIEWS,
    QUEUE_ROW_COLUMNS,
    agent_by_email,
    agents_active,
    attachment_get_for,
    custom_fields_active,
    macro_get_for,
    macros_for,
    message_original_for,
    queues_active,
    queues_for,
    saved_view_get_for,
    saved_views_for,
    ticket_get_by_number_for,
    ticket_get_for,
    ticket_list,
    ticket_other_viewers,
    ticket_rating,
    ticket_recent_product_events,
    ticket_requester_other_tickets,
    ticket_search_elsewhere,
    ticket_thread,
    ticket_timeline,
)
from tickets.services import (
    macro_apply,
    macro_render,
    message_split,
    saved_view_create,
    ticket_create,
    ticket_merge,
    ticket_reply,
    ticket_update,
    ticket_viewing_ping,
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


# --- creating a ticket -------------------------------------------------------------------------


@agent_required
def ticket_create_view(request: AuthedRequest) -> HttpResponse:
    form = TicketCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            requester, _ = customer_get_or_create(email=data["requester_email"], name=data["requester_name"])
            ticket = ticket_create(
                requester=requester,
                subject=data["subject"],
                body=data["body"],
                actor=request.user,
                queue=data["queue"],
                channel="agent",
                kind=data["kind"],
                priority=data["priority"],
                attachments=data["attachments"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Ticket {ticket.reference} created.")
            return redirect(ticket)
    return render(request, "tickets/ticket_create.html", {"form": form})


# --- the ticket page ------------------------------------------------------------------------------


def _detail_context(request: AuthedRequest, ticket: Any, **extra: Any) -> dict[str, Any]:
    viewer = request.user
    ticket_viewing_ping(ticket=ticket, agent=viewer)
    context = {
        "ticket": ticket,
        "now": timezone.now(),
        "thread": ticket_thread(ticket=ticket, viewer=viewer),
        "events": ticket_history(ticket_timeline(ticket=ticket, viewer=viewer)),
        "customer": ticket.requester,
        "other_tickets": ticket_requester_other_tickets(ticket=ticket, viewer=viewer),
        "customer_events": ticket_recent_product_events(ticket=ticket, limit=8),
        "deliveries": customer_deliveries(customer=ticket.requester, limit=8),
        "other_viewers": ticket_other_viewers(ticket=ticket, viewer=viewer),
        "macros": macros_for(viewer=viewer),
        "opened_version": ticket.version,
        "reply_form": ReplyForm(initial={"expected_version": ticket.version}),
        "properties_form": _properties_form(ticket),
        **_property_choices(request),
        "merge_form": MergeForm(initial={"expected_version": ticket.version}),
        "panels": ticket_panels(ticket=ticket, viewer=viewer),
        "rating": ticket_rating(ticket=ticket),
    }
    context.update(extra)
    return context


def _property_choices(request: AuthedRequest) -> dict[str, Any]:
    """What the side panel's selects offer."""
    return {
        "settable_statuses": [c for c in Status.choices if c[0] != Status.CLOSED],
        "priorities": Priority.choices,
        "kinds": Kind.choices,
        "queues": queues_active(),
        "agents": agents_active(),
    }


def _properties_form(ticket: Any, data: Any = None, *, error: str = "") -> PropertiesForm:
    """The side panel's form; with ``error``, bound to the ticket's current values and showing why."""
    definitions = list(custom_fields_active())
    values = ticket.custom_fields or {}
    initial = {
        **{f"cf_{d.key}": values.get(d.key) for d in definitions},
        "ccs": ", ".join(sorted(c.email for c in ticket.ccs.all())),
        "status": ticket.status,
        "priority": ticket.priority,
        "kind": ticket.kind,
        "queue": ticket.queue_id,
        "assignee": ticket.assignee_id,
        "tags": " ".join(t.name for t in ticket.tags.all()),
        "expected_version": ticket.version,
    }
    if error:
        form = PropertiesForm({k: v for k, v in initial.items() if v is not None}, custom_fields=definitions)
        form.is_valid()
        form.add_error(None, error)
        return form
    return PropertiesForm(data, initial=initial, custom_fields=definitions)


@agent_required
def ticket_detail_view(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    return render(request, "tickets/ticket_detail.html", _detail_context(request, ticket))


@require_POST
@agent_required
def ticket_reply_view(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        macro_id = parse_id(request.POST, "macro_id")
        try:
            if macro_id is not None:
                macro = macro_get_for(viewer=request.user, macro_id=macro_id)
                macro_apply(
                    ticket=ticket,
                    macro=macro,
                    actor=request.user,
                    body=data["body"],
                    expected_version=data["expected_version"],
                )
            else:
                ticket_reply(
                    ticket=ticket,
                    author=request.user,
                    body=data["body"],
                    internal=data["internal"],
                    status=data["status"] or None,
                    attachments=data["attachments"],
                    expected_version=data["expected_version"],
                )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Your note is added." if data["internal"] else "Your reply is sent.")
            return redirect(ticket)
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)  # fresh: the conflict may have changed it
    context = _detail_context(
        request, ticket, reply_form=form, changed_meanwhile=ticket.version != _version(request.POST, "expected_version")
    )
    return render(request, "tickets/ticket_detail.html", context, status=409 if context["changed_meanwhile"] else 400)


def _version(params: QueryDict, name: str) -> int | None:
    return parse_int(params, name, min_value=0)


@require_POST
@agent_required
def ticket_macro_view(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    """Put a macro's text in the reply box (htmx) and say what else it will change on Send."""
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    macro_id = parse_id(request.POST, "macro")
    form_data = request.POST.copy()
    macro = None
    effects: list[str] = []
    if macro_id is not None:
        macro = macro_get_for(viewer=request.user, macro_id=macro_id)
        text = macro_render(macro=macro, ticket=ticket, agent=request.user)
        current = form_data.get("body", "").strip()
        form_data["body"] = f"{current}\n\n{text}".strip() if current else text
        if macro.is_internal:
            form_data["internal"] = "on"
        effects = _macro_effects(macro)
    form = ReplyForm(form_data)
    form.is_valid()
    context = _detail_context(request, ticket, reply_form=form, macro_applied=macro, macro_effects=effects)
    return render(request, "tickets/ticket_detail.html#reply", context)


def _macro_effects(macro: Any) -> list[str]:
    effects = []
    if macro.set_status:
        effects.append(f"set status to {macro.get_set_status_display().lower()}")
    if macro.set_priority:
        effects.append(f"set priority to {macro.get_set_priority_display().lower()}")
    if macro.set_queue_id:
        effects.append(f"move to {macro.set_queue}")
    if macro.set_assignee_id:
        effects.append(f"assign to {macro.set_assignee}")
    effects += [f"add tag {tag.name}" for tag in macro.add_tags.all()]
    effects += [f"remove tag {tag.name}" for tag in macro.remove_tags.all()]
    return effects


@require_POST
@agent_required
def ticket_update_view(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    form = _properties_form(ticket, request.POST)
    saved = False
    if form.is_valid():
        data = form.cleaned_data
        try:
            ccs = [customer_get_or_create(email=email)[0] for email in data["ccs"]]
            ticket = ticket_update(
                ticket=ticket,
                actor=request.user,
                expected_version=data["expected_version"],
                status=data["status"],
                priority=data["priority"],
                kind=data["kind"],
                queue=data["queue"],
                assignee=data["assignee"],
                tags=data["tags"],
                ccs=ccs,
                custom_fields=form.custom_values(),
            )
        except ApplicationError as exc:
            ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
            form = _properties_form(ticket, error=exc.message)
        else:
            saved = True
            ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
            form = _properties_form(ticket)
    if not request.htmx:
        return (
            redirect(ticket)
            if saved
            else render(
                request,
                "tickets/ticket_detail.html",
                _detail_context(request, ticket, properties_form=form),
                status=400,
            )
        )
    return render(
        request,
        "tickets/ticket_detail.html#properties",
        {
            "ticket": ticket,
            "properties_form": form,
            "properties_saved": saved,
            "now": timezone.now(),
            **_property_choices(request),
        },
    )


@require_POST
@agent_required
def ticket_merge_view(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    form = MergeForm(request.POST)
    confirm = None
    if form.is_valid():
        target = None
        try:
            target = ticket_get_by_number_for(viewer=request.user, number=form.cleaned_data["into"])
            target = ticket_merge(
                source=ticket,
                target=target,
                actor=request.user,
                expected_version=form.cleaned_data["expected_version"],
                confirm=form.cleaned_data["confirm"] == target.number,
            )
        except ApplicationError as exc:
            if exc.extra.get("confirm_required"):  # different customers: the page asks, naming both
                confirm = {**exc.extra, "target": target}
            else:
                form.add_error("into", exc.message)
        except Http404:  # an unknown number is a mistake in the form, not a missing page
            form.add_error("into", "No ticket with that number that you can see.")
        else:
            messages.success(request, f"{ticket.reference} was merged into {target.reference}.")
            return redirect(target)
    context = _detail_context(request, ticket, merge_form=form, merge_confirm=confirm)
    return render(request, "tickets/ticket_detail.html", context, status=200 if confirm else 400)


@require_POST
@agent_required
def message_split_view(request: AuthedRequest, ticket_id: int, message_id: int) -> HttpResponse:
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    message = ticket_thread(ticket=ticket, viewer=request.user).filter(pk=message_id).first()
    if message is None:
        raise Http404("No such message.")
    try:
        new_ticket = message_split(message=message, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(ticket)
    messages.success(request, f"The message is now ticket {new_ticket.reference}.")
    return redirect(new_ticket)


@require_POST
@agent_required
def ticket_presence_view(request: AuthedRequest, ticket_id: int) -> HttpResponse:
    """Polled by the open ticket page: who else is here, and has the ticket changed since it was opened?"""
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    ticket_viewing_ping(ticket=ticket, agent=request.user)
    opened = _version(request.POST, "version")
    context = {
        "ticket": ticket,
        "opened_version": opened or ticket.version,
        "other_viewers": ticket_other_viewers(ticket=ticket, viewer=request.user),
        "changed_meanwhile": opened is not None and ticket.version != opened,
    }
    return render(request, "tickets/ticket_detail.html#presence", context)


@agent_required
def attachment_view(request: AuthedRequest, ticket_id: int, attachment_id: int) -> FileResponse:
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    attachment = attachment_get_for(viewer=request.user, attachment_id=attachment_id)
    if attachment.message.ticket_id != ticket.pk:
        raise Http404("No such attachment.")
    return attachment_response(attachment)


@agent_required
def message_original_view(request: AuthedRequest, ticket_id: int, message_id: int) -> HttpResponse:
    """The e-mail a message came from, as it arrived: always a download, never rendered in our origin."""
    ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
    inbound = message_original_for(viewer=request.user, ticket=ticket, message_id=message_id)
    response = HttpResponse(bytes(inbound.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="{ticket.number}-message-{message_id}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def attachment_response(attachment: Any) -> FileResponse:
    """Always a download, never rendered inline: an uploaded .html or .svg cannot run in our origin."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:  # its transaction has not committed (or the disk lost it)
        raise Http404("No such attachment.") from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
