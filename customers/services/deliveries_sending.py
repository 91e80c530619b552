"""The outbox, sending: claiming planned ``Delivery`` rows, sending them, recovering lost ones.

``deliveries_send`` claims rows with a conditional update (so a task delivered twice sends nothing
twice), sends a chunk over one connection, marks each row as soon as the server accepted it, backs off
on transient errors and records permanent ones (a recipient's refusal affects its row only; a failed
session puts the rest of the chunk back). ``deliveries_sweep`` (beat) re-queues rows whose sending chunk
stopped extending its lease (a dead worker) and enqueues due rows whose task was lost, which also closes
the gap between commit and publish. Delivery is at-least-once: see README "How delivery works".
"""

import contextlib
import datetime as dt
import hashlib
import logging
import random
import smtplib
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import F, Field, Q
from django.utils import timezone

from core.conf import helpdesk_setting
from customers.models import ESSENTIAL_CATEGORIES, Category, ContactPreference, Customer, Delivery
from customers.services.deliveries_planning import deliveries_enqueue, delivery_queue_for
from customers.services.mime import email_envelope_build

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


class _Transient(Exception):
    """This recipient, not now (a full mailbox, greylisting: 4xx to RCPT or DATA): that row backs off."""


class _Permanent(Exception):
    """This recipient, never (5xx): that row fails with its own error."""


class _Connection(Exception):
    """The session, not the recipient (connect, 421, dropped): this row and the rest of the chunk back off."""


#: "service not available, closing transmission channel": about the server, whichever command it answers
_SMTP_CLOSING = 421


def _classify(exc: Exception) -> type[Exception]:
    """Whose fault an error is. With one recipient per envelope, a reply to RCPT or DATA is about that
    recipient, so one mailbox answering 450 delays only its own row; a refused sender (MAIL FROM),
    421 or a dropped session is about the server and would hit every next row the same way."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if _SMTP_CLOSING in codes:
            return _Connection
        return _Permanent if codes and all(code >= 500 for code in codes) else _Transient
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code == _SMTP_CLOSING:
            return _Connection
        if exc.smtp_code >= 500:
            return _Permanent
        return _Transient if isinstance(exc, smtplib.SMTPDataError) else _Connection
    if isinstance(exc, smtplib.SMTPException | ConnectionError | socket.timeout | TimeoutError | OSError):
        return _Connection
    return _Permanent


def delivery_message_id(key: str) -> str:
    """The Message-ID (with brackets) of the e-mail planned under ``key``: every attempt carries the same one."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">").strip() or "helpdesk.localhost"
    return f"<{digest}@{domain}>"


def _message_id(delivery: Delivery) -> str:
    return delivery_message_id(delivery.idempotency_key)


def delivery_email_build(delivery: Delivery, connection: Any = None) -> EmailMultiAlternatives:
    """The e-mail for a row. Its Message-ID derives from the idempotency key, so a receiver can de-duplicate."""
    message = EmailMultiAlternatives(
        subject=delivery.subject,
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
        headers={**delivery.headers, "Message-ID": _message_id(delivery)},
        connection=connection,
    )
    if delivery.html_body:
        message.attach_alternative(delivery.html_body, "text/html")
    return message


def _backoff(attempts: int) -> float:
    base = float(helpdesk_setting("DELIVERY_RETRY_BASE_SECONDS"))
    delay = min(base * (2 ** max(attempts - 1, 0)), float(helpdesk_setting("DELIVERY_RETRY_MAX_SECONDS")))
    return delay * random.uniform(1.0, 1.2)  # jitter, so retries do not stampede


