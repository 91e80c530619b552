"""The non-intrusive rules that outreach applies at planning time, set-based over one slice of customers.

Opt-outs and quiet hours are the delivery ledger's (``customers.services.deliveries_planning``);
here: the frequency cap and the open-ticket suppression. Each is one grouped query
for the whole slice, never a query per customer.
"""

import datetime as dt
from collections.abc import Sequence

from django.db.models import Count
from django.utils import timezone

from core.conf import helpdesk_setting
from customers.models import Category, Delivery
from customers.services import DeliveryDraft
from tickets.models import UNSOLVED_STATUSES, Ticket

#: the proactive categories the frequency cap counts and holds back (outage and service are exempt)
CAPPED_CATEGORIES = frozenset(
    {Category.MAINTENANCE, Category.REMINDER, Category.FOLLOW_UP, Category.ONBOARDING, Category.ANNOUNCEMENT}
)
#: categories held (``held`` Delivery rows) while the customer has an open ticket, and sent once the last one
#: is solved (``held_deliveries_release``); outage and service mail are never held
HELD_WHILE_TICKET_OPEN = frozenset({Category.ANNOUNCEMENT, Category.ONBOARDING})
#: what an expired hold says on the row
HOLD_EXPIRED_REASON = "open ticket: not sent, a ticket was still open when the message expired"


def draft_hold_reason(until: dt.datetime) -> str:
    """What the row says while held: what will really happen, and until when."""
    return f"open ticket: held, sent once the customer's open tickets are solved (until {until:%Y-%m-%d %H:%M} UTC)"


def deliveries_recent_counts(customer_ids: Sequence[int], *, now: dt.datetime | None = None) -> dict[int, int]:
    """Capped-category messages per customer over the cap's window: one grouped query for the slice.

    Uses the ``(customer, -created_at)`` index of Delivery.
    """
    now = now or timezone.now()
    since = now - dt.timedelta(days=helpdesk_setting("OUTREACH_FREQUENCY_CAP_DAYS"))
    counts: dict[int, int] = {}
    ids = list(customer_ids)
    for start in range(0, len(ids), 2000):
        rows = (
            Delivery.objects.filter(
                customer_id__in=ids[start : start + 2000],
                created_at__gte=since,
                category__in=CAPPED_CATEGORIES,
                status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING, Delivery.Status.SENT],
            )
            .values("customer_id")
            .annotate(n=Count("id"))
            .values_list("customer_id", "n")
        )
        counts.update(dict(rows))
    return counts


def customers_with_open_tickets(customer_ids: Sequence[int]) -> set[int]:
    if not customer_ids:
        return set()
    found: set[int] = set()
    ids = list(customer_ids)
    for start in range(0, len(ids), 2000):
        found.update(
            Ticket.objects.filter(requester_id__in=ids[start : start + 2000], status__in=UNSOLVED_STATUSES)
            .values_list("requester_id", flat=True)
            .distinct()
        )
    return found


def drafts_apply_rules(drafts: list[DeliveryDraft], *, now: dt.datetime | None = None) -> list[DeliveryDraft]:
    """Mark drafts an open ticket holds (``draft_hold_reason``, until the draft's ``hold_until`` or
    ``OUTREACH_HOLD_DAYS``) or the frequency cap suppresses (``suppress_reason``); returns them."""
    capped = [d for d in drafts if d.category in CAPPED_CATEGORIES and d.customer is not None]
    if not capped:
        return drafts
    ids = sorted({d.customer.pk for d in capped if d.customer is not None})
    counts = deliveries_recent_counts(ids, now=now)
    held = {d.category for d in capped} & HELD_WHILE_TICKET_OPEN
    open_ticket = customers_with_open_tickets(ids) if held else set()
    cap = helpdesk_setting("OUTREACH_FREQUENCY_CAP")
    days = helpdesk_setting("OUTREACH_FREQUENCY_CAP_DAYS")
    now = now or timezone.now()
    default_until = now + dt.timedelta(days=helpdesk_setting("OUTREACH_HOLD_DAYS"))
    for draft in capped:
        cid = draft.customer.pk  # type: ignore[union-attr]
        if draft.category in HELD_WHILE_TICKET_OPEN and cid in open_ticket:
            draft.hold_until = draft.hold_until or default_until
            draft.hold_reason = draft_hold_reason(draft.hold_until)
        elif counts.get(cid, 0) >= cap:
            draft.suppress_reason = f"frequency cap: {cap} messages in {days} days"
        else:
            counts[cid] = counts.get(cid, 0) + 1
    return drafts
