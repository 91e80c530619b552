"""Customer e-mail about tickets, planned as ``Delivery`` rows in the caller's transaction."""

from django.conf import settings

from customers.models import Customer
from customers.services import deliver
from tickets.models import Message, Ticket


def _subject(ticket: Ticket) -> str:
    return f"[{ticket.reference}] {ticket.subject}"


def _footer(ticket: Ticket) -> str:
    return (
        f"\n\n--\nTicket {ticket.reference}. Reply to this e-mail to answer; keep {ticket.reference} in the subject."
        f"\n{settings.SITE_URL}/help/"
    )


def _recipients(ticket: Ticket) -> list[tuple[Customer, str]]:
    """(customer, key suffix): the requester, then the CCs."""
    people = [(ticket.requester, "")]
    people += [(cc, f":cc:{cc.pk}") for cc in ticket.ccs.all() if cc.pk != ticket.requester_id]
    return people


def notify_public_reply(*, ticket: Ticket, message: Message, solved: bool = False) -> None:
    """One row per recipient; key ``ticket:{id}:message:{message_id}`` for the requester."""
    status_line = "\n\nWe consider this request solved. Reply if anything is still wrong." if solved else ""
    for customer, suffix in _recipients(ticket):
        deliver(
            key=f"ticket:{ticket.pk}:message:{message.pk}{suffix}",
            category="service",
            customer=customer,
            subject=_subject(ticket),
            body=message.body + status_line + _footer(ticket),
            html_body=message.body_html,
            headers={"X-Helpdesk-Ticket": ticket.reference},
            source=f"ticket:{ticket.pk}",
        )


def notify_solved(*, ticket: Ticket) -> None:
    """Key ``ticket:{id}:solved:{reopen_count}``: one e-mail per time the ticket is solved."""
    for customer, suffix in _recipients(ticket):
        deliver(
            key=f"ticket:{ticket.pk}:solved:{ticket.reopen_count}{suffix}",
            category="service",
            customer=customer,
            subject=f"{_subject(ticket)} (solved)",
            body=f'Hello {customer.name},\n\nyour request {ticket.reference} "{ticket.subject}" has been solved. '
            "Reply to this e-mail if anything is still wrong and we will pick it up again." + _footer(ticket),
            headers={"X-Helpdesk-Ticket": ticket.reference},
            source=f"ticket:{ticket.pk}",
        )
