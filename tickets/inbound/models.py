"""Mailboxes, the raw messages they receive, and the Message-IDs that thread a conversation.

Imported by ``tickets.models`` so that Django finds them in the tickets app (they create tickets and
messages, and stand on the customers app like the rest of tickets).
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Mailbox(models.Model):
    """A support address: where its mail comes from, and where its new tickets go."""

    class Accept(models.TextChoices):
        ANYONE = "anyone", "Anyone (unknown senders become customers)"
        KNOWN = "known", "Known customers only"

    class Source(models.TextChoices):
        PUSH = "push", "Pushed to us (the API or an MTA pipe)"
        WEBHOOK = "webhook", "An e-mail service's inbound webhook (Mailgun, Postmark, SendGrid, SES, ...)"
        IMAP = "imap", "IMAP polling"
        FOLDER = "folder", "A drop folder of .eml files"

    class ImapSecurity(models.TextChoices):
        SSL = "ssl", "TLS (port 993)"
        STARTTLS = "starttls", "STARTTLS (port 143)"
        NONE = "none", "None (local test servers only)"

    class AfterImport(models.TextChoices):
        SEEN = "seen", "Mark as seen"
        MOVE = "move", "Move to a folder"
        DELETE = "delete", "Delete"

    address = models.EmailField(unique=True, help_text="The support address, e.g. support@example.com.")
    name = models.CharField(max_length=120, blank=True, help_text="Shown as the sender name of ticket e-mail.")
    queue = models.ForeignKey("tickets.Queue", on_delete=models.PROTECT, related_name="mailboxes")
    accept = models.CharField(max_length=10, choices=Accept.choices, default=Accept.ANYONE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PUSH)
    is_active = models.BooleanField(default=True)
    cc_recipients = models.BooleanField(
        "copy other recipients",
        default=True,
        help_text="People in To/Cc of a new ticket's e-mail (other than our addresses) are put in copy.",
    )
    acknowledge = models.BooleanField(
        "acknowledge new tickets",
        default=True,
        help_text="Answer the e-mail that opens a ticket with its reference (never a machine's mail; at most "
        "INBOUND_AUTO_REPLIES_PER_HOUR automatic answers an hour to one address, so two systems cannot loop).",
    )
    open_tickets_for_bulk = models.BooleanField(
        default=False, help_text="Bulk and list mail that answers no ticket opens one (off: it is only logged)."
    )
    imap_host = models.CharField(max_length=253, blank=True)
    imap_port = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: 993 for TLS, else 143.")
    imap_security = models.CharField(max_length=10, choices=ImapSecurity.choices, default=ImapSecurity.SSL)
    imap_user = models.CharField(max_length=254, blank=True)
    imap_password = models.CharField(max_length=500, blank=True)
    imap_folder = models.CharField(max_length=200, default="INBOX")
    after_import = models.CharField(max_length=10, choices=AfterImport.choices, default=AfterImport.SEEN)
    move_to_folder = models.CharField(max_length=200, blank=True)
    folder_path = models.CharField(
        max_length=500, blank=True, help_text="For a drop folder: where .eml files are picked up."
    )
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_poll_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.address

    def save(self, *args: object, **kwargs: object) -> None:
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def local_part(self) -> str:
        return self.address.split("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1]


class InboundEmail(models.Model):
    """One received message, stored raw before anything reads it, so that nothing is lost."""

    class State(models.TextChoices):
        NEW = "new", "Waiting to be processed"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed, will be retried"
        QUARANTINED = "quarantined", "Quarantined"

    class Via(models.TextChoices):
        API = "api", "API"
        PIPE = "pipe", "MTA pipe"
        IMAP = "imap", "IMAP"
        FOLDER = "folder", "Drop folder"
        WEBHOOK = "webhook", "Webhook"

    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="inbound_emails")
    message_id = models.CharField(max_length=998, blank=True, help_text="Without the angle brackets.")
    body_hash = models.CharField(max_length=64, help_text="SHA-256 of the body: the key of a message without an id.")
    raw = models.BinaryField(help_text="The message as it arrived.")
    size = models.PositiveIntegerField()
    via = models.CharField(max_length=10, choices=Via.choices)
    sender = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.NEW)
    outcome = models.CharField(max_length=300, blank=True, help_text="What processing did, or why it did nothing.")
    attempts = models.PositiveSmallIntegerField(default=0)
    interrupted = models.PositiveSmallIntegerField(
        default=0,
        help_text="Attempts that never finished: the worker processing the message died (a crash, out of memory) "
        "or was killed at its time limit.",
    )
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the attempt under way started (committed before it reads the message)."
    )
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_emails"
    )
    ticket_message = models.OneToOneField(
        "tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_email"
    )
    text = models.TextField(blank=True, help_text="The whole text as sent, quotes and signature included.")
    automated = models.CharField(max_length=200, blank=True, help_text="Why we think a machine wrote it.")
    suspicious = models.CharField(max_length=200, blank=True, help_text="What the receiving server said failed.")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "message_id"], condition=~Q(message_id=""), name="tickets_inbound_message_id"
            ),
            models.UniqueConstraint(
                fields=["mailbox", "body_hash"], condition=Q(message_id=""), name="tickets_inbound_body_hash"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state__in=["new", "failed"]), name="tickets_inbound_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender or 'unknown sender'}: {self.subject or '(no subject)'}"


class MailThreadId(models.Model):
    """A Message-ID that belongs to a ticket: one we sent, or one we received on it (routes In-Reply-To)."""

    message_id = models.CharField(max_length=998, unique=True, help_text="Without the angle brackets.")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="mail_thread_ids")
    outbound = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "created_at"], name="tickets_mailthread_ticket")]

    def __str__(self) -> str:
        return self.message_id
