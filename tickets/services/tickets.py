"""Creating, replying to, changing, solving, merging and splitting tickets; the auto-close job.

Every service locks the ticket row (``select_for_update``), checks
``expected_version`` before writing anything, changes the row with
``update_fields`` (``version`` + 1), and writes its own audit events.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.exceptions import ApplicationError
from core.markdown import render_markdown
from core.models import User
from core.roles import is_agent
from customers.models import Customer, Tag
from tickets.models import (
    CLOCK_PAUSED_STATUSES,
    CLOCK_RUNNING_STATUSES,
    PRIORITY_RANK,
    Attachment,
    Channel,
    CustomField,
    Kind,
    Message,
    Priority,
    Queue,
    Status,
    Ticket,
    TicketEvent,
)
from tickets.sentiment import sentiment_score
from tickets.services import sla
from tickets.services._common import (
    UNSET,
    Change,
    conf,
    ensure_agent,
    ensure_not_closed,
    lock_ticket,
    set_priority,
    tags_named,
)
from tickets.services.attachments import attachments_store, attachments_validate
from tickets.services.notifications import notify_public_reply, notify_solved
from tickets.services.queues import queue_next_assignee

#: the lifecycle: new -> open -> pending / on_hold -> solved -> closed
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.SOLVED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.SOLVED}),
    Status.SOLVED: frozenset({Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


# --- building blocks on a locked ticket ------------------------------------------------------------


#: where ticket numbers come from (migration 0007): a sequence on PostgreSQL, an AUTOINCREMENT table on SQLite
NUMBER_SEQUENCE = "tickets_ticket_number_seq"


def _next_number() -> int:
    """The next human reference, without a lock that outlives this call.

    PostgreSQL's ``nextval`` never waits for another transaction, so ticket creation no longer takes
    turns system-wide; a rolled-back creation leaves a gap in the numbers (as in Zendesk), never a
    duplicate. On SQLite the insert takes the database's one writer lock, which the ticket's own
    insert takes anyway; the row is deleted at once, AUTOINCREMENT never hands its id out again.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(%s)", [NUMBER_SEQUENCE])
            return int(cursor.fetchone()[0])
        cursor.execute(f'INSERT INTO "{NUMBER_SEQUENCE}" DEFAULT VALUES')
        number = int(cursor.lastrowid)
        cursor.execute(f'DELETE FROM "{NUMBER_SEQUENCE}" WHERE id = %s', [number])  # noqa: S608 - a constant name
        return number


def _default_queue() -> Queue:
    slug = conf("TICKET_DEFAULT_QUEUE")
    queue = None
    if slug:
        queue = Queue.objects.filter(slug=slug, is_active=True).first()
    queue = queue or Queue.objects.filter(is_active=True).order_by("pk").first()
    if queue is None:
        raise ApplicationError("There is no queue to put the ticket in; create one in the admin first.")
    return queue


def _required_missing(ticket: Ticket) -> list[str]:
    values = ticket.custom_fields or {}
    return [
        definition.label
        for definition in CustomField.objects.filter(is_active=True, required=True)
        if values.get(definition.key) in (None, "", [])
    ]


def _set_status(change: Change, status: str) -> bool:
    ticket = change.ticket
    old = ticket.status
    if status == old:
        return False
    if status not in Status.values:
        raise ApplicationError(f"Unknown status {status!r}.", {"status": status})
    if status not in TRANSITIONS[old]:
        raise ApplicationError(
            f"A ticket cannot go from {Status(old).label.lower()} to {Status(status).label.lower()}.",
            {"status": status, "from": old},
        )
    if status == Status.SOLVED:
        missing = _required_missing(ticket)
        if missing:
            raise ApplicationError(f"Fill in {', '.join(missing)} before solving.", {"required_fields": missing})
    change.set("status", status)
    change.changed("status", old, status)
    if old == Status.SOLVED:
        change.set("reopen_count", ticket.reopen_count + 1)
    if status == Status.SOLVED:
        change.set("solved_at", change.now)
        sla.sla_solved(change)
    elif status == Status.CLOSED:
        change.set("closed_at", change.now)
        sla.sla_stop(change)
    elif status in CLOCK_PAUSED_STATUSES and old in CLOCK_RUNNING_STATUSES:
        sla.sla_pause(change)
    elif status in CLOCK_RUNNING_STATUSES and old in CLOCK_PAUSED_STATUSES:
        sla.sla_resume(change)
    return True


