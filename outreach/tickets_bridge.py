"""What outreach needs from the tickets app, in one place (outreach imports tickets, never the reverse)."""

from typing import Any

from django.apps import apps
from django.db.models import QuerySet

#: statuses in which a ticket counts as open (suppression of announcements, incident auto-linking)
OPEN_STATUSES = ("new", "open", "pending", "on_hold")


def ticket_model() -> Any:
    try:
        return apps.get_model("tickets", "Ticket")
    except LookupError:  # the tickets app has no Ticket model (yet)
        return None


def open_ticket_requesters() -> QuerySet[Any] | None:
    """A subquery of the customer ids with an open ticket, or None when there are no tickets."""
    Ticket = ticket_model()
    if Ticket is None:
        return None
    return Ticket.objects.filter(status__in=OPEN_STATUSES).values("requester_id")
