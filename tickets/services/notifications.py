"""Customer e-mail about tickets, planned as ``Delivery`` rows in the caller's transaction."""

from collections.abc import Sequence
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from customers.models import Customer
from customers.services import DeliveryDraft, deliveries_plan, delivery_message_id, delivery_plan
from tickets.inbound.addresses import reply_address
from tickets.models import Mailbox, MailThreadId, Message, Ticket

#: Message-IDs of a ticket named in References: enough for any client to thread, bounded in size
REFERENCES_KEPT = 10


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


def ticket_mailbox(ticket: Ticket) -> Mailbox | None:
    """The mailbox ticket e-mail goes out from: the queue's, else the one of the From address."""
    mailbox = ticket.queue.mailboxes.filter(is_active=True).order_by("pk").first()
    if mailbox is None:
        mailbox = Mailbox.objects.filter(address=parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()).first()
    return mailbox


def _threading(ticket: Ticket, *, sender_name: str = "", automatic: str = "") -> dict[str, str]:
    """Headers that thread the conversation in mail clients and bring replies back to this ticket."""
    earlier = list(
        MailThreadId.objects.filter(ticket=ticket)
        .order_by("-created_at", "-id")
        .values_list("message_id", flat=True)[:REFERENCES_KEPT]
    )
    return _threading_headers(ticket, ticket_mailbox(ticket), earlier, sender_name=sender_name, automatic=automatic)


def _threading_headers(ticket: Ticket, mailbox: Mailbox | None, earlier: list[str], *, sender_name: str = "",
                       automatic: str = "") -> dict[str, str]:  # fmt: skip
    """``_threading`` from what it reads: the sending mailbox and the ticket's Message-IDs, newest first."""
    headers = {"X-Helpdesk-Ticket": ticket.reference}
    if mailbox is not None:
        name = f"{sender_name} ({mailbox.name or 'Support'})" if sender_name else (mailbox.name or "")
        headers["From"] = formataddr((name, mailbox.address)) if name else mailbox.address
        headers["Reply-To"] = reply_address(mailbox_address=mailbox.address, ticket_id=ticket.pk)
    if earlier:
        headers["In-Reply-To"] = f"<{earlier[0]}>"
        headers["References"] = " ".join(f"<{m}>" for m in reversed(earlier))
    if automatic:  # RFC 3834 (auto-generated / auto-replied): machines must not answer it, Outlook's neither
        headers["Auto-Submitted"] = automatic
        headers["X-Auto-Response-Suppress"] = "All"
    return headers


def _ticket_mail(*, key: str, ticket: Ticket, headers: dict[str, str], **fields: object) -> None:
    """Plan one ticket e-mail and remember its Message-ID, so a reply to it finds this ticket."""
    delivery_plan(key=key, headers=headers, source=f"ticket:{ticket.pk}", **fields)  # type: ignore[arg-type]
    message_id = delivery_message_id(key).strip("<>")
    MailThreadId.objects.bulk_create(
        [MailThreadId(message_id=message_id, ticket=ticket, outbound=True)], ignore_conflicts=True
    )


def message_notify(*, ticket: Ticket, message: Message, solved: bool = False) -> None:
    """One row per recipient; key ``ticket:{id}:message:{message_id}`` for the requester."""
    status_line = "\n\nWe consider this request solved. Reply if anything is still wrong." if solved else ""
    author = message.author_user.name if message.author_user is not None else ""
    headers = _threading(ticket, sender_name=author)
    for customer, suffix in _recipients(ticket):
        _ticket_mail(
            key=f"ticket:{ticket.pk}:message:{message.pk}{suffix}",
            ticket=ticket,
            headers=headers,
            category="service",
            customer=customer,
            subject=_subject(ticket),
            body=message.body + status_line + _footer(ticket),
            html_body=message.body_html,
        )


def ticket_notify_solved(*, ticket: Ticket) -> None:
    """Key ``ticket:{id}:solved:{reopen_count}``: one e-mail per time the ticket is solved."""
    headers = _threading(ticket, automatic="auto-generated")
    for customer, suffix in _recipients(ticket):
        _ticket_mail(
            key=f"ticket:{ticket.pk}:solved:{ticket.reopen_count}{suffix}",
            ticket=ticket,
            headers=headers,
            category="service",
            customer=customer,
            subject=f"{_subject(ticket)} (solved)",
            body=f'Hello {customer.name},\n\nyour request {ticket.reference} "{ticket.subject}" has been solved. '
            "Reply to this e-mail if anything is still wrong and we will pick it up again." + _footer(ticket),
        )


def ticket_notify_received(*, ticket: Ticket) -> None:
    """The answer to an e-mail that opened a ticket (RFC 3834 ``auto-replied``): its reference, how to add more."""
    tickets_notify_received(tickets=[ticket])


def tickets_notify_received(*, tickets: Sequence[Ticket]) -> None:
    """``ticket_notify_received`` for a batch of new tickets (e-mail in routes 100 at a time): the rows, their
    Message-IDs and each ticket's threading ids in a few statements whatever the batch's size, and one
    send task per delivery chunk instead of one per ticket."""
    if not tickets:
        return
    earlier: dict[int, list[str]] = {}
    rows = (
        MailThreadId.objects.filter(ticket__in=[t.pk for t in tickets])
        .annotate(
            rank=Window(RowNumber(), partition_by=F("ticket_id"), order_by=[F("created_at").desc(), F("id").desc()])
        )
        .filter(rank__lte=REFERENCES_KEPT)
        .order_by("ticket_id", "rank")
        .values_list("ticket_id", "message_id")
    )
    for ticket_id, message_id in rows:
        earlier.setdefault(ticket_id, []).append(message_id)
    mailboxes: dict[int, Mailbox | None] = {}
    drafts = []
    for ticket in tickets:
        if ticket.queue_id not in mailboxes:
            mailboxes[ticket.queue_id] = ticket_mailbox(ticket)
        customer = ticket.requester
        drafts.append(
            DeliveryDraft(
                key=f"ticket:{ticket.pk}:received",
                category="service",
                subject=f"{_subject(ticket)} (received)",
                body=f"Hello {customer.name},\n\nwe received your request and gave it the reference "
                f"{ticket.reference}. We will answer by e-mail; to add anything, reply to this message."
                + _footer(ticket),
                customer=customer,
                headers=_threading_headers(
                    ticket, mailboxes[ticket.queue_id], earlier.get(ticket.pk, []), automatic="auto-replied"
                ),
                source=f"ticket:{ticket.pk}",
            )
        )
    deliveries_plan(drafts=drafts)
    MailThreadId.objects.bulk_create(
        [
            MailThreadId(message_id=delivery_message_id(d.key).strip("<>"), ticket=t, outbound=True)
            for d, t in zip(drafts, tickets, strict=True)
        ],
        ignore_conflicts=True,
    )
