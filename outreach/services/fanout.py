"""Planning a notice or campaign for many customers in keyset slices.

``fanout_plan_slice`` selects the next slice of customer ids after ``cursor``
(one indexed range query), renders the messages, applies the rules, hands the
drafts to ``deliveries_plan`` (which writes the Delivery rows and enqueues chunked
sends on commit) and enqueues itself for the next slice. The Fanout row is
locked and its cursor compared, so a slice delivered twice plans nothing twice;
the Delivery idempotency keys make even a replayed slice harmless.
``fanouts_resume`` (beat) restarts a chain whose next task was lost.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.conf import helpdesk_setting
from customers.models import Customer
from customers.services import DeliveryDraft, deliveries_plan
from outreach.models import Fanout
from outreach.services.rendering import CompiledMessage, message_context, unsubscribe_headers
from outreach.services.rules import drafts_apply_rules

logger = logging.getLogger(__name__)


class Planner(Protocol):
    def active(self) -> bool: ...

    def audience(self) -> QuerySet[Customer]: ...

    def drafts(self, customers: Sequence[Customer], *, position: int, now: dt.datetime) -> list[DeliveryDraft]: ...

    def finished(self) -> None: ...


def _planner(kind: str, object_id: int) -> Planner | None:
    from outreach.services.campaigns import CampaignPlanner  # noqa: PLC0415  (they import this module)
    from outreach.services.incidents import IncidentUpdatePlanner  # noqa: PLC0415

    if kind == Fanout.Kind.INCIDENT_UPDATE:
        return IncidentUpdatePlanner.load(object_id)
    if kind == Fanout.Kind.CAMPAIGN:
        return CampaignPlanner.load(object_id)
    raise ValueError(f"unknown fan-out kind {kind!r}")


def draft_build(
    *,
    customer: Customer,
    message: CompiledMessage,
    category: str,
    key: str,
    source: str,
    extra: dict[str, Any] | None = None,
    send_after: dt.datetime | None = None,
    hold_until: dt.datetime | None = None,
) -> DeliveryDraft:
    """One customer's e-mail: rendered, with the unsubscribe footer and headers on non-essential mail."""
    context = message_context(customer, category=category, extra=extra)
    rendered = message.render(context)
    body, html = rendered.body, rendered.html_body
    if context["unsubscribe_url"]:
        url = context["unsubscribe_url"]
        body = f"{body.rstrip()}\n\n--\nUnsubscribe from these e-mails: {url}\n"
        html = f'{html}\n<p style="font-size:small">--<br><a href="{url}">Unsubscribe from these e-mails</a></p>'
    return DeliveryDraft(
        key=key,
        category=category,
        subject=rendered.subject,
        body=body,
        html_body=html,
        customer=customer,
        headers=unsubscribe_headers(customer_id=customer.pk, category=category),
        source=source,
        send_after=send_after,
        hold_until=hold_until,
    )


def _enqueue_slice(kind: str, object_id: int, cursor: int) -> None:
    from outreach.tasks import plan_fanout  # noqa: PLC0415  (tasks import services)

    transaction.on_commit(lambda: plan_fanout.apply_async(args=[kind, object_id, cursor], queue="default"))


@transaction.atomic
def fanout_start(*, kind: str, object_id: int) -> Fanout:
    """Create the fan-out of one notice or campaign and enqueue its first slice on commit. Idempotent."""
    fanout, created = Fanout.objects.get_or_create(kind=kind, object_id=object_id)
    if created:
        _enqueue_slice(kind, object_id, 0)
    return fanout


@transaction.atomic
def fanout_plan_slice(*, kind: str, object_id: int, after_customer_id: int) -> int | None:
    """Plan the next slice after ``after_customer_id``; returns how many customers, or None if not this task's turn."""
    fanout = Fanout.objects.select_for_update().filter(kind=kind, object_id=object_id).first()
    if fanout is None or fanout.done or fanout.cursor != after_customer_id:
        return None  # a duplicate or stale task: the chain has moved on
    now = timezone.now()
    planner = _planner(kind, object_id)
    if planner is None or not planner.active():
        fanout.done, fanout.cancelled, fanout.finished_at, fanout.updated_at = True, True, now, now
        fanout.save(update_fields=["done", "cancelled", "finished_at", "updated_at"])
        return 0
    size = helpdesk_setting("OUTREACH_FANOUT_SLICE")
    customers = list(
        planner.audience().filter(pk__gt=after_customer_id).select_related("organization").order_by("pk")[:size]
    )
    if customers:
        drafts = drafts_apply_rules(planner.drafts(customers, position=fanout.planned, now=now), now=now)
        deliveries_plan(drafts=drafts)
        fanout.cursor = customers[-1].pk
        fanout.planned += len(customers)
    fanout.updated_at = now
    if len(customers) < size:
        fanout.done, fanout.finished_at = True, now
        planner.finished()
    else:
        _enqueue_slice(kind, object_id, fanout.cursor)
    fanout.save(update_fields=["cursor", "planned", "done", "finished_at", "updated_at"])
    return len(customers)


def fanouts_resume() -> int:
    """Beat job: re-enqueue the next slice of fan-outs that made no progress for a while (their task was lost)."""
    cutoff = timezone.now() - dt.timedelta(seconds=helpdesk_setting("OUTREACH_FANOUT_STALL_SECONDS"))
    stalled = list(
        Fanout.objects.filter(done=False, updated_at__lt=cutoff).values_list("pk", "kind", "object_id", "cursor")[:500]
    )
    with transaction.atomic():
        Fanout.objects.filter(pk__in=[row[0] for row in stalled], done=False).update(updated_at=timezone.now())
        for _, kind, object_id, cursor in stalled:
            _enqueue_slice(kind, object_id, cursor)
    if stalled:
        logger.info("outreach: resumed %d stalled fan-outs", len(stalled))
    return len(stalled)
