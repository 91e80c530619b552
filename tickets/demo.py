"""Demo queues, SLA policies, macros and ~60 tickets with threads (``manage.py load_demo``).

Idempotent: tickets are keyed by their subject and requester; a second run adds nothing.
Some tickets are made to breach (their SLA clocks started hours ago), some are proactive.
"""

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.models import User
from customers.models import Customer
from tickets.models import (
    BusinessCalendar,
    CustomField,
    Macro,
    Mailbox,
    Queue,
    QueueMembership,
    SLAPolicy,
    SLATarget,
    Status,
    Ticket,
)
from tickets.services import sla_scan, ticket_create, ticket_customer_reply, ticket_reply, ticket_update

QUEUES = [
    ("Billing", "billing", Queue.AssignmentMode.MANUAL),
    ("Technical support", "technical", Queue.AssignmentMode.ROUND_ROBIN),
    ("Customer success", "success", Queue.AssignmentMode.MANUAL),
]
TOPICS = {
    "billing": [
        ("Invoice shows the wrong VAT number", "Our March invoice has our old VAT number on it. Can you reissue it?"),
        ("Charged twice this month", "We see two charges of the same amount on our card statement."),
        ("How do I add a purchase order number?", "Finance needs a PO number on every invoice from now on."),
        ("Downgrade to the starter plan", "We would like to move to the starter plan at renewal."),
        ("Refund for unused seats", "We removed 5 seats last week; is a pro-rata refund possible?"),
    ],
    "technical": [
        ("Export to CSV times out", "Exporting last year's data never finishes; the page spins for minutes."),
        ("SSO login loops back to the sign-in page", "After the SAML redirect we land on the login page again."),
        ("Webhook deliveries failing with 401", "Since yesterday every webhook call to us gets a 401."),
        ("Dashboard charts are empty", "All charts on the analytics dashboard show no data since this morning."),
        ("Mobile app crashes on start", "The Android app closes right after the splash screen."),
        ("API rate limit lower than documented", "We get 429 responses after 50 requests per minute."),
    ],
    "success": [
        ("Training session for new team members", "We hired six people; can we book an onboarding session?"),
        ("Best practice for user roles", "How do other customers set up roles for contractors?"),
        ("Quarterly review agenda", "Could you send the agenda for our quarterly review?"),
    ],
}
PROACTIVE = [
    ("Logins fell from 9/week to 1/week over 3 weeks", "Usage signal: weekly logins dropped sharply. Reach out?"),
    ("Renewal in 30 days, no admin activity", "Renewal is close and no admin has signed in this month."),
    ("Repeated export errors this week", "12 export errors in 7 days for this account."),
]
REPLIES = [
    "Thanks for the details. Could you send a screenshot of what you see?",
    "I have passed this to our engineers and will update you as soon as I hear back.",
    "This is fixed now; could you check on your side?",
]
CUSTOMER_FOLLOW_UPS = ["Here is the screenshot.", "Still happening this morning, unfortunately.", "Thanks, that works!"]


def _setup(agents: list[User]) -> dict[str, Queue]:
    calendar, _ = BusinessCalendar.objects.get_or_create(name="Berlin office", defaults={"timezone": "Europe/Berlin"})
    standard, created = SLAPolicy.objects.get_or_create(
        name="Standard", defaults={"position": 900, "calendar": calendar}
    )
    if created:
        for priority, first, nxt, resolution in [
            ("low", 480, 960, 4800),
            ("normal", 240, 480, 2400),
            ("high", 60, 240, 960),
            ("urgent", 30, 60, 480),
        ]:
            SLATarget.objects.create(
                policy=standard,
                priority=priority,
                first_reply_minutes=first,
                next_reply_minutes=nxt,
                resolution_minutes=resolution,
            )
    enterprise, created = SLAPolicy.objects.get_or_create(
        name="Enterprise, around the clock",
        defaults={"position": 10, "plans": ["enterprise"], "raise_priority_on_breach": True},
    )
    if created:
        for priority, first, resolution in [
            ("low", 240, 2880),
            ("normal", 120, 1440),
            ("high", 30, 480),
            ("urgent", 15, 240),
        ]:
            SLATarget.objects.create(
                policy=enterprise, priority=priority, first_reply_minutes=first, next_reply_minutes=first * 2,
                resolution_minutes=resolution,
            )  # fmt: skip
    queues = {}
    for index, (name, slug, mode) in enumerate(QUEUES):
        queue, _ = Queue.objects.get_or_create(slug=slug, defaults={"name": name, "assignment_mode": mode})
        queues[slug] = queue
        for offset, agent in enumerate(agents):
            if (index + offset) % 3 != 2 or agent.email == "agent@example.com":
                QueueMembership.objects.get_or_create(queue=queue, agent=agent)
    CustomField.objects.get_or_create(
        key="root-cause",
        defaults={"label": "Root cause", "type": "choice", "choices": ["bug", "configuration", "question", "billing"]},
    )
    CustomField.objects.get_or_create(key="affected-users", defaults={"label": "Affected users", "type": "number"})
    Macro.objects.get_or_create(
        name="Ask for a screenshot",
        defaults={
            "body": "Hello {{ customer.first_name }},\n\ncould you send a screenshot of what you see?\n\n"
            "Best,\n{{ agent.first_name }}",
            "set_status": Status.PENDING,
        },
    )
    Macro.objects.get_or_create(
        name="Solved: fixed on our side",
        defaults={
            "body": "Hello {{ customer.first_name }},\n\nthis is fixed on our side. Reply if you still see it.\n\n"
            "Best,\n{{ agent.first_name }}",
            "set_status": Status.SOLVED,
        },
    )
    Macro.objects.get_or_create(
        name="Escalate to technical",
        defaults={"body": "Escalated to the technical team.", "is_internal": True, "set_queue": queues["technical"],
                  "set_priority": "high"},
    )  # fmt: skip
    _mailbox(queues["technical"])
    return queues


