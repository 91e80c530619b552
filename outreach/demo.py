"""Demo templates, segments, incidents and a campaign (``manage.py load_demo``). Idempotent.

Rows are written directly, as history: loading the demo sends nothing.
"""

import datetime as dt
from typing import Any

from django.utils import timezone

from customers.models import Organization, Product
from outreach.models import Campaign, Incident, IncidentUpdate, ReminderRule, Segment, Template

TEMPLATES = [
    ("Welcome aboard", "onboarding", "Welcome to Helpdesk, {{ customer.first_name }}",
     "Hello {{ customer.first_name }},\n\nwelcome! Our getting-started guide is in the help center.",
     "Welcome! Start with our guide."),
    ("Spring release", "announcement", "What's new this spring",
     "Hello {{ customer.name }},\n\nexports are now twice as fast for {{ organization.name }}.", "Exports got faster."),
    ("Renewal in 14 days", "reminder", "Your plan renews on {{ organization.renewal_date }}",
     "Hello {{ customer.first_name }},\n\nyour {{ organization.plan }} plan renews on "
     "{{ organization.renewal_date }}.", ""),
]  # fmt: skip


def load(out: Any) -> None:
    now = timezone.now()
    templates = {}
    for name, category, subject, body, in_app in TEMPLATES:
        templates[name], _ = Template.objects.get_or_create(
            name=name, defaults={"category": category, "subject": subject, "body": body, "in_app_body": in_app}
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
    Campaign.objects.get_or_create(
        name="Spring release news",
        defaults={
            "template": templates["Spring release"], "segment": enterprise, "status": "sent",
            "started_at": now - dt.timedelta(days=10), "finished_at": now - dt.timedelta(days=10),
            "throttle_per_minute": 500,
        },
    )  # fmt: skip
    out.write(f"outreach: {Template.objects.count()} templates, {Incident.objects.count()} incidents")