def _release(rows: list[Delivery], token: uuid.UUID, error: str) -> None:
    """Put rows back in ``queued`` with back-off, or fail them when out of attempts; re-enqueue soon ones."""
    now = timezone.now()
    max_attempts = helpdesk_setting("DELIVERY_MAX_ATTEMPTS")
    by_attempts: dict[int, list[Delivery]] = defaultdict(list)
    for row in rows:
        by_attempts[row.attempts].append(row)
    retry: dict[tuple[str, float], list[int]] = defaultdict(list)
    for attempts, group in by_attempts.items():
        ids = [row.pk for row in group]
        if attempts >= max_attempts:
            Delivery.objects.filter(pk__in=ids, claim_token=token).update(
                status=Delivery.Status.FAILED,
                claim_token=None,
                last_error=f"gave up after {attempts} attempts: {error}",
            )
            continue
        delay = _backoff(attempts)
        Delivery.objects.filter(pk__in=ids, claim_token=token).update(
            status=Delivery.Status.QUEUED,
            claim_token=None,
            next_attempt_at=now + dt.timedelta(seconds=delay),
            last_error=error,
        )
        for row in group:
            retry[(delivery_queue_for(row.category), delay)].append(row.pk)
    grace = helpdesk_setting("DELIVERY_SWEEP_GRACE_SECONDS")
    for (queue, delay), ids in retry.items():
        if delay <= grace:  # longer waits are the sweeper's: no ETA beyond the broker's visibility timeout
            deliveries_enqueue({queue: ids}, countdown=delay)


def _transmit(connection: Any, delivery: Delivery) -> None:
    """One message over an open connection. For SMTP, the bytes ``email_envelope_build`` writes go straight
    to ``sendmail`` (Django's message classes and backend cost more than the rest of the send)."""
    smtp = getattr(connection, "connection", None)
    if isinstance(smtp, smtplib.SMTP):
        envelope = email_envelope_build(
            subject=delivery.subject,
            body=delivery.body,
            html_body=delivery.html_body,
            recipient=delivery.recipient,
            message_id=_message_id(delivery),
            headers=delivery.headers,
        )
        smtp.sendmail(envelope.sender, envelope.recipients, envelope.data)
    else:
        connection.send_messages([delivery_email_build(delivery, connection)])


def _send_time_reason_sql(vendor: str) -> tuple[str, list[Any]]:
    """SQL for why a row must not go now (NULL: it may), from the customer's state at send time.

    Rows wait between planning and sending: throttled and local-hour campaigns, quiet-hours holds and
    back-off keep them queued for minutes to a day, and the customer may unsubscribe or change address
    meanwhile. Essential categories (service: ticket replies, password resets; outage) always go.
    """
    categories = [c for c in Category.values if c not in ESSENTIAL_CATEGORIES]
    opted = "p.opted_out ? d.category" if vendor == "postgresql" else (
        "EXISTS (SELECT 1 FROM json_each(p.opted_out) AS j WHERE j.value = d.category)"
    )  # fmt: skip
    labels = " ".join("WHEN %s THEN %s" for _ in categories)
    params: list[Any] = []
    for category in categories:
        params += [category, f"opted out of {Category(category).label.lower()}"]
    sql = (
        f"CASE WHEN d.customer_id IS NULL OR d.category NOT IN ({', '.join(['%s'] * len(categories))}) THEN NULL "
        f"WHEN p.id IS NOT NULL AND {opted} THEN CASE d.category {labels} END "
        "WHEN d.channel = %s AND lower(c.email) <> lower(d.recipient) "
        "THEN 'the customer''s address changed after the message was planned' "
        "WHEN d.channel = %s AND c.bounced_email <> '' AND c.bounced_email = c.email "
        "THEN 'the address is undeliverable (a delivery report said so)' END"
    )
    return sql, [*categories, *params, Delivery.Channel.EMAIL, Delivery.Channel.EMAIL]


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=helpdesk_setting("DELIVERY_LEASE_SECONDS"))


