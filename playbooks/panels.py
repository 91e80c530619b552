"""The ticket page sections playbooks adds (registered in ``PlaybooksConfig.ready``).

"top": on a proactive ticket, the playbook and evidence that raised it. "side": the customer's story:
health, active signals with their evidence, playbook runs, incidents that affected them, ratings,
messages we sent and tickets on one timeline. Each source is one bounded query.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from core.types import Viewer
from customers.models import Delivery
from outreach.models import FollowUp, Incident
from playbooks.models import PlaybookRun
from playbooks.selectors import customer_active_matches, customer_health_score, organization_health_score
from tickets.models import Ticket

PER_SOURCE = 8
TIMELINE = 30


@dataclass
class Moment:
    at: dt.datetime
    kind: str
    text: str
    url: str = ""


def raised_by(ticket: Any, viewer: Viewer) -> dict[str, Any] | None:
    runs = list(
        PlaybookRun.objects.filter(ticket_id=ticket.pk).select_related("playbook__signal").order_by("started_at")
    )
    if not runs:
        return None
    return {"place": "top", "template": "playbooks/partials/_raised_by.html", "context": {"runs": runs}}


def _incidents(customer: Any, since: dt.datetime) -> list[Incident]:
    """Recent incidents that reached the customer's organization: by organization, region or product."""
    org = customer.organization
    if org is None:
        return []
    product_ids = set(org.products.values_list("pk", flat=True))
    recent = Incident.objects.filter(started_at__gte=since).prefetch_related("organizations", "products")
    affected = [
        incident
        for incident in recent.order_by("-started_at")[:50]
        if any(o.pk == org.pk for o in incident.organizations.all())
        or (org.region and org.region in (incident.regions or []))
        or product_ids & {p.pk for p in incident.products.all()}
    ]
    return affected[:PER_SOURCE]


def customer_story(ticket: Any, viewer: Viewer) -> dict[str, Any]:
    customer = ticket.requester
    now = timezone.now()
    moments: list[Moment] = []
    matches = list(customer_active_matches(customer_id=customer.pk)[:PER_SOURCE])
    for match in matches:
        moments.append(Moment(match.matched_at, "signal", f"{match.signal.name}: {match.evidence}"))
    runs = list(
        PlaybookRun.objects.filter(customer_id=customer.pk)
        .select_related("playbook", "ticket")
        .order_by("-started_at", "-id")[:PER_SOURCE]
    )
    for run in runs:
        url = run.ticket.get_absolute_url() if run.ticket_id else ""
        moments.append(
            Moment(run.started_at, "playbook", f"Playbook “{run.playbook.name}” ({run.get_state_display()})", url)
        )
    for other in (
        Ticket.objects.filter(requester_id=customer.pk)
        .only("pk", "number", "subject", "status", "created_at")
        .order_by("-created_at", "-id")[:PER_SOURCE]
    ):
        text = f"{other.reference} {other.subject} ({other.get_status_display()})"
        moments.append(Moment(other.created_at, "ticket", text, other.get_absolute_url()))
    for delivery in (
        Delivery.objects.filter(customer_id=customer.pk)
        .only("subject", "status", "created_at", "category")
        .order_by("-created_at", "-id")[:PER_SOURCE]
    ):
        moments.append(Moment(delivery.created_at, "sent", f"{delivery.subject} ({delivery.get_status_display()})"))
    for rating in (
        FollowUp.objects.filter(customer_id=customer.pk, answered_at__isnull=False)
        .exclude(rating="")
        .select_related("ticket")
        .order_by("-answered_at")[:PER_SOURCE]
    ):
        moments.append(
            Moment(
                rating.answered_at, "rating", f"Rated {rating.ticket.reference} {rating.get_rating_display().lower()}"
            )
        )
    for incident in _incidents(customer, now - dt.timedelta(days=90)):
        moments.append(Moment(incident.started_at, "incident", f"{incident.get_kind_display()}: {incident.title}"))
    moments.sort(key=lambda m: m.at, reverse=True)
    return {
        "place": "side",
        "template": "playbooks/partials/_customer_story.html",
        "context": {
            "health": customer_health_score(customer_id=customer.pk),
            "organization_health": (
                organization_health_score(organization_id=customer.organization_id)
                if customer.organization_id
                else None
            ),
            "matches": matches,
            "runs": runs,
            "timeline": moments[:TIMELINE],
        },
    }
