import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone as django_timezone


@functools.cache
def _known_timezones() -> frozenset[str]:
    """``available_timezones()`` walks the whole tz database on disk (~600 files): 15-50 ms a call, which
    was a third of the time e-mail in spent on a message from a new customer. The set changes only with
    a tzdata upgrade, which comes with a restart."""
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _known_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example Europe/Berlin).")


class Tag(models.Model):
    """One tag vocabulary for customers, organizations and tickets, as in Zendesk."""

    name = models.SlugField(max_length=64, unique=True, allow_unicode=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A product or service we run for customers; outage notices target organizations by product."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Organization(models.Model):
    class Plan(models.TextChoices):
        FREE = "free", "Free"
        STARTER = "starter", "Starter"
        BUSINESS = "business", "Business"
        ENTERPRISE = "enterprise", "Enterprise"

    name = models.CharField(max_length=200, unique=True)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE, db_index=True)
    region = models.CharField(max_length=40, blank=True, db_index=True, help_text="e.g. eu-west, us-east")
    products = models.ManyToManyField(Product, blank=True, related_name="organizations")
    tags = models.ManyToManyField(Tag, blank=True, related_name="organizations")
    renewal_date = models.DateField(null=True, blank=True, db_index=True)
    shared_tickets = models.BooleanField(
        default=False, help_text="Members see each other's requests in the help center."
    )
    domain_members_see_tickets = models.BooleanField(
        "members with an address at these domains may see the organization's tickets",
        default=False,
        help_text="Off: a customer who joined only because of their e-mail domain sees their own requests. "
        "On: once they have confirmed their address, they see the organization's shared requests too.",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganizationDomain(models.Model):
    """An e-mail domain of an organization: a new customer from it joins the organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: object, **kwargs: object) -> None:
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Customer(models.Model):
    """The one customer record that tickets, outreach and playbooks all work on."""

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="customer"
    )
    organization_by_domain = models.BooleanField(
        default=False,
        editable=False,
        help_text="In the organization only because of the e-mail domain, not by an agent's choice.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="en")
    external_id = models.CharField(max_length=128, blank=True, help_text="The customer's id in our product.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    created_at = models.DateTimeField(default=django_timezone.now, editable=False, db_index=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, db_index=True)
    #: the address a delivery report said does not exist (a hard bounce): outreach stops while it is still
    #: ``email``; changing the address is what lifts it, no flag to reset
    bounced_email = models.EmailField(max_length=254, blank=True, default="", db_default="", editable=False)
    bounced_at = models.DateTimeField(null=True, blank=True, editable=False)
    bounce_reason = models.CharField(max_length=300, blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # the agent search's "requester e-mail starts with": LIKE 'ann@ex%' is a range scan only with the
            # pattern operator class (the unique index above is on lower(email) in the database's collation)
            models.Index(fields=["email"], name="customers_email_prefix", opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customers_customer_email_ci_unique"),
            models.UniqueConstraint(
                fields=["external_id"], condition=~Q(external_id=""), name="customers_customer_external_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def email_undeliverable(self) -> bool:
        """A hard bounce came back for the address the customer still has."""
        return bool(self.bounced_email) and self.bounced_email == self.email

    @property
    def sees_organization_tickets(self) -> bool:
        """Whether the organization's shared requests are this customer's to see (their account aside)."""
        org = self.organization
        if org is None or not org.shared_tickets:
            return False
        return not self.organization_by_domain or org.domain_members_see_tickets

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


class CustomerEvent(models.Model):
    """A product-usage fact (``login``, ``error``, ...), ingested idempotently by ``event_id``."""

    # no index of its own: customers_event_customer_time starts with it (a cascade or a join uses that one);
    # each index is one more random page written per event, so ingestion pays for the ones nothing reads
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    event_id = models.CharField(max_length=128)
    received_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # a constraint, not unique=True: that also builds a LIKE index (varchar_pattern_ops) nothing queries
            models.UniqueConstraint(fields=["event_id"], name="customers_event_event_id_unique"),
        ]
        indexes = [
            # "count of kind K per customer per week", set-based over every customer
            models.Index(fields=["kind", "occurred_at", "customer"], name="customers_event_kind_time"),
            # one customer's recent events (the agent's side panel)
            models.Index(fields=["customer", "-occurred_at"], name="customers_event_customer_time"),
            # "arrived since the rollup's watermark" and "arrived in the last minute" (playbooks)
            models.Index(fields=["received_at"], name="customers_event_received"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.customer_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class CustomerEventDay(models.Model):
    """Events per (customer, kind, UTC day): what usage signals read, kept exact by ``events_rollup``.

    ``count`` is every event of that day ever stored, ``pruned`` the part of it whose raw rows the
    retention job has deleted, so re-aggregating a day from the raw rows left gives ``raw + pruned``.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="event_days", db_index=False)
    kind = models.CharField(max_length=64)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)
    pruned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["customer", "kind", "day"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind", "day"], name="customers_eventday_unique"),
        ]
        indexes = [models.Index(fields=["kind", "day", "customer"], name="customers_eventday_kind_day")]

    def __str__(self) -> str:
        return f"{self.count} x {self.kind} by {self.customer_id} on {self.day}"


