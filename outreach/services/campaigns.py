"""Campaigns: a template, a segment and a schedule, released at a throttle; cancel stops what has not gone."""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from customers.models import Customer, Delivery
from customers.services import DeliveryDraft, deliveries_enqueue, delivery_queue_for
from outreach.models import Campaign, Fanout, Segment, Template
from outreach.selectors import campaign_summary, segment_customers
from outreach.services.fanout import draft_build, fanout_start
from outreach.services.rendering import CompiledMessage

#: the beat runs ``campaigns_run`` every 20 s; a row due within this window is released by it
RELEASE_WINDOW_SECONDS = 30


def campaign_local_send_time(*, customer: Customer, day: dt.date, hour: int, now: dt.datetime) -> dt.datetime:
    """``hour`` o'clock on ``day`` in the customer's zone, in UTC; the next day's if that has passed.

    A wall-clock time skipped by a DST change is normalised forward; an ambiguous one takes its first occurrence.
    """
    zone = customer.zone
    for offset in range(3):
        local = dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(hour), tzinfo=zone)
        at = local.astimezone(dt.UTC)
        if at >= now - dt.timedelta(minutes=1):
            return at
    return now


class CampaignPlanner:
    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        template = campaign.template
        self.message = CompiledMessage(subject=template.subject, body=template.body)

    @classmethod
    def load(cls, campaign_id: int) -> "CampaignPlanner | None":
        campaign = Campaign.objects.select_related("template", "segment").filter(pk=campaign_id).first()
        return cls(campaign) if campaign is not None else None

    def active(self) -> bool:
        return self.campaign.status == Campaign.Status.SENDING

    def audience(self) -> QuerySet[Customer]:
        return segment_customers(segment=self.campaign.segment)

    def drafts(self, customers: Sequence[Customer], *, position: int, now: dt.datetime) -> list[DeliveryDraft]:
        campaign = self.campaign
        base = campaign.started_at or now
        rate = max(campaign.throttle_per_minute, 1)
        drafts = []
        for index, customer in enumerate(customers, start=position):
            start = base
            if campaign.schedule == Campaign.Schedule.LOCAL_HOUR and campaign.local_hour is not None:
                day = (campaign.send_at or now).date()
                start = campaign_local_send_time(customer=customer, day=day, hour=campaign.local_hour, now=now)
            send_after = start + dt.timedelta(minutes=index // rate)
            drafts.append(
                draft_build(
                    customer=customer,
                    message=self.message,
                    category=campaign.template.category,
                    key=f"campaign:{campaign.pk}:customer:{customer.pk}",
                    source=campaign.source,
                    send_after=send_after if send_after > now else None,
                    hold_until=campaign.hold_ends_at,
                )
            )
        return drafts

    def finished(self) -> None:
        pass


def _validate(schedule: str, send_at: dt.datetime | None, local_hour: int | None, throttle: int) -> None:
    errors: dict[str, str] = {}
    if schedule not in Campaign.Schedule.values:
        errors["schedule"] = "Unknown schedule."
    if schedule in (Campaign.Schedule.AT, Campaign.Schedule.LOCAL_HOUR) and send_at is None:
        errors["send_at"] = "Give the time (or, for a local hour, the day)."
    if schedule == Campaign.Schedule.LOCAL_HOUR and (local_hour is None or not 0 <= local_hour <= 23):
        errors["local_hour"] = "Give an hour from 0 to 23."
    if throttle < 1:
        errors["throttle_per_minute"] = "At least 1 message a minute."
    if errors:
        raise ApplicationError("The campaign cannot be saved.", errors)


@transaction.atomic
def campaign_create(
    *,
    name: str,
    template: Template,
    segment: Segment,
    schedule: str = Campaign.Schedule.NOW,
    send_at: dt.datetime | None = None,
    local_hour: int | None = None,
    throttle_per_minute: int = 1000,
    hold_days: int = 14,
    actor: User | None = None,
) -> Campaign:
    """A draft campaign; nothing is sent before ``campaign_schedule``."""
    if not 0 <= hold_days <= 90:
        raise ApplicationError("The campaign cannot be saved.", {"hold_days": "From 0 to 90 days."})
    _validate(schedule, send_at, local_hour, throttle_per_minute)
    return Campaign.objects.create(
        name=name,
        template=template,
        segment=segment,
        schedule=schedule,
        send_at=send_at,
        local_hour=local_hour,
        throttle_per_minute=throttle_per_minute,
        hold_days=hold_days,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def _start(campaign: Campaign, now: dt.datetime) -> None:
    campaign.status = Campaign.Status.SENDING
    campaign.started_at = now
    campaign.save(update_fields=["status", "started_at"])
    fanout_start(kind=Fanout.Kind.CAMPAIGN, object_id=campaign.pk)


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, actor: User | None = None) -> Campaign:
    """Send now, at ``send_at`` (beat starts it), or at the local hour (planned now, each row held until its hour)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise ApplicationError("Only a draft campaign can be scheduled.", {"status": campaign.status})
    _validate(campaign.schedule, campaign.send_at, campaign.local_hour, campaign.throttle_per_minute)
    now = timezone.now()
    if campaign.schedule == Campaign.Schedule.AT and campaign.send_at and campaign.send_at > now:
        campaign.status = Campaign.Status.SCHEDULED
        campaign.save(update_fields=["status"])
    else:
        _start(campaign, now)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: User | None = None) -> int:
    """Stop the campaign: nothing more is planned and rows not sent yet are suppressed. Returns how many."""
    fanout = Fanout.objects.select_for_update().filter(kind=Fanout.Kind.CAMPAIGN, object_id=campaign.pk).first()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    summary = campaign_summary(campaign=campaign)
    if not summary["can_cancel"]:
        raise ApplicationError(
            f"A {summary['state']} campaign cannot be cancelled: nothing is left to stop.", {"status": summary["state"]}
        )
    now = timezone.now()
    if fanout is not None and not fanout.done:
        fanout.done, fanout.cancelled, fanout.finished_at, fanout.updated_at = True, True, now, now
        fanout.save(update_fields=["done", "cancelled", "finished_at", "updated_at"])
    stopped = Delivery.objects.filter(
        source=campaign.source, status__in=[Delivery.Status.QUEUED, Delivery.Status.HELD]
    ).update(status=Delivery.Status.SUPPRESSED, suppressed_reason="campaign cancelled")
    campaign.status = Campaign.Status.CANCELLED
    campaign.cancelled_at = now
    campaign.save(update_fields=["status", "cancelled_at"])
    return stopped


def _release_due(campaign: Campaign, now: dt.datetime) -> int:
    """Enqueue the campaign's rows whose throttle minute has come (the sweeper would too, a little later)."""
    rows = list(
        Delivery.objects.filter(
            source=campaign.source,
            status=Delivery.Status.QUEUED,
            # held rows that came due since about the last run; earlier ones are the sweeper's
            next_attempt_at__lte=now,
            next_attempt_at__gt=now - dt.timedelta(seconds=RELEASE_WINDOW_SECONDS),
        )
        .filter(next_attempt_at__gt=F("created_at"))
        .order_by("pk")
        .values_list("pk", "category")[:50_000]
    )
    by_queue: dict[str, list[int]] = defaultdict(list)
    for pk, category in rows:
        by_queue[delivery_queue_for(category)].append(pk)
    deliveries_enqueue(by_queue)
    return len(rows)


def campaigns_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat job: start campaigns whose time has come, release throttled rows, mark finished ones sent."""
    now = now or timezone.now()
    started = released = finished = 0
    for pk in list(
        Campaign.objects.filter(status=Campaign.Status.SCHEDULED, send_at__lte=now).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().get(pk=pk)
            if campaign.status == Campaign.Status.SCHEDULED:
                _start(campaign, now)
                started += 1
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING):
        with transaction.atomic():
            released += _release_due(campaign, now)
            fanout = Fanout.objects.filter(kind=Fanout.Kind.CAMPAIGN, object_id=campaign.pk).first()
            pending = Delivery.objects.filter(
                source=campaign.source, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
            ).exists()
            if fanout is not None and fanout.done and not pending:
                updated = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
                    status=Campaign.Status.SENT, finished_at=now
                )
                finished += updated
    return {"started": started, "released": released, "finished": finished}
