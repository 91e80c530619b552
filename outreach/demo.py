"""Demo templates, segments, incidents and a campaign (``manage.py load_demo``). Idempotent.

Rows are written directly, as history: loading the demo sends nothing.
"""

import datetime as dt
from typing import Any

from django.utils import timezone

from customers.models import Delivery, Organization, Product
from outreach.models import Campaign, Fanout, Incident, IncidentUpdate, ReminderRule, Segment, Template
from outreach.selectors import segment_customers
from outreach.services.fanout import draft_build
from outreach.services.rendering import CompiledMessage

TEMPLATES = [
    ("Welcome aboard", "onboarding", "Welcome to Helpdesk, {{ customer.first_name }}",
     "Hello {{ customer.first_name }},\n\nwelcome! Our getting-started guide is in the help center."),
    ("Spring release", "announcement", "What's new this spring",
     "Hello {{ customer.name }},\n\nexports are now twice as fast for {{ organization.name }}."),
    ("Renewal in 14 days", "reminder", "Your plan renews on {{ organization.renewal_date }}",
     "Hello {{ customer.first_name }},\n\nyour {{ organization.plan }} plan renews on "
     "{{ organization.renewal_date }}."),
]  # fmt: skip


def load(out: Any) -> None:
    now = timezone.now()
    templates = {}
    for name, category, subject, body in TEMPLATES:
        templates[name], _ = Template.objects.get_or_create(
            name=name, defaults={"category": category, "subject": subject, "body": body}
        )
    enterprise, _ = Segment.objects.get_or_create(
        name="Enterprise customers", defaults={"plans": ["enterprise", "business"]}
    )
    Segment.objects.get_or_create(name="EU, no open ticket", defaults={"regions": ["eu-west"], "open_tickets": "no"})
    ReminderRule.objects.get_or_create(
        name="Renewal in 14 days",
        defaults={"template": templates["Renewal in 14 days"], "anchor": "renewal", "offset_days": -14},
    )
    billing = Product.objects.filter(name="Billing").first()
    if not Incident.objects.filter(title="Invoices failed to load").exists():
        incident = Incident.objects.create(
            title="Invoices failed to load", message="Some invoices did not load; we are investigating.",
            severity="major", status="resolved", started_at=now - dt.timedelta(days=3, hours=2),
            resolved_at=now - dt.timedelta(days=3), regions=[],
        )  # fmt: skip
        if billing:
            incident.products.add(billing)
        for number, (kind, message, hours) in enumerate(
            [("declared", incident.message, 74), ("update", "A fix is being deployed.", 73),
             ("resolved", "Invoices load again. Sorry for the trouble.", 72)], start=1,
        ):  # fmt: skip
            IncidentUpdate.objects.create(incident=incident, number=number, kind=kind, message=message,
                                          created_at=now - dt.timedelta(hours=hours))  # fmt: skip
    if not Incident.objects.filter(title="Database upgrade").exists():
        start = (now + dt.timedelta(days=5)).replace(hour=2, minute=0, second=0, microsecond=0)
        maintenance = Incident.objects.create(
            kind="maintenance", title="Database upgrade", message="Up to 15 minutes of read-only mode.",
            severity="minor", status="scheduled", started_at=start, scheduled_start=start,
            scheduled_end=start + dt.timedelta(hours=1), regions=["eu-west"],
        )  # fmt: skip
        IncidentUpdate.objects.create(incident=maintenance, number=1, kind="scheduled", message=maintenance.message)
        maintenance.organizations.set(Organization.objects.filter(region="eu-west"))
    campaign, _ = Campaign.objects.get_or_create(
        name="Spring release news",
        defaults={
            "template": templates["Spring release"], "segment": enterprise, "status": "sent",
            "started_at": now - dt.timedelta(days=10), "finished_at": now - dt.timedelta(days=10),
            "throttle_per_minute": 500,
        },
    )  # fmt: skip
    _sent_campaign_history(campaign)
    out.write(f"outreach: {Template.objects.count()} templates, {Incident.objects.count()} incidents")


def _sent_campaign_history(campaign: Campaign) -> None:
    """A sent campaign has what sending it leaves behind: its fan-out and one sent row per customer addressed.

    Without them the page read "Sent" at "0 % · 0 sent". Written as history (nothing is sent); idempotent,
    and it repairs a demo database loaded before.
    """
    if (
        campaign.status != Campaign.Status.SENT
        or Fanout.objects.filter(kind=Fanout.Kind.CAMPAIGN, object_id=campaign.pk).exists()
    ):
        return
    sent_at = campaign.finished_at or campaign.started_at or timezone.now()
    customers = list(segment_customers(segment=campaign.segment).select_related("organization").order_by("pk"))
    message = CompiledMessage(subject=campaign.template.subject, body=campaign.template.body)
    rows = []
    for customer in customers:
        draft = draft_build(
            customer=customer,
            message=message,
            category=campaign.template.category,
            key=f"campaign:{campaign.pk}:customer:{customer.pk}",
            source=campaign.source,
        )
        rows.append(
            Delivery(
                idempotency_key=draft.key,
                customer=customer,
                recipient=customer.email,
                category=draft.category,
                subject=draft.subject,
                body=draft.body,
                html_body=draft.html_body,
                headers=draft.headers,
                source=draft.source,
                status=Delivery.Status.SENT,
                attempts=1,
                sent_at=sent_at,
                next_attempt_at=sent_at,
                created_at=sent_at,
            )
        )
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    last = customers[-1].pk if customers else 0
    Fanout.objects.create(
        kind=Fanout.Kind.CAMPAIGN, object_id=campaign.pk, cursor=last, planned=len(customers), done=True,
        started_at=sent_at, updated_at=sent_at, finished_at=sent_at,
    )  # fmt: skip
