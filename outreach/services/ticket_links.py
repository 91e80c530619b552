"""Tickets about an incident: linked automatically (beat) or by hand, answered and solved together.

The tickets app cannot import outreach, so outreach finds new tickets with a query on a schedule
(``incidents_link_new_tickets``) instead of reacting to a call from tickets.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.markdown import render_markdown
from core.models import User
from customers.models import Category
from customers.services import deliver
from outreach.models import Incident, IncidentTicket
from outreach.selectors import incident_customers
from outreach.services.rendering import absolute
from outreach.tickets_bridge import OPEN_STATUSES
from tickets.models import Channel, Message, Ticket
from tickets.services import ticket_reply

#: how far back the beat looks for tickets to link (a missed run is caught up)
LINK_WINDOW = dt.timedelta(hours=6)


def _auto_reply(incident: Incident, ticket: Ticket) -> None:
    """A public message on the ticket with the incident's status, e-mailed to the requester once."""
    latest = incident.updates.order_by("-number").first()
    body = (
        f"We are aware of an ongoing issue that is likely related to your request: **{incident.title}**.\n\n"
        f"{latest.message if latest else incident.message}\n\n"
        f"Follow it on our status page: {absolute('/help/status/')}. We will update this ticket when it is resolved."
    )
    Message.objects.create(
        ticket=ticket,
        body=body,
        body_html=render_markdown(body),
        by_agent=True,
        is_internal=False,
        channel=Channel.AGENT,
    )
    deliver(
        key=f"incident:{incident.pk}:ticket:{ticket.pk}:auto-reply",
        category=Category.SERVICE,
        subject=f"[{ticket.reference}] {incident.title}",
        body=body,
        html_body=render_markdown(body),
        customer=ticket.requester,
        source=f"ticket:{ticket.pk}",
    )


def incidents_link_new_tickets(*, now: dt.datetime | None = None) -> int:
    """Beat job: link open tickets from affected customers, created while an incident is active, and auto-reply.

    Set-based per incident (a handful are active at a time): one query finds the unlinked tickets.
    """
    now = now or timezone.now()
    linked = 0
    for incident in Incident.objects.filter(status=Incident.Status.ACTIVE):
        since = max(incident.started_at, now - LINK_WINDOW)
        tickets = (
            Ticket.objects.filter(
                created_at__gte=since,
                status__in=OPEN_STATUSES,
                requester_id__in=incident_customers(incident=incident).values("pk"),
            )
            .exclude(incident_links__incident=incident)
            .select_related("requester")
            .order_by("pk")[:1000]
        )
        for ticket in tickets:
            with transaction.atomic():
                _, created = IncidentTicket.objects.get_or_create(
                    incident=incident, ticket=ticket, defaults={"automatic": True}
                )
                if created:
                    _auto_reply(incident, ticket)
                    linked += 1
    return linked


@transaction.atomic
def incident_link_ticket(*, incident: Incident, ticket_number: int, actor: User) -> IncidentTicket:
    """An agent links a ticket by its number."""
    ticket = Ticket.objects.filter(number=ticket_number).first()
    if ticket is None:
        raise ApplicationError("No such ticket.", {"ticket_number": "No ticket with this number."})
    try:
        with transaction.atomic():
            return IncidentTicket.objects.create(incident=incident, ticket=ticket, linked_by=actor)
    except IntegrityError as exc:
        raise ApplicationError("The ticket is linked already.", {"ticket_number": "Linked already."}) from exc


def incident_solve_linked_tickets(*, incident: Incident, message: str, actor: User) -> int:
    """Reply to every unsolved linked ticket with one message and solve it. Returns how many.

    Each ticket goes through ``ticket_reply`` in its own transaction, so one that fails does not undo the rest.
    """
    if not message.strip():
        raise ApplicationError("Write the message.", {"message": "This field is required."})
    ids = list(
        IncidentTicket.objects.filter(incident=incident, ticket__status__in=OPEN_STATUSES).values_list(
            "ticket_id", flat=True
        )
    )
    solved = 0
    for ticket in Ticket.objects.filter(pk__in=ids).order_by("pk"):
        try:
            ticket_reply(ticket=ticket, author=actor, body=message, status="solved")
        except ApplicationError:
            continue
        solved += 1
    return solved
