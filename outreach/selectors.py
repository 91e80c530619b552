"""Reads of the outreach app: audiences, lists and the figures the pages show."""

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core.conf import helpdesk_setting
from core.pagination import Page, keyset_page
from customers.models import Customer, Delivery, Organization
from customers.selectors import delivery_counts
from outreach.models import (
    Campaign,
    Fanout,
    FollowUp,
    Incident,
    IncidentTicket,
    IncidentUpdate,
    ReminderRule,
    Segment,
    Template,
)
from tickets.models import UNSOLVED_STATUSES, Ticket
from tickets.selectors import ticket_open_requester_ids

# --- audiences ---------------------------------------------------------------------------


def segment_customers(*, segment: Segment) -> QuerySet[Customer]:
    """The customers a segment matches, as one query of subqueries (no joins that need DISTINCT)."""
    qs = Customer.objects.all()
    org_filter = Q()
    if segment.plans:
        org_filter &= Q(plan__in=segment.plans)
    if segment.regions:
        org_filter &= Q(region__in=segment.regions)
    product_ids = [p.pk for p in segment.products.all()] if segment.pk else []
    if product_ids:
        org_filter &= Q(
            pk__in=Organization.products.through.objects.filter(product_id__in=product_ids).values("organization_id")
        )
    if org_filter:
        qs = qs.filter(organization_id__in=Organization.objects.filter(org_filter).values("pk"))
    tag_ids = [t.pk for t in segment.tags.all()] if segment.pk else []
    if tag_ids:
        qs = qs.filter(pk__in=Customer.tags.through.objects.filter(tag_id__in=tag_ids).values("customer_id"))
    if segment.created_after:
        qs = qs.filter(created_at__gte=segment.created_after)
    if segment.created_before:
        qs = qs.filter(created_at__lt=segment.created_before)
    if segment.last_seen_after:
        qs = qs.filter(last_seen_at__gte=segment.last_seen_after)
    if segment.last_seen_before:
        qs = qs.filter(last_seen_at__lt=segment.last_seen_before)
    if segment.health_below is not None:
        # playbooks keeps the scores (``Customer.health``, its reverse relation; no import of playbooks):
        # a customer without a row scores 100 and is never below
        qs = qs.filter(health__score__lt=segment.health_below)
    if segment.open_tickets:
        requesters = ticket_open_requester_ids()
        if segment.open_tickets == Segment.OpenTickets.YES:
            qs = qs.filter(pk__in=requesters)
        else:
            qs = qs.exclude(pk__in=requesters)
    return qs


def queryset_count_capped(qs: QuerySet[Any], cap: int | None = None) -> tuple[int, bool]:
    """(count, capped): counts at most ``cap + 1`` rows, so it stays cheap on any table."""
    cap = cap or helpdesk_setting("OUTREACH_SEGMENT_COUNT_CAP")
    n = qs.order_by().values("pk")[: cap + 1].count()
    return min(n, cap), n > cap


def segment_preview(*, segment: Segment, sample_size: int = 10) -> dict[str, Any]:
    qs = segment_customers(segment=segment)
    count, capped = queryset_count_capped(qs)
    sample = list(qs.select_related("organization").order_by("pk")[:sample_size])
    return {"count": count, "capped": capped, "label": f"{count:,}+" if capped else f"{count:,}", "sample": sample}


def incident_organizations(*, incident: Incident) -> QuerySet[Organization]:
    """Organizations an incident affects: any of its products, regions or organizations."""
    condition = Q(pk__in=incident.organizations.values("pk"))
    if incident.regions:
        condition |= Q(region__in=incident.regions)
    condition |= Q(
        pk__in=Organization.products.through.objects.filter(product_id__in=incident.products.values("pk")).values(
            "organization_id"
        )
    )
    return Organization.objects.filter(condition)


def incident_customers(*, incident: Incident) -> QuerySet[Customer]:
    return Customer.objects.filter(organization_id__in=incident_organizations(incident=incident).values("pk"))


# --- templates, segments, campaigns, incidents -------------------------------------------


def template_list() -> QuerySet[Template]:
    return Template.objects.order_by("name")


def template_get(*, template_id: int) -> Template:
    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        raise Http404("No such template.")
    return template


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.prefetch_related("products", "tags").order_by("name")


def segment_get(*, segment_id: int) -> Segment:
    segment = Segment.objects.prefetch_related("products", "tags").filter(pk=segment_id).first()
    if segment is None:
        raise Http404("No such segment.")
    return segment


def campaign_list(*, cursor: str | None = None, size: int = 50, status: str = "") -> Page:
    qs = Campaign.objects.select_related("template", "segment")
    if status:
        qs = qs.filter(status=status)
    return keyset_page(qs, ordering=["-created_at", "-id"], cursor=cursor, size=size)


