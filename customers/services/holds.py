"""Held deliveries: rows planned as ``held`` wait for their owner's condition, then go out or expire.

The outbox does not know why a row is held (outreach holds announcements while the customer has an
open ticket); the owner's beat job picks the rows whose condition has cleared and calls
``deliveries_release``, and ``deliveries_expire_held`` turns rows whose hold ended into ``suppressed``
with a reason saying so. Both are conditional updates (``status='held'``), so two runs never release
or expire a row twice, and a released row is sent like any queued one (preferences checked at send time).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from customers.models import Delivery
from customers.services.deliveries_planning import deliveries_enqueue, delivery_queue_for


@transaction.atomic
def deliveries_release(*, delivery_ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """Held rows among ``delivery_ids`` whose hold has not expired become ``queued`` and are enqueued on commit."""
    now = now or timezone.now()
    rows = list(
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(pk__in=list(delivery_ids), status=Delivery.Status.HELD, next_attempt_at__gt=now)
        .values_list("pk", "category")
    )
    if not rows:
        return 0
    Delivery.objects.filter(pk__in=[pk for pk, _ in rows], status=Delivery.Status.HELD).update(
        status=Delivery.Status.QUEUED, next_attempt_at=now, suppressed_reason="", updated_at=now
    )
    by_queue: dict[str, list[int]] = defaultdict(list)
    for pk, category in sorted(rows):
        by_queue[delivery_queue_for(category)].append(pk)
    deliveries_enqueue(by_queue)
    return len(rows)


def deliveries_expire_held(*, reason: str, now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Held rows whose hold ended (``next_attempt_at <= now``) become ``suppressed`` with ``reason``."""
    now = now or timezone.now()
    ids = list(
        Delivery.objects.filter(status=Delivery.Status.HELD, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    return Delivery.objects.filter(pk__in=ids, status=Delivery.Status.HELD).update(
        status=Delivery.Status.SUPPRESSED, suppressed_reason=reason[:200], updated_at=now
    )
