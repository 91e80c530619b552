"""Messages on a ticket: an agent's reply or internal note, the helpdesk's own reply, a customer's reply.

A public reply is e-mailed to the requester and the people in copy (``notifications``).
"""

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from customers.models import Customer
from tickets.models import (
    Channel,
    Kind,
    Message,
    Status,
    Ticket,
)
from tickets.policies import Action, ticket_may
from tickets.services import sla
from tickets.services._common import (
    Change,
    Deferred,
    ensure_agent,
    ensure_not_closed,
    lock_ticket,
)
from tickets.services.lifecycle import _add_message, _check_body, _set_assignee, _set_status, ticket_insert
from tickets.services.notifications import message_notify, ticket_notify_solved


@transaction.atomic
def ticket_reply(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    internal: bool = False,
    status: str | None = None,
    attachments: Sequence[Any] = (),
    expected_version: int | None = None,
) -> Message:
    """An agent's public reply (e-mailed to the customer) or internal note, with an optional status change.

    A public reply moves ``new``/``open`` to ``pending`` unless ``status`` says otherwise, meets the
    first-reply and next-reply targets, and takes an unassigned ticket for its author.
    """
    ensure_agent(author, "reply as an agent")
    body = _check_body(body, attachments)
    locked = lock_ticket(ticket, expected_version=expected_version)
    ensure_not_closed(locked)
    change = Change(ticket=locked, actor=author, now=timezone.now())
    message = _reply_locked(change, author=author, body=body, internal=internal, status=status, files=attachments)
    change.save()
    return message


def _reply_locked(
    change: Change, *, author: User | None, body: str, internal: bool, status: str | None, files: Sequence[Any]
) -> Message:
    """``author=None`` is a system reply (an automation): the same message, milestones and e-mail, no assignee."""
    ticket = change.ticket
    message = _add_message(
        change,
        body=body,
        author_user=author,
        author_customer=None,
        by_agent=True,
        internal=internal,
        channel=Channel.AGENT,
        files=files,
    )
    solved = False
    if not internal:
        sla.sla_agent_replied(change)
        if ticket.assignee_id is None and author is not None:
            _set_assignee(change, author)
        if not status and ticket.status in (Status.NEW, Status.OPEN):
            status = Status.PENDING
    if status:
        solved = _set_status(change, status) and status == Status.SOLVED
    if not internal:
        message_notify(ticket=ticket, message=message, solved=solved)
    elif solved:
        ticket_notify_solved(ticket=ticket)
    return message


@transaction.atomic
def ticket_system_reply(*, ticket: Ticket, body: str, status: str | None = None) -> Message:
    """A public reply by the helpdesk itself (an incident's auto-reply): written like any agent reply.

    It is audited (``replied``, no actor), bumps ``version``, e-mails the requester, meets the first-reply
    target and moves ``new``/``open`` on (to ``status``, or ``pending``), but takes no assignee.
    """
    body = _check_body(body, ())
    locked = lock_ticket(ticket)
    ensure_not_closed(locked)
    change = Change(ticket=locked, actor=None, now=timezone.now())
    message = _reply_locked(change, author=None, body=body, internal=False, status=status, files=())
    change.save()
    return message


@transaction.atomic
def ticket_customer_reply(
    *,
    ticket: Ticket,
    body: str,
    customer: Customer | None = None,
    attachments: Sequence[Any] = (),
    channel: str = Channel.EMAIL,
    expected_version: int | None = None,
    automated: bool = False,
) -> Message:
    """A customer's message (``customer``, the requester when None). ``pending``/``on_hold``/``solved`` go
    back to ``open``. Who may reply is ``tickets.policies``: the requester, the people in copy, colleagues
    where the organization shares its tickets.

    ``automated`` (an out-of-office or other machine-written reply, RFC 3834) is stored on the ticket but
    changes nothing: no reopening, no SLA clock, no follow-up ticket for a closed one.

    On a closed ticket it opens a new ticket linked to it (``follow_up_of``) and returns that ticket's message;
    on a merged one it lands on the ticket it was merged into.
    """
    return ticket_customer_reply_insert(
        ticket=ticket, body=body, customer=customer, attachments=attachments, channel=channel,
        expected_version=expected_version, automated=automated,
    )  # fmt: skip


def ticket_customer_reply_insert(
    *,
    ticket: Ticket,
    body: str,
    customer: Customer | None = None,
    attachments: Sequence[Any] = (),
    channel: str = Channel.EMAIL,
    expected_version: int | None = None,
    automated: bool = False,
    deferred: Deferred | None = None,
    locked: bool = False,
) -> Message:
    """``ticket_customer_reply`` in the caller's transaction (no savepoint of its own: a caller that catches
    its errors makes one). With ``deferred`` (e-mail in's batch) the audit events are left there for the
    caller to write with the others' (``ticket_insert``): 3 statements a reply instead of 6.

    ``locked``: the caller holds the ticket's row lock and ``ticket`` is the row as it is now (a batch that
    read its tickets ``FOR UPDATE``), so it is not read again, and with ``deferred`` its UPDATE is left to
    the caller too (``Deferred.update``); this changes that object, so a caller that undoes the reply (a
    savepoint) must drop it."""
    customer = customer or ticket.requester
    body = _check_body(body, attachments)
    current = ticket if locked and expected_version is None else lock_ticket(ticket, expected_version=expected_version)
    if current.merged_into_id is not None:
        target = Ticket.objects.get(pk=current.merged_into_id)
        # a reply follows the merge only onto a ticket its author may see; merged into another customer's
        # ticket, it opens a follow-up of the (closed) source instead of landing in front of that customer
        if not target.is_closed and ticket_may(ticket=target, customer=customer, action=Action.REPLY):
            return ticket_customer_reply_insert(
                ticket=target, body=body, customer=customer, attachments=attachments, channel=channel,
                automated=automated, deferred=deferred,
            )  # fmt: skip
    if not ticket_may(ticket=current, customer=customer, action=Action.REPLY):
        raise ApplicationError("Only the requester and the people in copy can reply to this ticket.")
    if current.is_closed and automated:
        raise ApplicationError("A closed ticket takes no automatic replies.")
    if current.is_closed:
        _, first = ticket_insert(
            requester=customer,
            subject=current.subject,
            body=body,
            queue=current.queue if current.queue.is_active else None,
            channel=channel,
            kind=current.kind if current.kind != Kind.PROACTIVE else Kind.QUESTION,
            priority=current.priority,
            attachments=attachments,
            follow_up_of=current,
            deferred=deferred,
        )
        return first
    change = Change(ticket=current, actor=customer.user, now=timezone.now(), deferred=deferred, held=locked)
    message = _add_message(
        change,
        body=body,
        author_user=customer.user,
        author_customer=customer,
        by_agent=False,
        internal=False,
        channel=channel,
        files=attachments,
    )
    if not automated:
        if current.status in (Status.PENDING, Status.ON_HOLD, Status.SOLVED):
            _set_status(change, Status.OPEN)
        sla.sla_customer_replied(change)
    change.save()
    return message
