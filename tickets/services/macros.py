"""Macros: a canned reply with placeholders that can also change the ticket, applied in one locked write."""

from typing import Any

from django.db import transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from tickets.models import Macro, Message, Ticket, TicketEvent
from tickets.services._common import UNSET, Change, ensure_agent, ensure_not_closed, lock_ticket
from tickets.services.lifecycle import _apply, _Changes
from tickets.services.messages import _reply_locked

# autoescape off: the result is markdown source, rendered and sanitized like any message
_engine = Engine(autoescape=False, builtins=[], libraries={})


def _first(name: str) -> str:
    return (name or "").split()[0] if (name or "").strip() else ""


def macro_context(*, ticket: Ticket, agent: User) -> dict[str, Any]:
    """Plain values only: a template must not reach model methods or related rows."""
    customer = ticket.requester
    organization = customer.organization
    return {
        "customer": {"name": customer.name, "first_name": _first(customer.name), "email": customer.email},
        "organization": {"name": organization.name if organization else ""},
        "ticket": {
            "reference": ticket.reference,
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.get_status_display(),
            "priority": ticket.get_priority_display(),
        },
        "agent": {"name": agent.get_full_name(), "first_name": _first(agent.get_full_name()), "email": agent.email},
    }


def macro_render(*, macro: Macro, ticket: Ticket, agent: User) -> str:
    """The macro's text with its placeholders filled in (the reply box shows it before sending)."""
    try:
        template = _engine.from_string(macro.body)
    except TemplateSyntaxError as exc:
        raise ApplicationError(f"The macro {macro.name!r} has a template error: {exc}") from exc
    return template.render(Context(macro_context(ticket=ticket, agent=agent))).strip()


@transaction.atomic
def macro_apply(
    *,
    ticket: Ticket,
    macro: Macro,
    actor: User,
    body: str | None = None,
    expected_version: int | None = None,
) -> tuple[Ticket, Message | None]:
    """Apply a macro in one click: its field changes, then its text as a reply or note (``body`` overrides
    the rendered text when the agent edited it), then its status, all as one new version."""
    ensure_agent(actor, "apply macros")
    if not macro.is_active or (macro.owner_id and macro.owner_id != actor.pk):
        raise ApplicationError(f"The macro {macro.name!r} is not available.")
    locked = lock_ticket(ticket, expected_version=expected_version)
    ensure_not_closed(locked)
    change = Change(ticket=locked, actor=actor, now=timezone.now())
    change.record(TicketEvent.Kind.MACRO, field_name="macro", new={"id": macro.pk, "label": macro.name})
    _apply(
        change,
        _Changes(
            priority=macro.set_priority or UNSET,
            queue=macro.set_queue if macro.set_queue_id else UNSET,
            assignee=macro.set_assignee if macro.set_assignee_id else UNSET,
            add_tags=list(macro.add_tags.all()),
            remove_tags=list(macro.remove_tags.all()),
        ),
    )
    text = (body if body is not None else macro_render(macro=macro, ticket=locked, agent=actor)).strip()
    message = None
    if text:
        message = _reply_locked(
            change, author=actor, body=text, internal=macro.is_internal, status=macro.set_status or None, files=()
        )
    elif macro.set_status:
        _apply(change, _Changes(status=macro.set_status))
    return change.save(), message
