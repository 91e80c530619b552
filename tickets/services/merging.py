"""Merging a ticket into another and splitting a message out into a ticket of its own."""

from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.markdown import render_markdown
from core.models import User
from customers.models import Customer
from tickets.models import (
    Attachment,
    Channel,
    Message,
    Status,
    Ticket,
    TicketEvent,
)
from tickets.services import sla
from tickets.services._common import (
    Change,
    ensure_agent,
    ensure_not_closed,
    lock_ticket,
)
from tickets.services.lifecycle import _add_message, _next_number


def _requester_label(customer: Customer) -> str:
    return f"{customer.name} <{customer.email}>" if customer.name else customer.email


def _copy_as_notes(*, src: Ticket, change: Change, actor: User) -> int:
    """Another customer's messages reach the target as internal notes (agents only), attachments included.

    The originals stay on the source, so its requester still reads their own conversation there.
    """
    originals = list(
        Message.objects.filter(ticket=src)
        .select_related("author_user", "author_customer")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    notes = []
    for original in originals:
        kind = "internal note" if original.is_internal else "message"
        header = (
            f"**From {src.reference}**, {kind} by {original.author_name or 'unknown'} "
            f"on {original.created_at:%Y-%m-%d %H:%M} UTC:"
        )
        notes.append(
            Message(
                ticket=change.ticket,
                author_user=actor,
                by_agent=True,
                is_internal=True,
                channel=Channel.AGENT,
                body=f"{header}\n\n{original.body}",
                body_html=render_markdown(header) + original.body_html,
                created_at=change.now,
                moved_from=src,
            )
        )
    Message.objects.bulk_create(notes)
    Attachment.objects.bulk_create(
        [
            Attachment(
                message=note,
                file=attachment.file.name,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=attachment.size,
            )
            for note, original in zip(notes, originals, strict=True)
            for attachment in original.attachments.all()
        ]
    )
    return len(notes)


@transaction.atomic
def ticket_merge(
    *, source: Ticket, target: Ticket, actor: User, expected_version: int | None = None, confirm: bool = False
) -> Ticket:
    """Move every message of ``source`` into ``target``; ``source`` closes with a pointer to ``target``.

    ``expected_version`` is the source's. With one requester the source's CCs follow the target and tags
    are joined. When the requesters differ the merge needs ``confirm``, and no message crosses from one
    customer to the other (as Zendesk does): the source keeps its messages for its requester, the target
    gets them as internal notes, and nobody from the source is copied on the target.
    """
    ensure_agent(actor, "merge tickets")
    if source.pk == target.pk:
        raise ApplicationError("A ticket cannot be merged into itself.")
    first, second = sorted([source.pk, target.pk])  # one lock order, so two opposite merges cannot deadlock
    locks = {first: lock_ticket(first), second: lock_ticket(second)}
    src, dst = locks[source.pk], locks[target.pk]
    if expected_version is not None and src.version != expected_version:
        raise ApplicationError(
            "Someone else changed this ticket in the meantime. Review the changes and submit again.",
            {"conflict": True, "current_version": src.version},
        )
    ensure_not_closed(src)
    ensure_not_closed(dst)
    across = src.requester_id != dst.requester_id
    if across and not confirm:
        src_requester, dst_requester = (
            Customer.objects.get(pk=src.requester_id),
            Customer.objects.get(pk=dst.requester_id),
        )
        raise ApplicationError(
            f"{src.reference} is from {_requester_label(src_requester)} and {dst.reference} is from "
            f"{_requester_label(dst_requester)}. Confirm to merge: the messages of {src.reference} become "
            f"internal notes on {dst.reference}, which {dst_requester.name or dst_requester.email} will not see.",
            {
                "confirm_required": True,
                "source_requester": {"id": src_requester.pk, "name": src_requester.name, "email": src_requester.email},
                "target_requester": {"id": dst_requester.pk, "name": dst_requester.name, "email": dst_requester.email},
            },
        )
    now = timezone.now()
    dst_change = Change(ticket=dst, actor=actor, now=now)
    src_change = Change(ticket=src, actor=actor, now=now)
    if across:
        moved = _copy_as_notes(src=src, change=dst_change, actor=actor)
        summary = f"{moved} message(s) copied here as internal notes (another requester's, never shown to this one)."
    else:
        moved = Message.objects.filter(ticket=src).update(ticket=dst, moved_from=src)
        summary = f"{moved} message(s) moved."
        followers = set(src.ccs.values_list("pk", flat=True)) - {dst.requester_id}
        if followers:
            dst.ccs.add(*followers)
        if src.last_customer_message_at and (
            dst.last_customer_message_at is None or src.last_customer_message_at > dst.last_customer_message_at
        ):
            dst_change.set("last_customer_message_at", src.last_customer_message_at)
    tags = set(src.tags.values_list("pk", flat=True)) - set(dst.tags.values_list("pk", flat=True))
    if tags:
        dst.tags.add(*tags)
    note = _add_message(
        dst_change,
        body=f"Ticket {src.reference} ({src.subject}) was merged into this ticket: {summary}",
        author_user=actor,
        author_customer=None,
        by_agent=True,
        internal=True,
        channel=Channel.AGENT,
        files=(),
    )
    dst_change.record(TicketEvent.Kind.MERGED, field_name="merged_from", new=src.number, message=note)
    src_change.record(TicketEvent.Kind.MERGED, field_name="merged_into", new=dst.number)
    src_change.set("merged_into", dst)
    # merging closes whatever the status was (the one way into closed that skips solved)
    old_status = src.status
    src_change.set("status", Status.CLOSED)
    src_change.set("closed_at", now)
    src_change.changed("status", old_status, Status.CLOSED.value)
    sla.sla_stop(src_change)
    src_change.save()
    return dst_change.save()


@transaction.atomic
def message_split(*, message: Message, actor: User, subject: str = "", expected_version: int | None = None) -> Ticket:
    """Move one message (with its attachments) into a new ticket linked to the old one (``split_from``)."""
    ensure_agent(actor, "split tickets")
    source = lock_ticket(message.ticket_id, expected_version=expected_version)
    ensure_not_closed(source)
    message = Message.objects.select_related("author_customer").get(pk=message.pk)
    if message.ticket_id != source.pk:
        raise ApplicationError("The message moved in the meantime.", {"conflict": True})
    if message.is_internal:
        raise ApplicationError("Internal notes cannot be split into a ticket.")
    if not Message.objects.filter(ticket=source).exclude(pk=message.pk).exists():
        raise ApplicationError("This is the ticket's only message; there is nothing to split from.")
    requester = message.author_customer or source.requester
    now = timezone.now()
    ticket = Ticket(
        number=_next_number(),
        subject=(subject or f"{source.subject} (split from {source.reference})").strip()[:300],
        requester=requester,
        organization_id=requester.organization_id,
        queue=source.queue,
        status=Status.NEW if not message.by_agent else Status.OPEN,
        priority=source.priority,
        priority_rank=source.priority_rank,
        kind=source.kind,
        channel=message.channel,
        created_at=now,
        updated_at=now,
        split_from=source,
        last_customer_message_at=None if message.by_agent else message.created_at,
    )
    new_change = Change(ticket=ticket, actor=actor, now=now)
    sla.sla_start(new_change, first_reply=not message.by_agent)
    ticket.save()
    Message.objects.filter(pk=message.pk).update(ticket=ticket, moved_from=source)
    new_change.record(TicketEvent.Kind.CREATED, new={"status": ticket.status, "priority": ticket.priority})
    new_change.record(TicketEvent.Kind.SPLIT, field_name="split_from", new=source.number, message=message)
    TicketEvent.objects.bulk_create(new_change.events)
    src_change = Change(ticket=source, actor=actor, now=now)
    src_change.record(TicketEvent.Kind.SPLIT, field_name="split_into", new=ticket.number)
    src_change.save()
    return ticket