def _mailbox(queue: Queue) -> Mailbox:
    """The support address (the outbound From) takes anyone's mail from the drop folder ``var/inbox/``."""
    inbox = settings.VAR_DIR / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()
    mailbox, _ = Mailbox.objects.get_or_create(
        address=address,
        defaults={"name": "Support", "queue": queue, "source": Mailbox.Source.FOLDER, "folder_path": str(inbox)},
    )
    return mailbox


def load(out: Any) -> None:
    rng = random.Random(1042)
    agents = list(User.objects.filter(groups__name__in=["Agents", "Managers"]).distinct().order_by("email"))
    if not agents:
        out.write("tickets: no agents (load the customers demo first)")
        return
    queues = _setup(agents)
    customers = list(Customer.objects.select_related("organization").order_by("pk")[:36])
    if Ticket.objects.filter(subject__in=[s for topics in TOPICS.values() for s, _ in topics]).exists():
        out.write(f"tickets: {Ticket.objects.count()} tickets (already loaded)")
        return
    now = timezone.now()
    made = 0
    for round_ in range(4):
        for slug, topics in TOPICS.items():
            for subject, body in topics:
                if made >= 56:
                    break
                _story(rng, now, made, round_, customers[(made * 7) % len(customers)], agents[made % len(agents)],
                       queues[slug], subject if round_ == 0 else f"{subject} ({round_ + 1})", body, slug)  # fmt: skip
                made += 1
    owner = next((a for a in agents if a.email == "agent@example.com"), agents[0])
    for subject, evidence in PROACTIVE:
        with _clock(now - dt.timedelta(hours=rng.randint(1, 48))):
            ticket_create(
                requester=customers[(made * 5) % len(customers)], subject=subject, body=evidence, actor=owner,
                internal=True, kind="proactive", channel="proactive", queue=queues["success"], assignee=owner,
            )  # fmt: skip
        made += 1
    sla_scan(now=now)  # record the breaches of tickets whose clocks started long ago
    out.write(f"tickets: {Ticket.objects.count()} tickets in {len(queues)} queues")


def _story(
    rng: random.Random, now: dt.datetime, index: int, round_: int, customer: Customer, agent: User, queue: Queue,
    subject: str, body: str, tag: str,
) -> None:  # fmt: skip
    """One ticket's thread, its clocks started ``age`` ago: some are breaching by now."""
    age = dt.timedelta(hours=rng.choice([0.2, 1, 3, 8, 26, 50, 120]) + round_ * 30)
    with _clock(now - age):
        ticket = ticket_create(
            requester=customer, subject=subject, body=body, queue=queue, channel=rng.choice(["web", "email", "api"]),
            priority=rng.choice(["low", "normal", "normal", "high", "urgent"]), tags=[tag],
        )  # fmt: skip
    stage = index % 6
    if stage >= 1:
        with _clock(now - age * 0.8):
            ticket_reply(ticket=ticket, author=agent, body=rng.choice(REPLIES))
    if stage >= 2:
        with _clock(now - age * 0.6):
            ticket_customer_reply(ticket=ticket, body=rng.choice(CUSTOMER_FOLLOW_UPS))
    if stage == 3:
        with _clock(now - age * 0.5):
            ticket_reply(ticket=ticket, author=agent, body="Checked the logs: on the old plan.", internal=True)
    if stage == 4:
        with _clock(now - age * 0.4):
            ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    if stage == 5 and round_ >= 2:
        with _clock(now - age * 0.4):
            ticket_update(ticket=ticket, actor=agent, status=Status.ON_HOLD)


@contextlib.contextmanager
def _clock(moment: dt.datetime) -> Iterator[None]:
    """Run services as if at ``moment`` (demo history); they read the clock from ``timezone.now``."""
    original = timezone.now
    timezone.now = lambda: moment
    try:
        yield
    finally:
        timezone.now = original
