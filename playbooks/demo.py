"""Demo signals and playbooks with the product events that make them fire (``manage.py load_demo``).

Idempotent. Nothing is evaluated here: the beat evaluates the signals within seconds of starting
(``playbooks.evaluate_signals``), starts the runs and advances them, so a new user sees a match with
its evidence, a run and a proactive ticket in the Proactive view within a minute.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.models import User
from customers.models import Customer, CustomerEvent, Organization
from outreach.models import Template
from playbooks.models import Playbook, PlaybookStep, Signal, SignalKind
from tickets.models import Queue

#: (name, e-mail, organization, logins per week oldest first): usage that fell
QUIET = [
    ("Nora Quist", "nora.quist@acme.example", "Acme Logistics", [9, 1, 1]),
    ("Omar Haddad", "omar.haddad@bluebird.example", "Bluebird Health", [7, 1, 0]),
]
#: (name, e-mail, organization, days since sign-up, created a project): onboarding
NEWCOMERS = [
    ("Pia Brandt", "pia.brandt@cobalt.example", "Cobalt Studios", 5, False),
    ("Quentin Roy", "quentin.roy@dunmore.example", "Dunmore Foods", 6, False),
    ("Rhea Sato", "rhea.sato@evergreen.example", "Evergreen Schools", 5, True),
]


def _customer(name: str, email: str, org_name: str, created: dt.datetime) -> Customer:
    customer, _ = Customer.objects.get_or_create(
        email=email,
        defaults={
            "name": name,
            "organization": Organization.objects.filter(name=org_name).first(),
            "created_at": created,
        },
    )
    return customer


def _events(customer: Customer, kind: str, moments: list[dt.datetime]) -> None:
    CustomerEvent.objects.bulk_create(
        [
            CustomerEvent(
                customer=customer,
                kind=kind,
                occurred_at=at,
                received_at=at,
                event_id=f"demo-pb-{customer.pk}-{kind}-{n}",
            )
            for n, at in enumerate(moments)
        ],
        ignore_conflicts=True,
    )


def load(out: Any) -> None:
    owner = User.objects.filter(email="agent@example.com").first()
    manager = User.objects.filter(email="manager@example.com").first()
    queue = Queue.objects.filter(slug="success").first()
    welcome = Template.objects.filter(name="Welcome aboard").first()
    if owner is None or queue is None or welcome is None:
        out.write("playbooks: skipped (load the customers, tickets and outreach demos first)")
        return
    now = timezone.now()
    for name, email, org_name, weeks in QUIET:
        customer = _customer(name, email, org_name, now - dt.timedelta(days=200))
        moments = [
            now - dt.timedelta(days=7 * (len(weeks) - 1 - index) + 1, hours=n + 1)
            for index, count in enumerate(weeks)
            for n in range(count)
        ]
        _events(customer, "login", moments)
    for name, email, org_name, days, created_project in NEWCOMERS:
        signed_up = now - dt.timedelta(days=days)
        customer = _customer(name, email, org_name, signed_up)
        _events(customer, "signed_up", [signed_up])
        if created_project:
            _events(customer, "first_project_created", [signed_up + dt.timedelta(days=1)])

    drop, _ = Signal.objects.get_or_create(
        name="Logins fell",
        defaults={
            "kind": SignalKind.USAGE_DROP,
            "params": {"event_kind": "login", "threshold": 2, "weeks": 2},
            "weight": 30,
            "interval_seconds": 300,
            "description": "Fewer than 2 logins a week for 2 weeks, after a week with more.",
        },
    )
    milestone, _ = Signal.objects.get_or_create(
        name="No first project",
        defaults={
            "kind": SignalKind.MILESTONE_MISSING,
            "params": {
                "event_kind": "first_project_created",
                "anchor_kind": "signed_up",
                "days": 3,
                "lookback_days": 30,
            },
            "weight": 20,
            "interval_seconds": 300,
            "description": "Signed up, but no project within 3 days.",
        },
    )
    win_back, created = Playbook.objects.get_or_create(
        name="Win back quiet accounts",
        defaults={
            "signal": drop,
            "owner_agent": owner,
            "owner_queue": queue,
            "cooldown_days": 30,
            "is_active": True,
            "activated_at": now,
            "description": "Call accounts whose usage fell before they decide to leave.",
        },
    )
    if created:
        PlaybookStep.objects.create(
            playbook=win_back, position=1, action="create_ticket", note="Call them: what changed for their team?"
        )
        PlaybookStep.objects.create(playbook=win_back, position=2, action="wait", wait_days=Decimal("7"))
        PlaybookStep.objects.create(playbook=win_back, position=3, action="check", check_mode="signal_holds")
        PlaybookStep.objects.create(playbook=win_back, position=4, action="notify_manager", notify_user=manager)
    onboarding, created = Playbook.objects.get_or_create(
        name="Onboarding help",
        defaults={
            "signal": milestone,
            "owner_agent": owner,
            "owner_queue": queue,
            "cooldown_days": 60,
            "is_active": True,
            "activated_at": now,
            "description": "Help new customers to their first project.",
        },
    )
    if created:
        PlaybookStep.objects.create(playbook=onboarding, position=1, action="send_template", template=welcome)
        PlaybookStep.objects.create(
            playbook=onboarding, position=2, action="create_ticket", note="Offer a 15-minute setup call."
        )
        PlaybookStep.objects.create(playbook=onboarding, position=3, action="wait", wait_days=Decimal("3"))
        PlaybookStep.objects.create(playbook=onboarding, position=4, action="check", check_mode="signal_holds")
        PlaybookStep.objects.create(playbook=onboarding, position=5, action="notify_manager", notify_user=manager)
    out.write(f"playbooks: {Signal.objects.count()} signals, {Playbook.objects.count()} playbooks")
