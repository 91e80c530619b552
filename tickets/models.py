"""Queues, tickets, messages, attachments, macros, the audit trail and SLA.

Models hold data and constraints only: every change goes through
``tickets.services`` (which writes the audit events, bumps ``version`` and
maintains the denormalized SLA columns) and every read through
``tickets.selectors`` (which scopes by viewer).
"""

import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Organization, Tag, validate_timezone

#: the sort key of a ticket without any SLA target: after every real due time
SLA_NEVER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


#: statuses of work not yet done: the queue's "open" views and their partial indexes
UNSOLVED_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
#: statuses whose SLA clocks run
CLOCK_RUNNING_STATUSES = (Status.NEW, Status.OPEN)
#: statuses whose SLA clocks are paused (waiting on the customer / a third party / solved)
CLOCK_PAUSED_STATUSES = (Status.PENDING, Status.ON_HOLD, Status.SOLVED)

_UNSOLVED = Q(status__in=list(UNSOLVED_STATUSES))


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


#: ``priority_rank`` of each priority; sorting "by priority" is by this column
PRIORITY_RANK = {Priority.LOW: 1, Priority.NORMAL: 2, Priority.HIGH: 3, Priority.URGENT: 4}


class Kind(models.TextChoices):
    QUESTION = "question", "Question"
    INCIDENT = "incident", "Incident"
    PROBLEM = "problem", "Problem"
    TASK = "task", "Task"
    PROACTIVE = "proactive", "Proactive"


class Channel(models.TextChoices):
    WEB = "web", "Web"
    EMAIL = "email", "E-mail"
    API = "api", "API"
    AGENT = "agent", "Agent"
    PROACTIVE = "proactive", "Proactive"


class SLATargetKind(models.TextChoices):
    FIRST_REPLY = "first_reply", "First reply"
    NEXT_REPLY = "next_reply", "Next reply"
    RESOLUTION = "resolution", "Resolution"


# --- business calendars and SLA policies -----------------------------------------------------


def default_weekly_hours() -> dict[str, list[list[str]]]:
    """Monday to Friday, 09:00-17:00. Keys are ISO weekdays minus one (0 = Monday)."""
    return {str(day): [["09:00", "17:00"]] for day in range(5)}


class BusinessCalendar(models.Model):
    """When the team works: weekly hours in a time zone, minus holidays."""

    name = models.CharField(max_length=120, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    weekly_hours = models.JSONField(
        default=default_weekly_hours,
        help_text='Per weekday (0 = Monday) a list of [start, end] wall-clock times, e.g. {"0": [["09:00", "17:00"]]}; '
        '"24:00" ends at midnight.',
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.timezone})"

    def clean(self) -> None:
        from tickets.business_time import parse_weekly_hours  # noqa: PLC0415

        try:
            parse_weekly_hours(self.weekly_hours)
        except ValueError as exc:
            raise ValidationError({"weekly_hours": str(exc)}) from exc


