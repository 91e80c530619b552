"""Signals (named conditions over a customer), their matches and health scores, playbooks and their runs.

Models hold data and constraints only: evaluation lives in ``playbooks.services.signals``, runs in
``playbooks.services.runs``. Each signal kind's parameters are a JSON object that
``playbooks.kinds`` validates (the admin form edits it through real fields).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer, Organization, Tag


class SignalKind(models.TextChoices):
    USAGE_DROP = "usage_drop", "Usage drop"
    USAGE_SPIKE = "usage_spike", "Usage spike"
    REPEATED_TICKETS = "repeated_tickets", "Repeated tickets"
    NEGATIVE_SENTIMENT = "negative_sentiment", "Negative sentiment"
    DATE_AHEAD = "date_ahead", "Date ahead"
    SERVICE_PAIN = "service_pain", "Service pain"
    EVENT_HAPPENED = "event_happened", "Event happened"
    MILESTONE_MISSING = "milestone_missing", "Milestone missing"


class Signal(models.Model):
    """A named condition evaluated for every customer (or organization) at once on the beat schedule."""

    class Scope(models.TextChoices):
        CUSTOMER = "customer", "Each customer"
        ORGANIZATION = "organization", "Each organization (summed over its customers)"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=24, choices=SignalKind.choices)
    params = models.JSONField(default=dict, blank=True)
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.CUSTOMER)
    weight = models.PositiveSmallIntegerField(
        default=20, help_text="Points taken off the health score (0-100) while the signal holds."
    )
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    interval_seconds = models.PositiveIntegerField(
        default=300, help_text="How often it is evaluated; 'event happened' signals run on every beat."
    )
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from playbooks.kinds import ORGANIZATION_KINDS, params_validate  # noqa: PLC0415  (kinds imports models)

        self.params = params_validate(self.kind, self.params or {})
        if self.scope == self.Scope.ORGANIZATION and self.kind not in ORGANIZATION_KINDS:
            raise ValidationError({"scope": f"A {self.get_kind_display()} signal is evaluated per customer."})


class SignalMatch(models.Model):
    """One customer for whom a signal holds (``cleared_at`` empty) or held, with the numbers that made it true."""

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="matches")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="signal_matches")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="signal_matches"
    )
    evidence = models.TextField(help_text="The story in words, e.g. 'login per week: 9, 4, 1, 1'.")
    evidence_data = models.JSONField(default=dict, blank=True)
    matched_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-matched_at", "-id"]
        verbose_name_plural = "signal matches"
        constraints = [
            models.UniqueConstraint(
                fields=["signal", "customer"], condition=Q(cleared_at__isnull=True), name="playbooks_match_one_active"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-matched_at"], name="playbooks_match_customer"),
            models.Index(fields=["organization"], condition=Q(cleared_at__isnull=True), name="playbooks_match_org"),
        ]

    def __str__(self) -> str:
        return f"{self.signal} for {self.customer_id}"

    @property
    def is_active(self) -> bool:
        return self.cleared_at is None


class CustomerHealth(models.Model):
    """0-100: 100 minus the weights of the customer's active signals; no row means 100."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="health")
    score = models.PositiveSmallIntegerField(default=100, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "customer health"

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score}"


class OrganizationHealth(models.Model):
    """0-100: 100 minus the weights of the signals active for any of its customers; no row means 100."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="health")
    score = models.PositiveSmallIntegerField(default=100, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "organization health"

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.score}"


class Playbook(models.Model):
    """What we do, step by step, for each customer a signal matches."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, help_text="The intent, e.g. 'win back accounts whose usage fell'.")
    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, related_name="playbooks")
    segment = models.ForeignKey(
        "outreach.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only customers in this segment.",
    )
    owner_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_playbooks",
        help_text="Proactive tickets are assigned to this agent.",
    )
    owner_queue = models.ForeignKey(
        "tickets.Queue",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Proactive tickets land in this queue.",
    )
    cooldown_days = models.PositiveIntegerField(
        default=30, help_text="Do not start again for the same customer within this many days."
    )
    is_active = models.BooleanField(default=False, help_text="Start runs for new matches and advance them.")
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from core.roles import is_agent  # noqa: PLC0415

        if self.owner_agent_id is None and self.owner_queue_id is None:
            raise ValidationError("Choose an owner: an agent, a queue, or both.")
        if self.owner_agent_id is not None and not is_agent(self.owner_agent):
            raise ValidationError({"owner_agent": f"{self.owner_agent} is not an agent."})


