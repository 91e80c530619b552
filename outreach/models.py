"""Templates, segments, incidents, campaigns, reminders and the fan-outs that plan their deliveries.

Every message still goes out as a ``customers.Delivery`` row; these models say
what to send to whom and keep the progress of planning it.
"""

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from customers.models import Category, Organization, Product, Tag


class Template(models.Model):
    """A message with placeholders (``{{ customer.name }}``, ``{{ incident.title }}`` ...), rendered per customer."""

    name = models.CharField(max_length=120, unique=True)
    category = models.CharField(max_length=20, choices=Category.choices, db_index=True)
    subject = models.CharField(max_length=300)
    body = models.TextField(help_text="E-mail body. Django template syntax; customer data is escaped in the HTML part.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("agent-outreach-template-detail", args=[self.pk])


class Segment(models.Model):
    """A saved audience. Empty criteria match everyone; given ones are combined with AND."""

    class OpenTickets(models.TextChoices):
        ANY = "", "Any"
        YES = "yes", "Has an open ticket"
        NO = "no", "Has no open ticket"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    plans = models.JSONField(default=list, blank=True, help_text='Organization plans, e.g. ["business"].')
    regions = models.JSONField(default=list, blank=True, help_text='Organization regions, e.g. ["eu-west"].')
    products = models.ManyToManyField(Product, blank=True, related_name="+")
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", help_text="Customers with any of these tags.")
    created_after = models.DateTimeField(null=True, blank=True)
    created_before = models.DateTimeField(null=True, blank=True)
    last_seen_after = models.DateTimeField(null=True, blank=True)
    last_seen_before = models.DateTimeField(null=True, blank=True)
    open_tickets = models.CharField(max_length=3, choices=OpenTickets.choices, blank=True, default="")
    health_below = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(100)],
        help_text="Customers whose health score (0-100, from the playbooks' signals) is below this.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("agent-outreach-segment-detail", args=[self.pk])

    def clean(self) -> None:
        """What a manager typed, field by field: known plans, region names, ranges that can match someone."""
        errors: dict[str, str] = {}
        known = Organization.Plan.values
        plans = self.plans if isinstance(self.plans, list) else [self.plans]
        if unknown := [plan for plan in plans if plan not in known]:
            errors["plans"] = f"Unknown plan {', '.join(map(repr, unknown))}; one of {', '.join(known)}."
        if problem := regions_problem(self.regions):
            errors["regions"] = problem
        for after, before in (("created_after", "created_before"), ("last_seen_after", "last_seen_before")):
            low, high = getattr(self, after), getattr(self, before)
            if low is not None and high is not None and low >= high:
                errors[before] = f"After {after.replace('_', ' ')} ({low:%Y-%m-%d %H:%M}), or no one matches."
        if errors:
            raise ValidationError(errors)


#: an organization's region as the organization form takes it: a short name like eu-west
REGION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")


def regions_problem(value: object) -> str:
    """Why ``value`` is not a list of region names ("" when it is)."""
    if not isinstance(value, list):
        return "A list of region names, e.g. eu-west, us-east."
    bad = [item for item in value if not isinstance(item, str) or not REGION_PATTERN.match(item)]
    if bad:
        return f"Not a region name: {', '.join(repr(item) for item in bad)} (letters, digits, - and _, up to 40)."
    return ""