def campaign_get(*, campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_related("template", "segment").filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _fanout_planned(kind: str, object_ids: list[int]) -> tuple[int, bool]:
    rows = Fanout.objects.filter(kind=kind, object_id__in=object_ids).values_list("planned", "done")
    planned = sum(p for p, _ in rows)
    done = bool(rows) and all(d for _, d in rows)
    return planned, done


def delivery_progress(*, counts: dict[str, int], planned: int, planning_done: bool) -> dict[str, Any]:
    """Counts and the bar's percent. Held rows wait for a ticket to be solved: they are shown, not waited for."""
    counts = {**dict.fromkeys(Delivery.Status.values, 0), **counts}
    finished = counts["sent"] + counts["failed"] + counts["suppressed"]
    total = max(planned, sum(counts.values()))
    sendable = total - counts["held"]
    percent = (100 if planning_done else 0) if sendable <= 0 else int(finished * 100 / sendable)
    return {**counts, "planned": planned, "planning_done": planning_done, "total": total, "percent": percent}


#: what the page and the API call each derived state
CAMPAIGN_STATE_LABELS = {
    Campaign.Status.DRAFT: "Draft",
    Campaign.Status.SCHEDULED: "Scheduled",
    Campaign.Status.SENDING: "Sending",
    Campaign.Status.SENT: "Sent",
    Campaign.Status.CANCELLED: "Cancelled",
}


def campaign_summaries(*, campaigns: list[Campaign]) -> dict[int, dict[str, Any]]:
    """The one source of truth for what a campaign is doing, for many campaigns in two grouped queries.

    The state is derived from the rows, not from the stored status (which the beat moves to ``sent`` up
    to 20 s after the last row went): a campaign is sending while it is being planned or a row is queued
    or in flight; after that it is sent (held rows wait for tickets and are counted apart). The audience
    is the number planned once planning started (what was really addressed), the segment's live count
    before. Cancel is offered while something can still be stopped (a row not sent yet, held ones included).
    """
    if not campaigns:
        return {}
    sources = {c.source: c.pk for c in campaigns}
    counts: dict[int, dict[str, int]] = {c.pk: dict.fromkeys(Delivery.Status.values, 0) for c in campaigns}
    rows = (
        Delivery.objects.filter(source__in=list(sources))
        .values("source", "status")
        .annotate(n=Count("id"))
        .values_list("source", "status", "n")
    )
    for source, status, n in rows:
        counts[sources[source]][status] = n
    fanouts = {
        f.object_id: f
        for f in Fanout.objects.filter(kind=Fanout.Kind.CAMPAIGN, object_id__in=[c.pk for c in campaigns])
    }
    summaries = {}
    for campaign in campaigns:
        fanout = fanouts.get(campaign.pk)
        planned = fanout.planned if fanout else 0
        planning_done = bool(fanout and fanout.done)
        bar = delivery_progress(counts=counts[campaign.pk], planned=planned, planning_done=planning_done)
        in_flight = bar["queued"] + bar["sending"]
        state = campaign.status
        if state in (Campaign.Status.SENDING, Campaign.Status.SENT):
            state = Campaign.Status.SENDING if (fanout and not fanout.done) or in_flight else Campaign.Status.SENT
        label = CAMPAIGN_STATE_LABELS[Campaign.Status(state)]
        if state == Campaign.Status.SENT and bar["held"]:
            label += f" · {bar['held']} held until their tickets are solved"
        summaries[campaign.pk] = {
            **bar,
            "state": state,
            "state_label": label,
            "audience": planned if fanout else None,
            "audience_final": planning_done,
            # held rows can still be stopped after everything else went
            "can_cancel": state in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED, Campaign.Status.SENDING)
            or (state == Campaign.Status.SENT and bar["held"] > 0),
            "polling": state == Campaign.Status.SENDING,
        }
    return summaries


def campaign_summary(*, campaign: Campaign) -> dict[str, Any]:
    """``campaign_summaries`` of one campaign: what the page, its progress partial and the API show."""
    return campaign_summaries(campaigns=[campaign])[campaign.pk]


def incident_list(*, cursor: str | None = None, size: int = 50, status: str = "") -> Page:
    qs = Incident.objects.prefetch_related("products", "organizations", "updates")
    if status:
        qs = qs.filter(status=status)
    return keyset_page(qs, ordering=["-started_at", "-id"], cursor=cursor, size=size)


def incident_get(*, incident_id: int) -> Incident:
    incident = Incident.objects.prefetch_related("products", "organizations").filter(pk=incident_id).first()
    if incident is None:
        raise Http404("No such incident.")
    return incident


def incident_updates(*, incident: Incident) -> QuerySet[IncidentUpdate]:
    return incident.updates.order_by("-number")


