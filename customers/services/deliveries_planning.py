"""The outbox, planning: every outbound message is a ``Delivery`` row first.

``delivery_plan``/``deliveries_plan`` write rows in the caller's transaction (applying the customer's contact
preferences: opt-outs, quiet hours) and enqueue their ids on commit; ``deliveries_sending`` sends them.
Delivery is at-least-once: see README "How delivery works".
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.conf import helpdesk_setting
from customers.models import ESSENTIAL_CATEGORIES, Category, ContactPreference, Customer, Delivery
from customers.services.deliveries_pg import deliveries_insert_new

TRANSACTIONAL_QUEUE = "transactional"
BULK_QUEUE = "bulk"


@dataclass
class DeliveryDraft:
    """One message to plan with ``deliveries_plan``."""

    key: str
    category: str
    subject: str
    body: str
    customer: Customer | None = None
    recipient: str = ""
    channel: str = Delivery.Channel.EMAIL
    html_body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    source: str = ""
    send_after: dt.datetime | None = None
    #: plan the row as ``suppressed`` with this reason (a caller's rule: frequency cap, open ticket, ...);
    #: ignored for essential categories, and an opt-out's reason wins
    suppress_reason: str = ""
    #: plan the row as ``held`` with this reason until ``hold_until`` (the caller releases it, see
    #: ``customers.services.holds``); ignored for essential categories, and an opt-out or a suppression wins
    hold_reason: str = ""
    hold_until: dt.datetime | None = None


def contact_preference_quiet_hours_end(
    preference: ContactPreference | None, zone: Any, now: dt.datetime
) -> dt.datetime | None:
    """When the customer's quiet hours end, if ``now`` falls inside them; else None.

    Quiet hours are wall-clock times in the customer's zone and may span midnight (22:00-07:00).
    """
    if preference is None or preference.quiet_hours_start is None or preference.quiet_hours_end is None:
        return None
    start, end = preference.quiet_hours_start, preference.quiet_hours_end
    if start == end:
        return None
    local = now.astimezone(zone)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_date = local.date() if t < end else local.date() + dt.timedelta(days=1)
    # a wall-clock time in a zone: fold=0 picks the first of an ambiguous hour; a skipped hour is normalised by UTC
    return dt.datetime.combine(end_date, end, tzinfo=zone).astimezone(dt.UTC)


def _policy(
    *, category: str, preference: ContactPreference | None, zone: Any, now: dt.datetime
) -> tuple[str, str, dt.datetime | None]:
    """(status, suppressed_reason, hold_until) for a new row, by the customer's contact preferences."""
    if category in ESSENTIAL_CATEGORIES or preference is None:
        return Delivery.Status.QUEUED, "", None
    if category in (preference.opted_out or []):
        return Delivery.Status.SUPPRESSED, f"opted out of {Category(category).label.lower()}", None
    return Delivery.Status.QUEUED, "", contact_preference_quiet_hours_end(preference, zone, now)


def _row(draft: DeliveryDraft, preference: ContactPreference | None, now: dt.datetime) -> Delivery:
    customer = draft.customer
    zone = customer.zone if customer is not None else dt.UTC
    status, reason, hold_until = _policy(category=draft.category, preference=preference, zone=zone, now=now)
    if draft.suppress_reason and status == Delivery.Status.QUEUED and draft.category not in ESSENTIAL_CATEGORIES:
        status, reason = Delivery.Status.SUPPRESSED, draft.suppress_reason[:200]
    next_attempt_at = max(filter(None, [now, draft.send_after, hold_until]))
    if draft.hold_reason and status == Delivery.Status.QUEUED and draft.category not in ESSENTIAL_CATEGORIES:
        # a held row's next_attempt_at is the hold's end (the release job sets it to now when it lets go)
        status, reason = Delivery.Status.HELD, draft.hold_reason[:200]
        next_attempt_at = draft.hold_until or now
    recipient = draft.recipient or (customer.email if customer is not None else "")
    if not recipient and draft.channel == Delivery.Channel.EMAIL:
        raise ValueError("an e-mail delivery needs a recipient or a customer")
    return Delivery(
        idempotency_key=draft.key,
        customer=customer,
        recipient=recipient,
        channel=draft.channel,
        category=draft.category,
        subject=draft.subject[:300],
        body=draft.body,
        html_body=draft.html_body,
        headers=draft.headers,
        source=draft.source,
        status=status,
        suppressed_reason=reason,
        next_attempt_at=next_attempt_at,
        created_at=now,
    )


