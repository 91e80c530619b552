"""Tickets about an incident: linked automatically (beat) or by hand, answered and solved together.

The tickets app cannot import outreach, so outreach finds new tickets with a query on a schedule
(``incidents_link_new_tickets``) instead of reacting to a call from tickets.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from core.policies import can, denied_message
from outreach.models import Incident, IncidentTicket
from outreach.selectors import incident_customers, incident_earlier_tickets
from outreach.services.rendering import url_absolute
from tickets.models import UNSOLVED_STATUSES, Status, Ticket
from tickets.services import ticket_reply, ticket_system_reply

#: how far back the beat looks for tickets to link (a missed run is caught up)
LINK_WINDOW = dt.timedelta(hours=6)
#: tickets linked (and answered, one transaction each) per click; the page offers the rest again
EARLIER_LIMIT = 500


def _auto_reply_body(incident: Incident) -> str:
    latest = incident.updates.order_by("-number").first()
    return (
        f"We are aware of an ongoing issue that is likely related to your request: **{incident.title}**.\n\n"
        f"{latest.message if latest else incident.message}\n\n"
        f"Follow it on our status page: {url_absolute('/help/status/')}. "
        "We will update this ticket when it is resolved."
    )


def _link_and_reply(incident: Incident, ticket_ids: list[int], *, automatic: bool, actor: User | None = None) -> int:
    """Link each ticket and answer it with a system reply, one transaction per ticket. Returns how many linked.

    The reply goes through ``ticket_system_reply`` like any reply (audit event, version + 1, e-mail, first-reply
    target met) and puts the ticket on hold: it waits for the incident, not for the customer.
    """
    body = _auto_reply_body(incident)
    linked = 0
    for ticket_id in ticket_ids:
        with transaction.atomic():
            _, created = IncidentTicket.objects.get_or_create(
                incident=incident,
                ticket_id=ticket_id,
                defaults={"automatic": automatic, "linked_by": actor if getattr(actor, "pk", None) else None},
            )
            if not created:
                continue  # another run or an agent linked it first
            ticket = Ticket.objects.get(pk=ticket_id)
            if ticket.status in UNSOLVED_STATUSES:
                status = Status.ON_HOLD if ticket.status in (Status.NEW, Status.OPEN, Status.PENDING) else None
                ticket_system_reply(ticket=ticket, body=body, status=status)
            linked += 1
    return linked


def incidents_link_new_tickets(*, now: dt.datetime | None = None) -> int:
    """Beat job: link open tickets from affected customers, created while an incident is active, and auto-reply.

    Set-based per incident (a handful are active at a time): one query finds the unlinked tickets.
    """
    now = now or timezone.now()
    linked = 0
    for incident in Incident.objects.filter(status=Incident.Status.ACTIVE):
        since = max(incident.started_at, now - LINK_WINDOW)
        ids = list(
            Ticket.objects.filter(
                created_at__gte=since,
                status__in=UNSOLVED_STATUSES,
                requester_id__in=incident_customers(incident=incident).values("pk"),
            )
            .exclude(incident_links__incident=incident)
            .order_by("pk")
            .values_list("pk", flat=True)[:1000]
        )
        linked += _link_and_reply(incident, ids, automatic=True)
    return linked


def incident_link_earlier_tickets(*, incident: Incident, actor: User) -> int:
    """One action: link the tickets affected customers opened before the declaration, and answer them.

    Up to ``EARLIER_LIMIT`` a click (the page says when more are left); each is answered like an auto-linked one.
    """
    if not can(actor, "incident.declare"):
        raise ApplicationError(denied_message("incident.declare"))
    if not incident.is_open:
        raise ApplicationError("The incident is resolved.", {"status": incident.status})
    ids = list(incident_earlier_tickets(incident=incident).order_by("pk").values_list("pk", flat=True)[:EARLIER_LIMIT])
    return _link_and_reply(incident, ids, automatic=False, actor=actor)


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
        IncidentTicket.objects.filter(incident=incident, ticket__status__in=UNSOLVED_STATUSES).values_list(
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
