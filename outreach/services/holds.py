"""Announcements held while the customer has an open ticket: sent once their last open ticket is solved.

``held_deliveries_release`` (beat, every minute) is set-based: one query over the partial index of held
rows, anti-joined with the open tickets, picks the rows whose customer has none left; the outbox releases
them (``customers.services.deliveries_release``). Rows whose hold ended (the campaign's ``hold_days``, or
``OUTREACH_HOLD_DAYS``) become ``suppressed`` with a reason saying they were not sent.
"""

import datetime as dt

from django.utils import timezone

from customers.models import Delivery
from customers.services import deliveries_expire_held, deliveries_release
from outreach.services.rules import HOLD_EXPIRED_REASON
from tickets.selectors import ticket_open_requester_ids

#: rows released per run (a chunked send each); the rest go a minute later
RELEASE_BATCH = 5000


def held_deliveries_release(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat job: release held rows whose customer has no open ticket left; expire those whose hold ended."""
    now = now or timezone.now()
    expired = deliveries_expire_held(reason=HOLD_EXPIRED_REASON, now=now)
    held = Delivery.objects.filter(status=Delivery.Status.HELD, next_attempt_at__gt=now)
    held = held.exclude(customer_id__in=ticket_open_requester_ids())
    ids = list(held.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:RELEASE_BATCH])
    released = deliveries_release(delivery_ids=ids, now=now) if ids else 0
    return {"released": released, "expired": expired}