class Holiday(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="tickets_holiday_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class SLAPolicy(models.Model):
    """Targets per priority. The first active policy (by ``position``) whose conditions all match applies.

    Empty conditions match anything; a policy with no conditions at all is the fallback.
    """

    name = models.CharField(max_length=120, unique=True)
    position = models.PositiveIntegerField(default=100, help_text="Lower is tried first.")
    is_active = models.BooleanField(default=True)
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text="Targets are measured in this calendar's business time; empty means around the clock.",
    )
    queues = models.ManyToManyField("Queue", blank=True, related_name="+", help_text="Condition: one of these queues.")
    priorities = models.JSONField(default=list, blank=True, help_text='Condition: e.g. ["high", "urgent"].')
    plans = models.JSONField(default=list, blank=True, help_text='Condition: organization plan, e.g. ["enterprise"].')
    raise_priority_on_breach = models.BooleanField(
        default=False, help_text="Raise the ticket's priority one step when a target is breached."
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if problem := _choice_list_problem(self.priorities, Priority.values, "priority"):
            errors["priorities"] = problem
        if problem := _choice_list_problem(self.plans, Organization.Plan.values, "plan"):
            errors["plans"] = problem
        if errors:
            raise ValidationError(errors)


def _choice_list_problem(value: object, allowed: list[str], noun: str) -> str:
    """Why ``value`` is not a list of some of ``allowed`` ("" when it is): ["hgih", 3] is refused."""
    if not isinstance(value, list):
        return f"A list of {noun} values, e.g. [{allowed[-1]!r}]."
    unknown = [item for item in value if not isinstance(item, str) or item not in allowed]
    if unknown:
        return f"Unknown {noun}: {', '.join(repr(item) for item in unknown)}; one of {', '.join(allowed)}."
    return ""


class SLATarget(models.Model):
    """Minutes of business time per target for one priority of one policy; empty means no target."""

    policy = models.ForeignKey(SLAPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    first_reply_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_reply_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "priority"]
        verbose_name = "SLA target"
        constraints = [models.UniqueConstraint(fields=["policy", "priority"], name="tickets_slatarget_unique")]

    def __str__(self) -> str:
        return f"{self.policy} / {self.priority}"

    def clean(self) -> None:
        errors = {
            name: "At least 1 minute; leave it empty for no target."
            for name in ("first_reply_minutes", "next_reply_minutes", "resolution_minutes")
            if getattr(self, name) == 0
        }
        if errors:
            raise ValidationError(errors)

    def minutes_for(self, kind: str) -> int | None:
        return getattr(self, f"{kind}_minutes")


# --- queues ------------------------------------------------------------------------------------


class Queue(models.Model):
    """A team's inbox."""

    class AssignmentMode(models.TextChoices):
        MANUAL = "manual", "Manual"
        ROUND_ROBIN = "round_robin", "Round-robin among available members"

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="QueueMembership", related_name="ticket_queues", blank=True
    )
    default_sla_policy = models.ForeignKey(
        SLAPolicy,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="default_for_queues",
        help_text="Used when no conditional policy matches.",
    )
    assignment_mode = models.CharField(max_length=20, choices=AssignmentMode.choices, default=AssignmentMode.MANUAL)
    #: the member who got the last round-robin ticket; read and moved under the queue row's lock
    round_robin_last = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class QueueMembership(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_memberships")
    is_available = models.BooleanField(default=True, help_text="Takes round-robin assignments.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["queue", "agent"]
        constraints = [models.UniqueConstraint(fields=["queue", "agent"], name="tickets_queuemembership_unique")]
        indexes = [models.Index(fields=["agent", "queue"], name="tickets_membership_agent")]

    def __str__(self) -> str:
        return f"{self.agent} in {self.queue}"


# --- custom fields ------------------------------------------------------------------------------


class CustomField(models.Model):
    """A typed field managers define; values live in ``Ticket.custom_fields`` under ``key``."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        CHOICE = "choice", "Choice"
        CHECKBOX = "checkbox", "Checkbox"

    key = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=120)
    type = models.CharField(max_length=10, choices=Type.choices)
    choices = models.JSONField(default=list, blank=True, help_text='For "choice": the allowed values.')
    required = models.BooleanField(default=False, help_text="Required to solve the ticket.")
    position = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        values = self.choices
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            raise ValidationError({"choices": "A list of non-empty text values."})
        if self.type == self.Type.CHOICE and not values:
            raise ValidationError({"choices": 'A "choice" field needs the values to choose from.'})
        if self.type != self.Type.CHOICE and values:
            raise ValidationError({"choices": 'Only a "choice" field has values to choose from.'})


# --- tickets ----------------------------------------------------------------------------------------


def _sla_sort_key() -> Coalesce:
    return Coalesce("next_sla_due_at", models.Value(SLA_NEVER, output_field=models.DateTimeField()))


class Ticket(models.Model):
    number = models.PositiveBigIntegerField(unique=True, editable=False, help_text="Shown as #1042.")
    subject = models.CharField(max_length=300)
    # indexed by the composite indexes below (requester, organization)
    requester = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tickets", db_index=False)
    #: the requester's organization when the ticket was created (filters and shared visibility without a join)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets", db_index=False
    )
    ccs = models.ManyToManyField(Customer, blank=True, related_name="followed_tickets")
    #: the help-center account that filed it; an account whose address is not confirmed sees only these
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="submitted_tickets"
    )
    requester_unverified = models.BooleanField(
        default=False,
        help_text="Filed in the requester's name without proof that it is them: from the help center without "
        "signing in, for a customer who has an account, or by an account whose address is not confirmed.",
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    priority_rank = models.PositiveSmallIntegerField(default=PRIORITY_RANK[Priority.NORMAL], editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.QUESTION)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    #: optimistic concurrency: +1 on every change; services take ``expected_version``
    version = models.PositiveIntegerField(default=1)

    # links
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets"
    )
    follow_up_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    split_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="splits")

    # milestones, stored when they happen so that reports aggregate in SQL
    first_agent_reply_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    first_reply_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Business minutes.")
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Business minutes.")

    # SLA, maintained by the services
    sla_policy = models.ForeignKey(
        SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    first_reply_due_at = models.DateTimeField(null=True, blank=True)
    next_reply_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    #: the earliest of the due times above: the queue's "time left" column and SLA sort
    next_sla_due_at = models.DateTimeField(null=True, blank=True)
    #: business minutes left per target while the clock is paused, e.g. {"resolution": 312}
    sla_paused_remaining = models.JSONField(default=dict, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    #: when ``sla_scan`` next needs to look at this ticket (a warning or a breach is due)
    sla_scan_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            # the queue's sorts over unsolved tickets: partial, so "status IN (...) ORDER BY" is an index scan
            models.Index(fields=["-updated_at", "-id"], condition=_UNSOLVED, name="tickets_open_updated"),
            models.Index(
                fields=["-priority_rank", "-updated_at", "-id"], condition=_UNSOLVED, name="tickets_open_priority"
            ),
            models.Index(_sla_sort_key(), "id", condition=_UNSOLVED, name="tickets_open_sla"),
            # "my open tickets"
            models.Index(fields=["assignee", "-updated_at", "-id"], condition=_UNSOLVED, name="tickets_open_asg_upd"),
            models.Index(
                fields=["assignee", "-priority_rank", "-updated_at", "-id"],
                condition=_UNSOLVED,
                name="tickets_open_asg_prio",
            ),
            models.Index("assignee", _sla_sort_key(), "id", condition=_UNSOLVED, name="tickets_open_asg_sla"),
            # one queue
            models.Index(fields=["queue", "-updated_at", "-id"], condition=_UNSOLVED, name="tickets_open_queue_upd"),
            models.Index(
                fields=["queue", "-priority_rank", "-updated_at", "-id"],
                condition=_UNSOLVED,
                name="tickets_open_queue_prio",
            ),
            # "unassigned in my queues"
            models.Index(
                fields=["queue", "-updated_at", "-id"],
                condition=_UNSOLVED & Q(assignee__isnull=True),
                name="tickets_open_unassigned",
            ),
            # "proactive" and "escalated" are small sets
            models.Index(
                fields=["-updated_at", "-id"], condition=_UNSOLVED & Q(kind="proactive"), name="tickets_open_proactive"
            ),
            models.Index(
                fields=["-updated_at", "-id"],
                condition=_UNSOLVED & Q(escalated_at__isnull=False),
                name="tickets_open_escalated",
            ),
            # any status: "all tickets", one status, "changed since"
            models.Index(fields=["-updated_at", "-id"], name="tickets_updated"),
            models.Index(fields=["status", "-updated_at", "-id"], name="tickets_status_updated"),
            # the requester's and the organization's other tickets
            models.Index(fields=["requester", "-created_at", "-id"], name="tickets_requester"),
            models.Index(fields=["organization", "-updated_at", "-id"], name="tickets_organization"),
            # beat jobs
            models.Index(fields=["sla_scan_at"], condition=Q(sla_scan_at__isnull=False), name="tickets_sla_scan"),
            models.Index(fields=["solved_at"], condition=Q(status="solved"), name="tickets_solved_autoclose"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(priority_rank__gte=1, priority_rank__lte=4), name="tickets_prio_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("agent-ticket-detail", args=[self.pk])

    def get_absolute_help_url(self) -> str:
        """The requester's page of this ticket in the help center."""
        return reverse("help-request-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"#{self.number}"

    @property
    def is_closed(self) -> bool:
        return self.status == Status.CLOSED

    @property
    def customer_status_label(self) -> str:
        """The status as the help center words it for the requester."""
        return {
            Status.NEW: "Open", Status.OPEN: "Open", Status.PENDING: "Awaiting your reply",
            Status.ON_HOLD: "Open", Status.SOLVED: "Solved", Status.CLOSED: "Closed",
        }[Status(self.status)]  # fmt: skip

    @property
    def is_unsolved(self) -> bool:
        return self.status in UNSOLVED_STATUSES

    @property
    def sla_paused(self) -> bool:
        return self.sla_paused_at is not None

    def sla_seconds_left(self, now: dt.datetime | None = None) -> int | None:
        """Seconds to the next SLA target (negative when breached); None without a running target."""
        if self.next_sla_due_at is None:
            return None
        return int((self.next_sla_due_at - (now or timezone.now())).total_seconds())


class Message(models.Model):
    """A public reply or an internal note, by an agent or by a customer."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="ticket_messages"
    )
    author_customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="ticket_messages"
    )
    is_internal = models.BooleanField(default=False, help_text="An internal note, never shown to the customer.")
    by_agent = models.BooleanField(default=False)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    body = models.TextField(help_text="Markdown source.")
    body_html = models.TextField(help_text="Sanitized HTML rendered from the source.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    #: where the message was before a merge or split moved it
    moved_from = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    #: a customer message's sentiment, -1 to 1 (``tickets.sentiment``), stored when it arrives
    sentiment = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="tickets_message_thread")]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_internal=False) | Q(by_agent=True), name="tickets_message_internal_by_agent"
            ),
        ]

    def __str__(self) -> str:
        kind = "note" if self.is_internal else "reply"
        return f"{kind} {self.pk} on ticket {self.ticket_id}"

    @property
    def author_name(self) -> str:
        if self.author_user_id:
            return str(self.author_user)
        if self.author_customer_id:
            return self.author_customer.name
        return ""

    @property
    def sentiment_label(self) -> str:
        from tickets.sentiment import sentiment_label  # noqa: PLC0415  (loads the lexicon only when used)

        return sentiment_label(self.sentiment)


def attachment_upload_to(instance: "Attachment", filename: str) -> str:
    """A random name: the original one is kept in ``filename`` and never touches the file system."""
    now = timezone.now()
    return f"tickets/{now:%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_upload_to, max_length=200)
    filename = models.CharField(max_length=255, help_text="The name it was uploaded with.")
    content_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class TicketEvent(models.Model):
    """The audit trail: who changed what, from what, to what, when."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        CHANGED = "changed", "Field changed"
        REPLIED = "replied", "Public reply"
        NOTE = "note", "Internal note"
        CUSTOMER_REPLIED = "customer_replied", "Customer reply"
        MERGED = "merged", "Merged"
        SPLIT = "split", "Split"
        MACRO = "macro", "Macro applied"
        SLA_WARNING = "sla_warning", "SLA warning"
        SLA_BREACH = "sla_breach", "SLA breach"
        AUTO_CLOSED = "auto_closed", "Closed automatically"
        FOLLOW_UP = "follow_up", "Follow-up created"
        RATED = "rated", "Satisfaction rated"
        MENTIONED = "mentioned", "Mentions another ticket"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    field = models.CharField(max_length=64, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="tickets_event_timeline")]

    def __str__(self) -> str:
        if self.field:
            return f"{self.field}: {self.old_value!r} → {self.new_value!r}"
        return self.get_kind_display()


class SatisfactionRating(models.Model):
    """The requester's satisfaction rating of a solved ticket: one per ticket, offered once (``ticket_rate``).

    Good or bad, as Zendesk asks it; a bad one may say why. Reports read CSAT (good / all) per period
    from ``created_at`` (``tickets.selectors.csat_for_period``).
    """

    class Score(models.TextChoices):
        GOOD = "good", "Good"
        BAD = "bad", "Bad"

    class Reason(models.TextChoices):
        NONE = "", "No reason given"
        NOT_RESOLVED = "not_resolved", "The issue is not resolved"
        TOO_LONG = "too_long", "The issue took too long to resolve"
        KNOWLEDGE = "knowledge", "The answer did not know enough"
        ATTITUDE = "attitude", "The tone of the answer"
        OTHER = "other", "Some other reason"

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="satisfaction_rating")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="satisfaction_ratings"
    )
    score = models.CharField(max_length=4, choices=Score.choices)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True, default="")
    comment = models.TextField(blank=True)
    #: the ticket's assignee when it was rated (CSAT per agent without following later reassignments)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at", "score"], name="tickets_rating_period")]

    def __str__(self) -> str:
        return f"{self.get_score_display()} for ticket {self.ticket_id}"


