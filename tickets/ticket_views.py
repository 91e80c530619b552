"""The agent's ticket page: creating a ticket, reading it, replying, macros, changing, merging and splitting it.

Thin callers of tickets.services and selectors; the queue of tickets is ``queue_views``.
"""

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.params import parse_id, parse_int
from core.roles import agent_required
from core.types import AuthedRequest
from customers.selectors import customer_deliveries
from tickets.forms import (
    MergeForm,
    PropertiesForm,
    ReplyForm,
    TicketCreateForm,
)
from tickets.history import ticket_history
from tickets.models import Kind, Priority, Status
from tickets.panels import ticket_panels
from tickets.selectors import (
    agents_active,
    attachment_get_for,
    custom_fields_active,
    macro_get_for,
    macros_for,
    message_original_for,
    queues_active,
    ticket_get_by_number_for,
    ticket_get_for,
    ticket_other_viewers,
    ticket_rating,
    ticket_recent_product_events,
    ticket_requester_other_tickets,
    ticket_thread,
    ticket_timeline,
)
from tickets.services import (
    macro_apply,
    macro_render,
    message_split,
    ticket_create,
    ticket_merge,
    ticket_reply,
    ticket_update,
    ticket_viewing_ping,
)

# --- creating a ticket -------------------------------------------------------------------------


@agent_required
def ticket_create_view(request: AuthedRequest) -> HttpResponse:
    form = TicketCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = ticket_create(
                requester_email=data["requester_email"],
                requester_name=data["requester_name"],
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
            form_add_service_error(form, exc)
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
            form_add_service_error(form, exc)
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
            ticket = ticket_update(  # the CCs' addresses become customers only if the change is saved
                ticket=ticket,
                actor=request.user,
                expected_version=data["expected_version"],
                status=data["status"],
                priority=data["priority"],
                kind=data["kind"],
                queue=data["queue"],
                assignee=data["assignee"],
                tags=data["tags"],
                ccs=data["ccs"],
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
                form_add_service_error(form, exc, field="into")
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
