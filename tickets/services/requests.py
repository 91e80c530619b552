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
from core.tokens import TokenExpired, TokenInvalid, token_make, token_max_age, token_read
from customers.models import Category, Customer, Product
from customers.services import customer_get_or_create, customer_link_user, delivery_plan
from knowledge.services import search_log_mark_ticket
from tickets.models import Channel, Status, Ticket
from tickets.policies import Action, ticket_may
from tickets.services import sla
from tickets.services._common import Change, lock_ticket
from tickets.services.lifecycle import ticket_create


def request_link(*, ticket: Ticket) -> str:
    """The path of a signed, expiring link that lets the requester follow the ticket without signing in.

    It is only ever e-mailed to the requester's address, never shown in a response: whoever holds it acts
    as the requester on this ticket."""
    token = token_make(purpose="request", value=[ticket.pk, ticket.requester_id])
    return reverse("help-request-link", kwargs={"token": token})


#: links from mail sent before request links carried a time: genuine, but treated as expired
_LEGACY_LINK_SALT = "tickets.request-link"


def request_link_read(*, token: str) -> tuple[int, int]:
    """(ticket id, customer id) of a genuine, unexpired link; ``TokenExpired``/``TokenInvalid`` otherwise."""
    try:
        value = token_read(purpose="request", token=token)
    except TokenExpired:
        raise
    except TokenInvalid as invalid:
        try:
            signing.loads(token, salt=_LEGACY_LINK_SALT)
        except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
            raise invalid from None
        raise TokenExpired("a link without a time: ask for a new one") from None
    try:
        ticket_id, customer_id = value
        return int(ticket_id), int(customer_id)
    except (TypeError, ValueError) as exc:
        raise TokenInvalid("malformed") from exc


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
    e-mail, which creates or finds the customer. The requester is e-mailed a confirmation with a signed link,
    the only place that link goes. Filed without proof that it is the requester (anonymously in the name of
    someone with an account, or by an unconfirmed account) it is marked ``requester_unverified``."""
    submitted_by = None
    if user is not None and user.is_authenticated:
        submitted_by = user
        if user.email_verified:
            customer, unverified = customer_link_user(user=user), False
        else:  # the record of that address, not linked: the account sees only what it files itself
            customer, _ = customer_get_or_create(email=user.email, name=user.name)
            unverified = True
    else:
        customer, _ = customer_get_or_create(email=email, name=name)
        unverified = customer.user_id is not None  # someone with an account, who would have signed in
    ticket = ticket_create(
        requester=customer,
        subject=subject,
        body=body,
        channel=channel,
        tags=[f"product-{product.slug}"] if product else (),
        attachments=attachments,
    )
    if submitted_by is not None or unverified:
        Ticket.objects.filter(pk=ticket.pk).update(submitted_by=submitted_by, requester_unverified=unverified)
        ticket.submitted_by, ticket.requester_unverified = submitted_by, unverified
    if search_log_id:
        search_log_mark_ticket(search_log_id=search_log_id, ticket_id=ticket.pk)
    link = f"{settings.SITE_URL}{request_link(ticket=ticket)}"
    delivery_plan(
        key=f"ticket:{ticket.pk}:received",
        category=Category.SERVICE,
        subject=f"[{ticket.reference}] We received your request: {ticket.subject}",
        body=(
            f"Hello {customer.name},\n\nthank you for writing to us. Your request {ticket.reference} is with our "
            f"support team, and we will reply by e-mail.\n\nFollow it, add details or files here:\n{link}\n\n"
            f"The link is for you alone and works for {token_max_age('request').days} days; after that, ask for a "
            f"new one at {settings.SITE_URL}{reverse('help-request-link-new')}\n"
        ),
        customer=customer,
        source=f"ticket:{ticket.pk}",
    )
    return ticket, customer


#: how many requests a "send me my links" e-mail lists, most recently active first
LINKS_PER_EMAIL = 10


@transaction.atomic
def request_links_send(*, email: str) -> int:
    """E-mail fresh follow links for the recent requests of this address (an expired link's way back).

    Only the mailbox learns anything: for an address without requests nothing is sent, and the caller
    answers the same either way. At most one e-mail a minute per address (the ledger key repeats).
    Returns the number of links sent.
    """
    customer = Customer.objects.filter(email=email.strip().lower()).first()
    if customer is None:
        return 0
    tickets = list(
        Ticket.objects.filter(requester=customer, merged_into__isnull=True)
        .only("pk", "number", "subject", "status", "requester_id")
        .order_by("-updated_at", "-id")[:LINKS_PER_EMAIL]
    )
    if not tickets:
        return 0
    days = token_max_age("request").days
    lines = "\n".join(
        f"{t.reference} {t.subject} ({t.get_status_display()}):\n{settings.SITE_URL}{request_link(ticket=t)}\n"
        for t in tickets
    )
    delivery_plan(
        key=f"request-links:{customer.pk}:{timezone.now():%Y%m%d%H%M}",
        category=Category.SERVICE,
        subject="Your links to follow your requests",
        body=(
            f"Hello {customer.name},\n\nhere are new links to follow your requests, add details or files. Each "
            f"works for {days} days.\n\n{lines}\nIf you did not ask for them, ignore this message.\n"
        ),
        customer=customer,
        source=f"customer:{customer.pk}",
    )
    return len(tickets)


@transaction.atomic
def ticket_customer_solve(*, ticket: Ticket, customer: Customer | None) -> Ticket:
    """The requester says the problem is gone ("my problem is solved" in the help center).

    Unlike an agent's solve, required custom fields do not block it and no "solved" e-mail goes out:
    the customer is the one who said so.
    """
    locked = lock_ticket(ticket)
    if customer is None or not ticket_may(ticket=locked, customer=customer, action=Action.SOLVE):
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