class SLAEvent(models.Model):
    """A warning or a breach of one target's due time, recorded once by ``sla_scan``."""

    class Kind(models.TextChoices):
        WARNING = "warning", "Warning"
        BREACH = "breach", "Breach"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_events")
    target = models.CharField(max_length=12, choices=SLATargetKind.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    #: for a breach: when the target was finally met and by how many wall-clock minutes it was late
    met_at = models.DateTimeField(null=True, blank=True)
    overdue_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "SLA event"
        constraints = [
            models.UniqueConstraint(fields=["ticket", "target", "kind", "due_at"], name="tickets_slaevent_once"),
        ]
        indexes = [models.Index(fields=["kind", "created_at"], name="tickets_slaevent_kind_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.get_target_display()} on {self.ticket_id}"


# --- macros, views, presence ---------------------------------------------------------------------


class Macro(models.Model):
    """A canned reply with ``{{ customer.name }}``-style placeholders that can also change the ticket."""

    name = models.CharField(max_length=120, unique=True)
    body = models.TextField(
        blank=True,
        help_text="Markdown. Placeholders: {{ customer.name }}, {{ customer.first_name }}, {{ customer.email }}, "
        "{{ organization.name }}, {{ ticket.reference }}, {{ ticket.subject }}, {{ agent.name }}, "
        "{{ agent.first_name }}.",
    )
    is_internal = models.BooleanField(default=False, help_text="Add the text as an internal note.")
    set_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    set_priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    set_queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    set_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    remove_tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="ticket_macros",
        help_text="Empty: shared with every agent.",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class SavedView(models.Model):
    """An agent's saved queue filter; ``filters`` holds the same keys ``ticket_list`` takes."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_ticket_views")
    name = models.CharField(max_length=120)
    filters = models.JSONField(default=dict, blank=True)
    is_shared = models.BooleanField(default=False, help_text="Every agent sees it.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="tickets_savedview_unique")]

    def __str__(self) -> str:
        return self.name


class TicketViewer(models.Model):
    """Presence: an agent had the ticket open at ``last_seen_at`` (the page pings while open)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="viewers")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "agent"], name="tickets_ticketviewer_unique")]
        indexes = [models.Index(fields=["ticket", "last_seen_at"], name="tickets_viewer_recent")]

    def __str__(self) -> str:
        return f"{self.agent} on {self.ticket_id}"


# the e-mail channel's models live beside its code; imported here so that Django finds them in this app
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId  # noqa: E402, F401