class StepAction(models.TextChoices):
    SEND_TEMPLATE = "send_template", "Send a template"
    CREATE_TICKET = "create_ticket", "Create a proactive ticket"
    ADD_TAG = "add_tag", "Add a tag to the customer"
    REMOVE_TAG = "remove_tag", "Remove a tag from the customer"
    WAIT = "wait", "Wait"
    CHECK = "check", "Check, else stop"
    NOTIFY_MANAGER = "notify_manager", "Notify a manager"


class CheckMode(models.TextChoices):
    SIGNAL_HOLDS = "signal_holds", "The signal still holds"
    EVENT_HAPPENED = "event_happened", "An event of the kind has happened since the run started"


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=16, choices=StepAction.choices)
    template = models.ForeignKey(
        "outreach.Template", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Send."
    )
    tag = models.ForeignKey(Tag, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Tags.")
    articles = models.ManyToManyField(
        "knowledge.Article", blank=True, related_name="+", help_text="Create ticket: articles linked in the ticket."
    )
    wait_days = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, help_text="Wait: days (0.5 is twelve hours)."
    )
    check_mode = models.CharField(max_length=16, choices=CheckMode.choices, blank=True)
    check_event_kind = models.CharField(max_length=64, blank=True, help_text="Check: the event kind awaited.")
    notify_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Notify: whom (empty: the owner agent).",
    )
    note = models.CharField(max_length=300, blank=True, help_text="Create ticket / notify: a line for the agent.")

    class Meta:
        ordering = ["playbook", "position"]
        constraints = [models.UniqueConstraint(fields=["playbook", "position"], name="playbooks_step_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_action_display()}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.action == StepAction.SEND_TEMPLATE and self.template_id is None:
            errors["template"] = "Choose the template to send."
        if self.action in (StepAction.ADD_TAG, StepAction.REMOVE_TAG) and self.tag_id is None:
            errors["tag"] = "Choose the tag."
        if self.action == StepAction.WAIT and (self.wait_days is None or self.wait_days <= 0):
            errors["wait_days"] = "How many days to wait (more than 0)."
        if self.action == StepAction.CHECK:
            if not self.check_mode:
                errors["check_mode"] = "Choose what to check."
            elif self.check_mode == CheckMode.EVENT_HAPPENED and not self.check_event_kind:
                errors["check_event_kind"] = "Which event kind to look for."
        if errors:
            raise ValidationError(errors)


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATES = (RunState.RUNNING, RunState.WAITING)
_ACTIVE_RUN = Q(state__in=list(ACTIVE_RUN_STATES))


class PlaybookRun(models.Model):
    """One playbook for one customer, advanced step by step by ``playbooks.advance_runs``."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="runs")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="playbook_runs")
    match = models.ForeignKey(SignalMatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.RUNNING)
    #: the position of the next step to run (steps are taken in position order)
    current_step = models.PositiveSmallIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="playbook_runs"
    )
    evidence = models.TextField(blank=True, help_text="The match's evidence when the run started.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["playbook", "customer"], condition=_ACTIVE_RUN, name="playbooks_run_one_active"
            ),
        ]
        indexes = [
            models.Index(fields=["next_due_at"], condition=_ACTIVE_RUN, name="playbooks_run_due"),
            models.Index(fields=["playbook", "customer", "-started_at"], name="playbooks_run_cooldown"),
            models.Index(fields=["customer", "-started_at"], name="playbooks_run_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.playbook} for {self.customer_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_RUN_STATES


class PlaybookRunLog(models.Model):
    """What one step did for one run. Unique per (run, position): the guard that a step never runs twice."""

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        WAITING = "waiting", "Waiting"
        STOPPED = "stopped", "Stopped the run"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="logs")
    position = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=16, choices=StepAction.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="playbooks_runlog_once")]

    def __str__(self) -> str:
        return f"{self.run_id} step {self.position}: {self.outcome}"