def _set_assignee(change: Change, assignee: User | None) -> bool:
    if assignee is not None and (not is_agent(assignee) or not assignee.is_active):
        raise ApplicationError(f"{assignee} is not an agent.", {"assignee": assignee.pk})
    old = change.ticket.assignee
    if old == assignee:
        return False
    change.ticket.assignee = assignee
    change.touch("assignee")
    change.changed("assignee", old, assignee)
    return True


def _set_queue(change: Change, queue: Queue) -> bool:
    if queue is None:
        raise ApplicationError("A ticket is always in a queue.")
    old = change.ticket.queue
    if old == queue:
        return False
    if not queue.is_active:
        raise ApplicationError(f"The queue {queue} is not active.")
    change.ticket.queue = queue
    change.touch("queue")
    change.changed("queue", old, queue)
    return True


def _clean_custom_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Type-checked values by key; None removes a value."""
    if not isinstance(values, dict):
        raise ApplicationError("Custom fields must be an object of key: value.")
    definitions = {d.key: d for d in CustomField.objects.filter(is_active=True, key__in=list(values))}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            raise ApplicationError(f"Unknown custom field {key!r}.", {"custom_field": key})
        if value in (None, ""):
            cleaned[key] = None
            continue
        kind = definition.type
        try:
            if kind == CustomField.Type.TEXT:
                value = str(value)[:2000]
            elif kind == CustomField.Type.NUMBER:
                if isinstance(value, bool):
                    raise ValueError
                number = float(value)
                value = int(number) if number.is_integer() else number
            elif kind == CustomField.Type.DATE:
                value = dt.date.fromisoformat(str(value)).isoformat()
            elif kind == CustomField.Type.CHECKBOX:
                if not isinstance(value, bool):
                    raise ValueError
            elif kind == CustomField.Type.CHOICE and value not in (definition.choices or []):
                raise ValueError
        except (TypeError, ValueError) as exc:
            raise ApplicationError(
                f"{definition.label}: {value!r} is not a valid {definition.get_type_display().lower()}.",
                {"custom_field": key},
            ) from exc
        cleaned[key] = value
    return cleaned


def _set_custom_fields(change: Change, values: dict[str, Any]) -> bool:
    cleaned = _clean_custom_fields(values)
    current = dict(change.ticket.custom_fields or {})
    merged = dict(current)
    for key, value in cleaned.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if merged == current:
        return False
    for key in sorted(set(current) | set(merged)):
        if current.get(key) != merged.get(key):
            change.changed(f"custom_fields.{key}", current.get(key), merged.get(key))
    change.set("custom_fields", merged)
    return True


def _change_tags(change: Change, *, tags: Iterable[str] | None, add: Iterable[Any], remove: Iterable[Any]) -> bool:
    ticket = change.ticket
    current = {tag.name: tag for tag in ticket.tags.all()}
    target = dict(current) if tags is None else {tag.name: tag for tag in tags_named(tags)}
    for tag in _as_tags(add):
        target[tag.name] = tag
    for tag in _as_tags(remove):
        target.pop(tag.name, None)
    if set(target) == set(current):
        return False
    ticket.tags.set(list(target.values()))
    change.changed("tags", sorted(current), sorted(target))
    return True


def _as_tags(values: Iterable[Any]) -> list[Tag]:
    values = list(values)
    objects = [v for v in values if isinstance(v, Tag)]
    return objects + tags_named([v for v in values if not isinstance(v, Tag)])


def _change_ccs(change: Change, ccs: Iterable[Customer]) -> bool:
    ticket = change.ticket
    current = set(ticket.ccs.values_list("pk", flat=True))
    wanted = {c.pk for c in ccs if c.pk != ticket.requester_id}
    if wanted == current:
        return False
    ticket.ccs.set(list(wanted))
    change.changed("ccs", sorted(current), sorted(wanted))
    return True


def _add_message(
    change: Change,
    *,
    body: str,
    author_user: User | None,
    author_customer: Customer | None,
    by_agent: bool,
    internal: bool,
    channel: str,
    files: Sequence[Any],
) -> Message:
    message = Message.objects.create(
        ticket=change.ticket,
        author_user=author_user,
        author_customer=author_customer,
        by_agent=by_agent,
        is_internal=internal,
        channel=channel,
        body=body,
        body_html=render_markdown(body),
        created_at=change.now,
        sentiment=None if by_agent else sentiment_score(body),
    )
    if files:
        attachments_store(message=message, files=files)
    kind = (
        TicketEvent.Kind.NOTE
        if internal
        else TicketEvent.Kind.REPLIED
        if by_agent
        else TicketEvent.Kind.CUSTOMER_REPLIED
    )
    change.record(kind, message=message)
    return message


def _check_body(body: str, files: Sequence[Any]) -> str:
    body = (body or "").strip()
    if not body and not files:
        raise ApplicationError("The message is empty.", {"body": "required"})
    attachments_validate(files=files)
    return body


@dataclass
class _Changes:
    """The field changes ``ticket_update``, macros and bulk updates share."""

    subject: Any = UNSET
    status: Any = UNSET
    priority: Any = UNSET
    kind: Any = UNSET
    queue: Any = UNSET
    assignee: Any = UNSET
    tags: Any = UNSET
    add_tags: Sequence[Any] = field(default_factory=tuple)
    remove_tags: Sequence[Any] = field(default_factory=tuple)
    ccs: Any = UNSET
    custom_fields: Any = UNSET


def _apply(change: Change, changes: _Changes) -> bool:
    """Apply field changes to a locked ticket; status last, so it sees the final queue and priority."""
    ticket = change.ticket
    sla_dirty = False
    if changes.subject is not UNSET:
        subject = (changes.subject or "").strip()[:300]
        if not subject:
            raise ApplicationError("A ticket needs a subject.")
        old = ticket.subject
        if change.set("subject", subject):
            change.changed("subject", old, subject)
    if changes.kind is not UNSET:
        if changes.kind not in Kind.values:
            raise ApplicationError(f"Unknown kind {changes.kind!r}.")
        old = ticket.kind
        if change.set("kind", changes.kind):
            change.changed("kind", old, changes.kind)
    if changes.queue is not UNSET:
        sla_dirty |= _set_queue(change, changes.queue)
    if changes.priority is not UNSET:
        sla_dirty |= set_priority(change, changes.priority)
    if changes.assignee is not UNSET:
        _set_assignee(change, changes.assignee)
    if changes.tags is not UNSET or changes.add_tags or changes.remove_tags:
        _change_tags(
            change,
            tags=None if changes.tags is UNSET else changes.tags,
            add=changes.add_tags,
            remove=changes.remove_tags,
        )
    if changes.ccs is not UNSET:
        _change_ccs(change, changes.ccs)
    if changes.custom_fields is not UNSET:
        _set_custom_fields(change, changes.custom_fields)
    if sla_dirty:
        sla.sla_reapply(change)
    solved = False
    if changes.status is not UNSET and changes.status:
        solved = _set_status(change, changes.status) and changes.status == Status.SOLVED
    return solved


# --- the services -----------------------------------------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    requester: Customer,
    subject: str,
    body: str,
    actor: User | None = None,
    queue: Queue | None = None,
    channel: str = Channel.WEB,
    kind: str = Kind.QUESTION,
    priority: str = Priority.NORMAL,
    assignee: User | None = None,
    tags: Iterable[str] = (),
    ccs: Iterable[Customer] = (),
    custom_fields: dict[str, Any] | None = None,
    attachments: Sequence[Any] = (),
    internal: bool = False,
    status: str | None = None,
    follow_up_of: Ticket | None = None,
) -> Ticket:
    """A new ticket with its first message.

    Written by the customer unless ``actor`` is an agent: then the first message is the agent's (a public
    outbound message, or with ``internal=True`` a note such as a proactive alert's evidence). A customer's
    ticket starts ``new`` and its first-reply clock runs; an agent's public one starts ``pending``, a note ``open``.
    """
    by_agent = actor is not None and is_agent(actor)
    if internal and not by_agent:
        raise ApplicationError("Only agents write internal notes.")
    subject = (subject or "").strip()[:300]
    if not subject:
        raise ApplicationError("A ticket needs a subject.", {"subject": "required"})
    body = _check_body(body, attachments)
    if priority not in Priority.values:
        raise ApplicationError(f"Unknown priority {priority!r}.")
    if kind not in Kind.values:
        raise ApplicationError(f"Unknown kind {kind!r}.")
    if channel not in Channel.values:
        raise ApplicationError(f"Unknown channel {channel!r}.")
    cleaned_fields = {k: v for k, v in _clean_custom_fields(custom_fields or {}).items() if v is not None}
    queue = queue or _default_queue()
    now = timezone.now()
    if assignee is not None and not is_agent(assignee):
        raise ApplicationError(f"{assignee} is not an agent.")
    if assignee is None and queue.assignment_mode == Queue.AssignmentMode.ROUND_ROBIN:
        assignee = queue_next_assignee(queue=queue)
    ticket = Ticket(
        number=_next_number(),
        subject=subject,
        requester=requester,
        organization_id=requester.organization_id,
        queue=queue,
        assignee=assignee,
        status=Status.NEW,
        priority=priority,
        priority_rank=PRIORITY_RANK[Priority(priority)],
        kind=kind,
        channel=channel,
        custom_fields=cleaned_fields,
        created_at=now,
        updated_at=now,
        follow_up_of=follow_up_of,
    )
    change = Change(ticket=ticket, actor=actor if by_agent else requester.user, now=now)
    if not by_agent:
        ticket.last_customer_message_at = now
    sla.sla_start(change, first_reply=not by_agent)
    ticket.save()
    change.fields.clear()
    change.record(
        TicketEvent.Kind.CREATED,
        new={"status": ticket.status, "priority": priority, "queue": queue.slug, "channel": channel, "kind": kind},
    )
    if follow_up_of is not None:
        change.record(TicketEvent.Kind.FOLLOW_UP, field_name="follow_up_of", new=follow_up_of.number)
    if assignee is not None:
        change.changed("assignee", None, assignee)
    message = _add_message(
        change,
        body=body,
        author_user=actor if by_agent else requester.user,
        author_customer=None if by_agent else requester,
        by_agent=by_agent,
        internal=internal,
        channel=channel,
        files=attachments,
    )
    if tags:
        ticket.tags.set(tags_named(tags))
    if ccs:
        ticket.ccs.set([c for c in ccs if c.pk != requester.pk])
    initial = status or (Status.OPEN if by_agent and internal else Status.PENDING if by_agent else None)
    if initial:
        _set_status(change, initial)
    TicketEvent.objects.bulk_create(change.events)
    change.events.clear()
    if change.fields:
        ticket.save(update_fields=sorted(change.fields))
    if by_agent and not internal:
        notify_public_reply(ticket=ticket, message=message, solved=ticket.status == Status.SOLVED)
    return ticket


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
        notify_public_reply(ticket=ticket, message=message, solved=solved)
    elif solved:
        notify_solved(ticket=ticket)
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


def ticket_customer_may_reply(*, ticket: Ticket, customer: Customer) -> bool:
    return _may_reply(ticket, customer)


def _may_reply(ticket: Ticket, customer: Customer) -> bool:
    """The requester, the people in copy, and colleagues where the organization shares its tickets."""
    if customer.pk == ticket.requester_id or ticket.ccs.filter(pk=customer.pk).exists():
        return True
    return bool(
        ticket.organization_id
        and customer.organization_id == ticket.organization_id
        and customer.sees_organization_tickets
    )


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
    """A customer's message. ``pending``/``on_hold``/``solved`` go back to ``open``.

    ``automated`` (an out-of-office or other machine-written reply, RFC 3834) is stored on the ticket but
    changes nothing: no reopening, no SLA clock, no follow-up ticket for a closed one.

    On a closed ticket it opens a new ticket linked to it (``follow_up_of``) and returns that ticket's message;
    on a merged one it lands on the ticket it was merged into.
    """
    customer = customer or ticket.requester
    body = _check_body(body, attachments)
    locked = lock_ticket(ticket, expected_version=expected_version)
    if locked.merged_into_id is not None:
        target = Ticket.objects.get(pk=locked.merged_into_id)
        # a reply follows the merge only onto a ticket its author may see; merged into another customer's
        # ticket, it opens a follow-up of the (closed) source instead of landing in front of that customer
        if not target.is_closed and _may_reply(target, customer):
            return ticket_customer_reply(
                ticket=target, body=body, customer=customer, attachments=attachments, channel=channel,
                automated=automated,
            )  # fmt: skip
    if not _may_reply(locked, customer):
        raise ApplicationError("Only the requester and the people in copy can reply to this ticket.")
    if locked.is_closed and automated:
        raise ApplicationError("A closed ticket takes no automatic replies.")
    if locked.is_closed:
        follow_up = ticket_create(
            requester=customer,
            subject=locked.subject,
            body=body,
            queue=locked.queue if locked.queue.is_active else None,
            channel=channel,
            kind=locked.kind if locked.kind != Kind.PROACTIVE else Kind.QUESTION,
            priority=locked.priority,
            attachments=attachments,
            follow_up_of=locked,
        )
        first = follow_up.messages.order_by("-id").first()
        assert first is not None  # ticket_create wrote the body as its first message
        return first
    change = Change(ticket=locked, actor=customer.user, now=timezone.now())
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
        if locked.status in (Status.PENDING, Status.ON_HOLD, Status.SOLVED):
            _set_status(change, Status.OPEN)
        sla.sla_customer_replied(change)
    change.save()
    return message


@transaction.atomic
def ticket_update(
    *,
    ticket: Ticket,
    actor: User,
    expected_version: int | None = None,
    subject: Any = UNSET,
    status: Any = UNSET,
    priority: Any = UNSET,
    kind: Any = UNSET,
    queue: Any = UNSET,
    assignee: Any = UNSET,
    tags: Any = UNSET,
    add_tags: Sequence[Any] = (),
    remove_tags: Sequence[Any] = (),
    ccs: Any = UNSET,
    custom_fields: Any = UNSET,
) -> Ticket:
    """Change any of the given fields (arguments left out stay as they are), with one audit event per change.

    ``assignee=None`` unassigns; ``tags`` replaces the set, ``add_tags``/``remove_tags`` edit it;
    ``custom_fields`` merges (a None value removes the key). Nothing changed means no new version.
    """
    ensure_agent(actor, "change tickets")
    locked = lock_ticket(ticket, expected_version=expected_version)
    ensure_not_closed(locked)
    change = Change(ticket=locked, actor=actor, now=timezone.now())
    solved = _apply(
        change,
        _Changes(
            subject=subject,
            status=status,
            priority=priority,
            kind=kind,
            queue=queue,
            assignee=assignee,
            tags=tags,
            add_tags=add_tags,
            remove_tags=remove_tags,
            ccs=ccs,
            custom_fields=custom_fields,
        ),
    )
    if solved:
        notify_solved(ticket=locked)
    return change.save()


def ticket_assign(*, ticket: Ticket, assignee: User | None, actor: User, expected_version: int | None = None) -> Ticket:
    """Assign to an agent, or unassign with None."""
    return ticket_update(ticket=ticket, actor=actor, assignee=assignee, expected_version=expected_version)


def ticket_solve(*, ticket: Ticket, actor: User, expected_version: int | None = None) -> Ticket:
    """Solve (the customer is e-mailed); it closes by itself after ``TICKET_AUTOCLOSE_DAYS``."""
    return ticket_update(ticket=ticket, actor=actor, status=Status.SOLVED, expected_version=expected_version)


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


@dataclass
class BulkResult:
    updated: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def tickets_bulk_update(
    *,
    ticket_ids: Sequence[int],
    actor: User,
    status: Any = UNSET,
    priority: Any = UNSET,
    queue: Any = UNSET,
    assignee: Any = UNSET,
    add_tags: Sequence[Any] = (),
    remove_tags: Sequence[Any] = (),
) -> BulkResult:
    """The same change on many tickets (at most 500), each in its own savepoint with its own audit.

    Tickets the actor cannot see are reported as failed, like any ticket a rule refuses.
    """
    from tickets.selectors import tickets_visible_to  # noqa: PLC0415  (selectors import the models only)

    ensure_agent(actor, "change tickets")
    ids = sorted(set(ticket_ids))
    if len(ids) > 500:
        raise ApplicationError("At most 500 tickets at a time.")
    visible = set(tickets_visible_to(viewer=actor).filter(pk__in=ids).values_list("pk", flat=True))
    result = BulkResult()
    changes = _Changes(
        status=status, priority=priority, queue=queue, assignee=assignee, add_tags=add_tags, remove_tags=remove_tags
    )
    with transaction.atomic():
        for pk in ids:
            if pk not in visible:
                result.failed[pk] = "not found"
                continue
            try:
                with transaction.atomic():
                    locked = lock_ticket(pk)
                    ensure_not_closed(locked)
                    change = Change(ticket=locked, actor=actor, now=timezone.now())
                    if _apply(change, changes):
                        notify_solved(ticket=locked)
                    change.save()
            except ApplicationError as exc:
                result.failed[pk] = exc.message
            else:
                result.updated.append(pk)
    return result


def tickets_autoclose(*, now: dt.datetime | None = None, batch_size: int = 1000) -> int:
    """Beat job: close tickets solved more than ``TICKET_AUTOCLOSE_DAYS`` ago. Set-based, in batches.

    Rows another transaction holds are skipped (``skip_locked``) and closed on the next run.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=conf("TICKET_AUTOCLOSE_DAYS"))
    closed = 0
    while True:
        with transaction.atomic():
            ids = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(status=Status.SOLVED, solved_at__lte=cutoff)
                .order_by("solved_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return closed
            Ticket.objects.filter(pk__in=ids, status=Status.SOLVED).update(
                status=Status.CLOSED,
                closed_at=now,
                updated_at=now,
                version=F("version") + 1,
                first_reply_due_at=None,
                next_reply_due_at=None,
                resolution_due_at=None,
                next_sla_due_at=None,
                sla_scan_at=None,
                sla_paused_at=None,
                sla_paused_remaining={},
            )
            TicketEvent.objects.bulk_create(
                [
                    TicketEvent(
                        ticket_id=pk,
                        kind=TicketEvent.Kind.AUTO_CLOSED,
                        field="status",
                        old_value=Status.SOLVED.value,
                        new_value=Status.CLOSED.value,
                        created_at=now,
                    )
                    for pk in ids
                ]
            )
            closed += len(ids)