def delivery_queue_for(category: str) -> str:
    return TRANSACTIONAL_QUEUE if category == Category.SERVICE else BULK_QUEUE


def deliveries_enqueue(ids_by_queue: dict[str, list[int]], countdown: float | None = None) -> None:
    """Send these rows when the caller's transaction commits, in chunks of ``DELIVERY_CHUNK_SIZE`` per task.

    The one way any app hands delivery ids to the worker (``customers.tasks`` is this app's own): a task
    published before the commit could run before its rows exist. ``ids_by_queue`` maps a queue
    (``delivery_queue_for``) to its ids; ``countdown`` delays the tasks (retries), and must stay below the
    broker's visibility timeout (longer waits are the sweeper's).
    """
    from customers.tasks import send_deliveries  # noqa: PLC0415  (tasks import services)

    chunk = helpdesk_setting("DELIVERY_CHUNK_SIZE")
    for queue, ids in ids_by_queue.items():
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            transaction.on_commit(
                lambda part=part, queue=queue: send_deliveries.apply_async(  # type: ignore[misc]
                    args=[part], queue=queue, countdown=countdown
                )
            )


def delivery_plan(
    *,
    key: str,
    category: str,
    subject: str,
    body: str,
    customer: Customer | None = None,
    recipient: str = "",
    channel: str = Delivery.Channel.EMAIL,
    html_body: str = "",
    headers: dict[str, str] | None = None,
    source: str = "",
    send_after: dt.datetime | None = None,
) -> Delivery:
    """Plan one message. The same ``key`` twice gives one row and one message.

    Runs in the caller's transaction; the send is enqueued when it commits.
    """
    draft = DeliveryDraft(
        key=key,
        category=category,
        subject=subject,
        body=body,
        customer=customer,
        recipient=recipient,
        channel=channel,
        html_body=html_body,
        headers=headers or {},
        source=source,
        send_after=send_after,
    )
    now = timezone.now()
    preference = ContactPreference.objects.filter(customer=customer).first() if customer is not None else None
    row = _row(draft, preference, now)
    with transaction.atomic():
        delivery, created = Delivery.objects.get_or_create(
            idempotency_key=key,
            defaults={f.attname: getattr(row, f.attname) for f in Delivery._meta.concrete_fields if f.attname != "id"},
        )
        if created and delivery.status == Delivery.Status.QUEUED and delivery.next_attempt_at <= now:
            deliveries_enqueue({delivery_queue_for(category): [delivery.pk]})
    return delivery


def deliveries_plan(*, drafts: Sequence[DeliveryDraft]) -> list[int]:
    """Plan many messages with a few bulk inserts; returns the ids of the rows queued for sending now.

    Idempotent like ``delivery_plan``: drafts whose key exists already are skipped. Contact
    preferences are read in one query per batch.
    """
    if not drafts:
        return []
    now = timezone.now()
    customer_ids = {d.customer.pk for d in drafts if d.customer is not None}
    preferences: dict[int, ContactPreference] = {}
    for start in range(0, len(customer_ids), 900):
        part = list(customer_ids)[start : start + 900]
        preferences.update({p.customer_id: p for p in ContactPreference.objects.filter(customer_id__in=part)})
    rows = [_row(d, preferences.get(d.customer.pk) if d.customer else None, now) for d in drafts]
    queued: dict[str, list[int]] = defaultdict(list)
    with transaction.atomic():
        for pk, category, status, next_attempt_at in deliveries_insert_new(rows, now):
            if status == Delivery.Status.QUEUED and next_attempt_at <= now:
                queued[delivery_queue_for(category)].append(pk)
        for ids in queued.values():
            ids.sort()
        deliveries_enqueue(queued)
    return [pk for ids in queued.values() for pk in ids]