def _riding_out_a_database_restart(statement: Callable[[], _T], *, until: float) -> _T:
    """Run a sending chunk's bookkeeping statement, waiting out a database restart until ``until``
    (``time.monotonic()``: shortly before the chunk's lease lapses).

    The chunk holds messages the SMTP server accepted but whose ``sent`` mark is not written yet. Giving up
    at the first ``OperationalError`` left them to the sweeper, which sent them again: one mark batch per
    worker process, 20 to 40 duplicates in every restart ``bench_fanout`` ran. Waiting and reconnecting
    marks them instead, and the chunk goes on. The wait ends before the lease does, so the sweeper never
    hands the rows to another worker while this one may still mark them. Inside a transaction there is
    nothing to reconnect to: the error goes up at once."""
    delay = 0.25
    while True:
        try:
            return statement()
        except (OperationalError, InterfaceError) as exc:
            if db_connection.in_atomic_block or time.monotonic() + delay > until:
                raise
            logger.warning("deliveries: the database is unreachable (%s); trying again in %.2f s", exc, delay)
            db_connection.close()  # the next statement connects afresh
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


_LEASE_MARGIN_SECONDS = 2.0  # the lease was set by the claim a moment before the chunk started its clock


class _Lease:
    """A chunk's proof that it is alive: it extends ``claimed_until`` of the rows it still holds
    every half lease (one UPDATE per 15 s of sending, none for a chunk that takes 3 s), so a dead
    worker's rows are re-queued by the sweeper seconds after the lease lapses, not minutes."""

    def __init__(self, token: uuid.UUID) -> None:
        self.token = token
        self.seconds = _lease().total_seconds()
        self.half = self.seconds / 2
        self.renew_at = time.monotonic() + self.half
        self.safe_until = time.monotonic() + self.seconds - _LEASE_MARGIN_SECONDS

    def keep(self) -> bool:
        """Extend the lease when half of it is gone; False if the chunk lost it (nothing left to extend:
        it was frozen past the lease and the sweeper gave its rows to another worker)."""
        if time.monotonic() < self.renew_at:
            return True
        renewing = time.monotonic()
        kept = _riding_out_a_database_restart(
            lambda: Delivery.objects.filter(claim_token=self.token, status=Delivery.Status.SENDING).update(
                claimed_until=timezone.now() + _lease()
            ),
            until=self.safe_until,
        )
        self.renew_at = time.monotonic() + self.half
        self.safe_until = renewing + self.seconds - _LEASE_MARGIN_SECONDS
        return kept > 0


def _claim(delivery_ids: Iterable[int]) -> tuple[uuid.UUID, list[Delivery], int]:
    """Claim the due rows among ``delivery_ids``; (token, rows to send, how many were suppressed).

    One conditional UPDATE claims the rows and, in the same statement, suppresses those the
    customer's current preferences or address rule out, with the reason: set-based, so a chunk of
    500 costs the same two statements as a chunk of 5, and a task delivered twice claims nothing.
    """
    ids = list(delivery_ids)
    token = uuid.uuid4()
    now = timezone.now()
    if not ids:
        return token, [], 0
    vendor = db_connection.vendor
    reason_sql, reason_params = _send_time_reason_sql(vendor)
    table = Delivery._meta.db_table

    def field(name: str) -> "Field[Any, Any]":
        concrete = Delivery._meta.get_field(name)
        assert isinstance(concrete, Field)  # a concrete column, not a relation's reverse side
        return concrete

    prep_token = field("claim_token").get_db_prep_value(token, db_connection)
    prep_now = field("claimed_at").get_db_prep_value(now, db_connection)
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {table} SET "  # noqa: S608  (names from the model, values as parameters)
        "status = CASE WHEN x.reason IS NULL THEN %s ELSE %s END, "
        "suppressed_reason = COALESCE(x.reason, ''), "
        "claim_token = CASE WHEN x.reason IS NULL THEN %s END, "
        "claimed_at = %s, claimed_until = %s, updated_at = %s, "
        "attempts = attempts + CASE WHEN x.reason IS NULL THEN 1 ELSE 0 END "
        f"FROM (SELECT d.id AS id, {reason_sql} AS reason FROM {table} d "
        f"LEFT JOIN {Customer._meta.db_table} c ON c.id = d.customer_id "
        f"LEFT JOIN {ContactPreference._meta.db_table} p ON p.customer_id = d.customer_id "
        f"WHERE d.id IN ({placeholders}) AND d.status = %s AND d.next_attempt_at <= %s) x "
        f"WHERE {table}.id = x.id AND {table}.status = %s"
    )
    lease_until = field("claimed_until").get_db_prep_value(now + _lease(), db_connection)
    params = [
        Delivery.Status.SENDING, Delivery.Status.SUPPRESSED, prep_token, prep_now, lease_until, prep_now,
        *reason_params, *ids, Delivery.Status.QUEUED, prep_now, Delivery.Status.QUEUED,
    ]  # fmt: skip
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        touched = cursor.rowcount
    rows = list(Delivery.objects.filter(claim_token=token, status=Delivery.Status.SENDING).order_by("pk"))
    return token, rows, touched - len(rows)