class EventRollupState(models.Model):
    """One row: events received before ``watermark`` are in the rollup (re-read with an overlap)."""

    watermark = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rolled up to {self.watermark}"


class Category(models.TextChoices):
    """Why we write to a customer. ``service`` and ``outage`` are never opted out of nor held."""

    SERVICE = "service", "Service (ticket replies, account mail)"
    OUTAGE = "outage", "Outage notices"
    MAINTENANCE = "maintenance", "Maintenance notices"
    REMINDER = "reminder", "Reminders"
    FOLLOW_UP = "follow_up", "Follow-ups and surveys"
    ONBOARDING = "onboarding", "Onboarding"
    ANNOUNCEMENT = "announcement", "Announcements"


#: categories a customer cannot opt out of and that quiet hours do not hold back
ESSENTIAL_CATEGORIES = frozenset({Category.SERVICE, Category.OUTAGE})


class ContactPreference(models.Model):
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="contact_preference")
    opted_out = models.JSONField(default=list, blank=True, help_text="Categories the customer does not want.")
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="In the customer's time zone.")
    quiet_hours_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Preferences of {self.customer_id}"

    def clean(self) -> None:
        unknown = set(self.opted_out) - set(Category.values)
        if unknown:
            raise ValidationError({"opted_out": f"Unknown categories: {', '.join(sorted(unknown))}"})
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise ValidationError("Quiet hours need both a start and an end.")


class Delivery(models.Model):
    """One outbound message to one recipient on one channel: the outbox every app sends through."""

    class Channel(models.TextChoices):
        # the column stays for another channel (SMS, push); an "in-app" one nothing planned or showed went
        # in customers 0011
        EMAIL = "email", "E-mail"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed"
        #: waiting for something outside the outbox (the customer's open ticket to be solved); released to
        #: ``queued`` by its owner's beat job, or ``suppressed`` when ``next_attempt_at`` (the hold's end) passes
        HELD = "held", "Held"
        BOUNCED = "bounced", "Bounced"

    idempotency_key = models.CharField(max_length=200)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,  # the (customer, -created_at) index serves the foreign key too
    )
    recipient = models.EmailField(max_length=254, help_text="Where an e-mail goes; the customer's at the time.")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    category = models.CharField(max_length=20, choices=Category.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField(help_text="Plain text.")
    html_body = models.TextField(blank=True, help_text="Sanitized HTML alternative.")
    headers = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=64, blank=True, help_text="What caused it, e.g. ticket:42.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    suppressed_reason = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(
        default=django_timezone.now, help_text="Not sent before this time; for a held row, when the hold expires."
    )
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="The sending chunk's lease: extended while it sends, re-queued once it lapses."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        # Few indexes: a fan-out writes each row three times (queued, sending, sent), and every write
        # touches every index whose predicate the row matches. A constraint rather than unique=True,
        # so PostgreSQL gets no extra LIKE index on the key; category alone selects nothing useful.
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="customers_delivery_key")]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="customers_delivery_customer"),
            models.Index(fields=["next_attempt_at"], condition=Q(status="queued"), name="customers_delivery_due"),
            models.Index(fields=["claimed_until"], condition=Q(status="sending"), name="customers_delivery_lease"),
            models.Index(fields=["claim_token"], condition=Q(status="sending"), name="customers_delivery_claim"),
            models.Index(fields=["source", "status"], name="customers_delivery_source"),
            # the release job's scan of held rows (a small set: only announcements to customers with open tickets)
            models.Index(fields=["next_attempt_at"], condition=Q(status="held"), name="customers_delivery_held"),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} to {self.recipient} ({self.status})"