def incident_progress(*, incident: Incident) -> dict[str, Any]:
    """Deliveries of every notice of the incident, with the planning of the latest one."""
    update_ids = list(incident.updates.filter(notify=True).values_list("pk", flat=True))
    planned, done = _fanout_planned(Fanout.Kind.INCIDENT_UPDATE, update_ids[-1:])
    return delivery_progress(
        counts=delivery_counts(source=f"incident:{incident.pk}"), planned=planned, planning_done=done
    )


def incident_figures(*, incident: Incident) -> dict[str, Any]:
    """The incident page's figures: customers notified, deliveries, tickets linked, tickets per customer."""
    counts = delivery_counts(source=f"incident:{incident.pk}")
    first = incident.updates.filter(notify=True).order_by("number").values_list("pk", flat=True).first()
    notified, _ = _fanout_planned(Fanout.Kind.INCIDENT_UPDATE, [first]) if first else (0, False)
    linked = incident_linked_ticket_count(incident=incident)
    return {
        "customers_notified": notified,
        "sent": counts["sent"],
        "failed": counts["failed"],
        "suppressed": counts["suppressed"],
        "pending": counts["queued"] + counts["sending"],
        "tickets_linked": linked,
        "tickets_per_customer": round(linked / notified, 4) if notified else 0,
    }


def incident_linked_ticket_count(*, incident: Incident) -> int:
    return IncidentTicket.objects.filter(incident=incident).count()


def incident_linked_tickets(*, incident: Incident, limit: int = 100) -> list[Any]:
    return list(
        IncidentTicket.objects.filter(incident=incident)
        .select_related("ticket", "ticket__requester")
        .order_by("-id")[:limit]
    )


#: "link earlier tickets" looks this far before the declaration: the reports of the hours before it was noticed
EARLIER_WINDOW = dt.timedelta(hours=24)


def incident_earlier_tickets(*, incident: Incident) -> QuerySet[Any]:
    """Open tickets affected customers opened in the ``EARLIER_WINDOW`` before the incident, not linked yet."""
    return Ticket.objects.filter(
        created_at__lt=incident.started_at,
        created_at__gte=incident.started_at - EARLIER_WINDOW,
        status__in=UNSOLVED_STATUSES,
        requester_id__in=incident_customers(incident=incident).values("pk"),
    ).exclude(incident_links__incident=incident)


def incident_earlier_ticket_count(*, incident: Incident, cap: int = 500) -> tuple[int, bool]:
    """How many earlier tickets the page offers to link: at most ``cap + 1`` rows are counted."""
    return queryset_count_capped(incident_earlier_tickets(incident=incident), cap=cap)


def incidents_active() -> list[Incident]:
    """The incidents the help-center banner shows: active ones, newest first (a handful at most)."""
    return list(Incident.objects.filter(status=Incident.Status.ACTIVE).order_by("-started_at")[:5])


def incidents_for_status_page(*, days: int = 14) -> dict[str, list[Incident]]:
    since = timezone.now() - dt.timedelta(days=days)
    incidents = list(
        Incident.objects.filter(
            Q(status__in=[Incident.Status.ACTIVE, Incident.Status.SCHEDULED]) | Q(resolved_at__gte=since)
        )
        .prefetch_related("updates", "products")
        .order_by("-started_at")[:50]
    )
    return {
        "active": [i for i in incidents if i.status == Incident.Status.ACTIVE],
        "scheduled": [i for i in incidents if i.status == Incident.Status.SCHEDULED],
        "recent": [i for i in incidents if i.status == Incident.Status.RESOLVED],
    }


def reminder_rule_list() -> QuerySet[ReminderRule]:
    return ReminderRule.objects.select_related("template", "segment")


def delivery_list(
    *, cursor: str | None = None, size: int = 50, source: str = "", customer_id: int | None = None, status: str = ""
) -> Page:
    qs = Delivery.objects.all()
    if source:
        qs = qs.filter(source=source)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if status:
        qs = qs.filter(status=status)
    return keyset_page(qs, ordering=["-id"], cursor=cursor, size=size)


def delivery_get(*, delivery_id: int) -> Delivery:
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


def customer_messages(*, customer_id: int, limit: int = 50) -> QuerySet[Delivery]:
    """Every message sent (or held back) to a customer, newest first: the ticket side panel reads this."""
    return Delivery.objects.filter(customer_id=customer_id).order_by("-created_at", "-id")[:limit]


def deliveries_status_counts(qs: QuerySet[Any]) -> dict[str, int]:
    return {row["status"]: row["n"] for row in qs.values("status").annotate(n=Count("id"))}


def ticket_follow_up(*, ticket_id: int) -> FollowUp | None:
    """The follow-up survey of a ticket and its rating, for the ticket page and the agent's side panel."""
    return FollowUp.objects.filter(ticket_id=ticket_id).first()


def ticket_incidents(*, ticket_id: int) -> QuerySet[Incident]:
    return Incident.objects.filter(ticket_links__ticket_id=ticket_id).order_by("-started_at")