def deliveries_send(*, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send the given rows that are still queued and due, over one connection. Safe to run twice."""
    return _send(delivery_ids)


class _SentMarks:
    """Rows the server accepted, marked ``sent`` in small batches, each batch committed durably.

    The window in which a message can go twice is what was accepted but not yet marked: at most
    ``DELIVERY_MARK_BATCH`` messages (20) or ``DELIVERY_MARK_SECONDS`` (1 s) of them, whichever is
    fewer, when a worker dies. A PostgreSQL restart that ends before the chunk's lease (15 to 30 s left)
    costs none: the mark waits for the database to come back (and a committed mark survives a crash: the
    commit is synchronous). One UPDATE per batch rather than per message: a fan-out's
    hottest statement, and one WAL flush per 20 messages instead of one per message.
    """

    def __init__(self, token: uuid.UUID, lease: _Lease) -> None:
        self.token = token
        self.lease = lease
        self.ids: list[int] = []
        self.batch = int(helpdesk_setting("DELIVERY_MARK_BATCH"))
        self.seconds = float(helpdesk_setting("DELIVERY_MARK_SECONDS"))
        self.since = time.monotonic()
        self.marked = 0

    def add(self, pk: int) -> None:
        if not self.ids:
            self.since = time.monotonic()
        self.ids.append(pk)
        if len(self.ids) >= self.batch or time.monotonic() - self.since >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        ids = self.ids
        self.marked += _riding_out_a_database_restart(
            lambda: Delivery.objects.filter(pk__in=ids, claim_token=self.token).update(
                status=Delivery.Status.SENT, sent_at=timezone.now(), claim_token=None, last_error=""
            ),
            until=self.lease.safe_until,
        )
        self.ids = []


def _send(delivery_ids: Sequence[int]) -> dict[str, int]:
    token, rows, suppressed = _claim(delivery_ids)
    counts = {"sent": 0, "failed": 0, "retrying": 0, "suppressed": suppressed}
    if not rows:
        return counts
    emails = [row for row in rows if row.channel == Delivery.Channel.EMAIL]
    if not emails:
        return counts
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:
        _release(emails, token, f"could not connect: {type(exc).__name__}: {exc}")
        counts["retrying"] += len(emails)
        logger.warning("deliveries: cannot open a mail connection (%s); %d rows back off", exc, len(emails))
        return counts
    lease = _Lease(token)
    marks = _SentMarks(token, lease)
    try:
        for index, row in enumerate(emails):
            try:
                _transmit(connection, row)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                kind = _classify(exc)
                if kind is _Permanent:
                    Delivery.objects.filter(pk=row.pk, claim_token=token).update(
                        status=Delivery.Status.FAILED, claim_token=None, last_error=error
                    )
                    counts["failed"] += 1
                    continue
                if kind is _Transient:  # this recipient only; the session goes on with the next row
                    _release([row], token, error)
                    counts["retrying"] += 1
                    continue
                remaining = emails[index:]
                _release(remaining, token, error)
                counts["retrying"] += len(remaining)
                logger.warning("deliveries: transient error (%s); %d rows back off", error, len(remaining))
                break
            else:
                marks.add(row.pk)
            if index + 1 < len(emails) and not lease.keep():
                logger.warning("deliveries: chunk %s lost its lease; %d rows left to their new owner",
                               token, len(emails) - index - 1)  # fmt: skip
                break
        marks.flush()
    finally:
        with contextlib.suppress(Exception):  # closing a broken connection may fail; nothing is left to do
            connection.close()
    counts["sent"] += marks.marked
    return counts


def _broker_backlog(queue: str) -> int | None:
    """Messages waiting in the broker's ``queue``; None when unknown (eager tests, broker unreachable)."""
    from celery import current_app as app  # noqa: PLC0415  (the configured app; customers does not import config)

    if app.conf.task_always_eager:
        return None
    try:
        with app.connection_for_read() as conn:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
    except Exception as exc:  # Redis drops an empty list's key, and a passive declare then says NOT_FOUND
        if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
            return 0
        logger.warning("deliveries: cannot read the %s queue's length (%s)", queue, exc)
        return None


def deliveries_sweep() -> dict[str, int]:
    """Beat job: recover rows whose chunk's lease lapsed (a dead worker); enqueue due rows whose task was lost.

    Set-based: indexed range queries, bounded by ``DELIVERY_SWEEP_LIMIT``. A row is presumed lost with
    its task after ``DELIVERY_SWEEP_GRACE_SECONDS`` (20) when its queue in the broker is empty (a
    restarted Redis, or a killed worker's unacknowledged messages, which Redis hands back only after
    its visibility timeout of an hour), or after the busy grace (120) while the queue still holds
    messages (rows of a large fan-out wait there their turn). Enqueueing a row twice sends it once.
    """
    now = timezone.now()
    recovered = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_until__lt=now).update(
        status=Delivery.Status.QUEUED, claim_token=None, claimed_until=None, next_attempt_at=now
    )
    ids_by_queue: dict[str, list[int]] = defaultdict(list)
    limit = helpdesk_setting("DELIVERY_SWEEP_LIMIT")
    for queue, categories in _categories_by_queue().items():
        backlog = _broker_backlog(queue)
        grace = dt.timedelta(
            seconds=helpdesk_setting(
                "DELIVERY_SWEEP_GRACE_SECONDS" if backlog == 0 else "DELIVERY_SWEEP_BUSY_GRACE_SECONDS"
            )
        )
        # fresh rows were enqueued on commit: only those older than the grace are presumed lost; rows
        # that waited (quiet hours, back-off, send_after) or were recovered are enqueued once due
        due = (
            Delivery.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=now, category__in=categories)
            .filter(
                Q(next_attempt_at__lte=now - grace) | Q(next_attempt_at__gt=F("created_at") + grace) | Q(attempts__gt=0)
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        ids_by_queue[queue] = sorted(due)
    deliveries_enqueue(ids_by_queue)
    return {"recovered": recovered, "enqueued": sum(len(ids) for ids in ids_by_queue.values())}


def _categories_by_queue() -> dict[str, list[str]]:
    by_queue: dict[str, list[str]] = defaultdict(list)
    for category in Category.values:
        by_queue[delivery_queue_for(category)].append(category)
    return by_queue


def deliveries_retry(*, delivery_ids: Sequence[int]) -> int:
    """Send failed rows again from scratch (an agent's or manager's decision). Returns how many."""
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update()
            .filter(pk__in=list(delivery_ids), status=Delivery.Status.FAILED)
            .values_list("pk", "category")
        )
        Delivery.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=Delivery.Status.QUEUED, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
        by_queue: dict[str, list[int]] = defaultdict(list)
        for pk, category in rows:
            by_queue[delivery_queue_for(category)].append(pk)
        deliveries_enqueue(by_queue)
    return len(rows)
