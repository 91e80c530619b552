"""Requests from the help center: submit, follow by a signed link, mark as solved by the customer."""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from customers.models import Category, Customer, Product
from customers.services import customer_get_or_create, customer_link_user, deliver
from knowledge.services import search_log_mark_ticket
from tickets.models import Channel, Status, Ticket
from tickets.services import sla
from tickets.services._common import Change, lock_ticket
from tickets.services.tickets import ticket_create

LINK_SALT = "tickets.request-link"


def request_link(*, ticket: Ticket) -> str:
    """The path of a signed link that lets the requester follow the ticket without signing in."""
    token = signing.dumps({"t": ticket.pk, "c": ticket.requester_id}, salt=LINK_SALT, compress=True)
    return reverse("help-request-link", kwargs={"token": token})


def request_link_read(*, token: str) -> tuple[int, int] | None:
    """(ticket id, customer id) of a genuine link; None for a tampered or malformed one."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
        return int(data["t"]), int(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


@transaction.atomic
def request_submit(
    *,
    subject: str,
    body: str,
    user: User | None = None,
    email: str = "",
    name: str = "",
    product: Product | None = None,
    attachments: Sequence[Any] = (),
    search_log_id: int | None = None,
    channel: str = Channel.WEB,
) -> tuple[Ticket, Customer]:
    """A request from the help center. A signed-in user files as their customer record; anyone else gives an
    e-mail, which creates or links the customer. The requester is e-mailed a confirmation with a signed link."""
    if user is not None and user.is_authenticated:
        customer = customer_link_user(user=user)
    else:
        customer, _ = customer_get_or_create(email=email, name=name)
    ticket = ticket_create(
        requester=customer,
        subject=subject,
        body=body,
        channel=channel,
        tags=[f"product-{product.slug}"] if product else (),
        attachments=attachments,
    )
    if search_log_id:
        search_log_mark_ticket(search_log_id=search_log_id, ticket_id=ticket.pk)
    link = f"{settings.SITE_URL}{request_link(ticket=ticket)}"
    deliver(
        key=f"ticket:{ticket.pk}:received",
        category=Category.SERVICE,
        subject=f"[{ticket.reference}] We received your request: {ticket.subject}",
        body=(
            f"Hello {customer.name},\n\nthank you for writing to us. Your request {ticket.reference} is with our "
            f"support team, and we will reply by e-mail.\n\nFollow it, add details or files here:\n{link}\n"
        ),
        customer=customer,
        source=f"ticket:{ticket.pk}",
    )
    return ticket, customer


@transaction.atomic
def ticket_customer_solve(*, ticket: Ticket, customer: Customer | None) -> Ticket:
    """The requester says the problem is gone ("my problem is solved" in the help center).

    Unlike an agent's solve, required custom fields do not block it and no "solved" e-mail goes out:
    the customer is the one who said so.
    """
    locked = lock_ticket(ticket)
    if customer is None or customer.pk != locked.requester_id:
        raise ApplicationError("Only the requester can mark this request as solved.")
    if locked.status in (Status.SOLVED, Status.CLOSED):
        return locked
    old = locked.status
    change = Change(ticket=locked, actor=customer.user, now=timezone.now())
    change.set("status", Status.SOLVED)
    change.changed("status", old, Status.SOLVED)
    change.set("solved_at", change.now)
    sla.sla_solved(change)
    return change.save()