class Incident(models.Model):
    """An outage (declared when it happens) or a scheduled maintenance (announced ahead)."""

    class Kind(models.TextChoices):
        OUTAGE = "outage", "Outage"
        MAINTENANCE = "maintenance", "Scheduled maintenance"

    class Severity(models.TextChoices):
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.OUTAGE)
    title = models.CharField(max_length=200)
    message = models.TextField(help_text="What customers read.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    products = models.ManyToManyField(Product, blank=True, related_name="incidents")
    regions = models.JSONField(default=list, blank=True)
    organizations = models.ManyToManyField(Organization, blank=True, related_name="incidents")
    started_at = models.DateTimeField(default=timezone.now)
    scheduled_start = models.DateTimeField(null=True, blank=True, help_text="Maintenance only.")
    scheduled_end = models.DateTimeField(null=True, blank=True, help_text="Maintenance only.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When the 24-hour reminder was planned.")
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "-started_at"], name="outreach_incident_status")]
        permissions = [("declare_incident", "Can declare incidents and post updates that notify customers")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("agent-outreach-incident-detail", args=[self.pk])

    @property
    def category(self) -> str:
        return Category.OUTAGE if self.kind == self.Kind.OUTAGE else Category.MAINTENANCE

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class IncidentUpdate(models.Model):
    """One post on an incident; each one that notifies customers has its own fan-out."""

    class Kind(models.TextChoices):
        DECLARED = "declared", "Declared"
        SCHEDULED = "scheduled", "Announced"
        UPDATE = "update", "Update"
        REMINDER = "reminder", "Reminder"
        STARTED = "started", "Started"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message = models.TextField()
    notify = models.BooleanField(default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["incident", "number"]
        constraints = [models.UniqueConstraint(fields=["incident", "number"], name="outreach_update_number_unique")]

    def __str__(self) -> str:
        return f"{self.incident_id} #{self.number} {self.kind}"

    @property
    def source(self) -> str:
        return f"incident:{self.incident_id}"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    class Schedule(models.TextChoices):
        NOW = "now", "Now"
        AT = "at", "At a time"
        LOCAL_HOUR = "local_hour", "At a local hour in each customer's time zone"

    name = models.CharField(max_length=200)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="campaigns")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="campaigns")
    schedule = models.CharField(max_length=12, choices=Schedule.choices, default=Schedule.NOW)
    send_at = models.DateTimeField(null=True, blank=True, help_text="For 'at a time'; for 'local hour', the day.")
    local_hour = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0-23, in each customer's zone.")
    throttle_per_minute = models.PositiveIntegerField(default=1000, help_text="Messages released per minute.")
    hold_days = models.PositiveSmallIntegerField(
        default=14,
        validators=[MaxValueValidator(90)],
        help_text="A customer with an open ticket gets the message once their tickets are solved, "
        "within this many days of the start; after that it is not sent.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "send_at"], name="outreach_campaign_due")]
        permissions = [("send_campaign", "Can schedule, send and cancel campaigns")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("agent-outreach-campaign-detail", args=[self.pk])

    @property
    def source(self) -> str:
        return f"campaign:{self.pk}"

    @property
    def hold_ends_at(self) -> "dt.datetime | None":
        """Until when a message held for an open ticket may still go (the campaign's validity)."""
        start = self.started_at or self.send_at
        return start + dt.timedelta(days=self.hold_days) if start else None


class ReminderRule(models.Model):
    class Anchor(models.TextChoices):
        RENEWAL = "renewal", "Organization renewal date"
        CUSTOMER_CREATED = "customer_created", "Customer created"
        CUSTOMER_LAST_SEEN = "customer_last_seen", "Customer last seen"
        MAINTENANCE_START = "maintenance_start", "Maintenance start"

    name = models.CharField(max_length=120, unique=True)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="reminder_rules")
    anchor = models.CharField(max_length=20, choices=Anchor.choices)
    offset_days = models.IntegerField(default=-14, help_text="Days from the date: -14 is 14 days before.")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Fanout(models.Model):
    """Planning progress of one notice or campaign: customers are planned in keyset slices after ``cursor``."""

    class Kind(models.TextChoices):
        INCIDENT_UPDATE = "incident_update", "Incident update"
        CAMPAIGN = "campaign", "Campaign"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField()
    cursor = models.BigIntegerField(default=0, help_text="The last customer id planned.")
    planned = models.PositiveIntegerField(default=0)
    done = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="outreach_fanout_unique")]
        indexes = [models.Index(fields=["updated_at"], condition=Q(done=False), name="outreach_fanout_open")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} after {self.cursor}"


class IncidentTicket(models.Model):
    """A ticket about an incident: linked automatically (affected requester, while active) or by an agent."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="ticket_links")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="incident_links")
    automatic = models.BooleanField(default=False)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["incident", "ticket"], name="outreach_incident_ticket_unique")]

    def __str__(self) -> str:
        return f"incident {self.incident_id} ticket {self.ticket_id}"


class FollowUp(models.Model):
    """The check-in and satisfaction survey sent after a ticket is solved: one per ticket, ever."""

    class Rating(models.TextChoices):
        GOOD = "good", "Good"
        BAD = "bad", "Bad"

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, related_name="follow_up_survey")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="follow_ups")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    rating = models.CharField(max_length=4, choices=Rating.choices, blank=True)
    still_broken = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    reopened = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["rating", "-answered_at"], name="outreach_followup_rating")]

    def __str__(self) -> str:
        return f"follow-up of ticket {self.ticket_id}"
