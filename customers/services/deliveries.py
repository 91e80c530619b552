"""The outbox: every outbound message is a ``Delivery`` row first.

``deliver``/``deliver_many`` write rows in the caller's transaction and enqueue
their ids on commit. ``deliveries_send`` claims rows with a conditional update
(so a task delivered twice sends nothing twice), sends a chunk over one
connection, marks each row as soon as the server accepted it, backs off on
transient errors and records permanent ones. ``deliveries_sweep`` (beat)
re-queues rows left in ``sending`` by a dead worker and enqueues due rows whose
task was lost, which also closes the gap between commit and publish.
"""

import contextlib
import datetime as dt
import hashlib
import json
import logging
import random
import smtplib
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, JSONField, Q
from django.utils import timezone

from customers.models import ESSENTIAL_CATEGORIES, Category, ContactPreference, Customer, Delivery
from customers.services.mime import email_envelope

logger = logging.getLogger(__name__)

TRANSACTIONAL_QUEUE = "transactional"
BULK_QUEUE = "bulk"


def _conf(name: str) -> Any:
    return settings.HELPDESK[name]


@dataclass
class DeliveryDraft:
    """One message to plan with ``deliver_many``."""

    key: str
    category: str
    subject: str
    body: str
    customer: Customer | None = None
    recipient: str = ""
    channel: str = Delivery.Channel.EMAIL
    html_body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    source: str = ""
    send_after: dt.datetime | None = None
    #: plan the row as ``suppressed`` with this reason (a caller's rule: frequency cap, open ticket, ...);
    #: ignored for essential categories, and an opt-out's reason wins
    suppress_reason: str = ""


def quiet_hours_end(preference: ContactPreference | None, zone: Any, now: dt.datetime) -> dt.datetime | None:
    """When the customer's quiet hours end, if ``now`` falls inside them; else None.

    Quiet hours are wall-clock times in the customer's zone and may span midnight (22:00-07:00).
    """
    if preference is None or preference.quiet_hours_start is None or preference.quiet_hours_end is None:
        return None
    start, end = preference.quiet_hours_start, preference.quiet_hours_end
    if start == end:
        return None
    local = now.astimezone(zone)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_date = local.date() if t < end else local.date() + dt.timedelta(days=1)
    # a wall-clock time in a zone: fold=0 picks the first of an ambiguous hour; a skipped hour is normalised by UTC
    return dt.datetime.combine(end_date, end, tzinfo=zone).astimezone(dt.UTC)


def _policy(
    *, category: str, preference: ContactPreference | None, zone: Any, now: dt.datetime
) -> tuple[str, str, dt.datetime | None]:
    """(status, suppressed_reason, hold_until) for a new row, by the customer's contact preferences."""
    if category in ESSENTIAL_CATEGORIES or preference is None:
        return Delivery.Status.QUEUED, "", None
    if category in (preference.opted_out or []):
        return Delivery.Status.SUPPRESSED, f"opted out of {Category(category).label.lower()}", None
    return Delivery.Status.QUEUED, "", quiet_hours_end(preference, zone, now)


def _row(draft: DeliveryDraft, preference: ContactPreference | None, now: dt.datetime) -> Delivery:
    customer = draft.customer
    zone = customer.zone if customer is not None else dt.UTC
    status, reason, hold_until = _policy(category=draft.category, preference=preference, zone=zone, now=now)
    if draft.suppress_reason and status == Delivery.Status.QUEUED and draft.category not in ESSENTIAL_CATEGORIES:
        status, reason = Delivery.Status.SUPPRESSED, draft.suppress_reason[:200]
    next_attempt_at = max(filter(None, [now, draft.send_after, hold_until]))
    recipient = draft.recipient or (customer.email if customer is not None else "")
    if not recipient and draft.channel == Delivery.Channel.EMAIL:
        raise ValueError("an e-mail delivery needs a recipient or a customer")
    return Delivery(
        idempotency_key=draft.key,
        customer=customer,
        recipient=recipient,
        channel=draft.channel,
        category=draft.category,
        subject=draft.subject[:300],
        body=draft.body,
        html_body=draft.html_body,
        headers=draft.headers,
        source=draft.source,
        status=status,
        suppressed_reason=reason,
        next_attempt_at=next_attempt_at,
        created_at=now,
    )


def queue_for(category: str) -> str:
    return TRANSACTIONAL_QUEUE if category == Category.SERVICE else BULK_QUEUE


def _enqueue_on_commit(ids_by_queue: dict[str, list[int]], countdown: float | None = None) -> None:
    from customers.tasks import send_deliveries  # noqa: PLC0415  (tasks import services)

    chunk = _conf("DELIVERY_CHUNK_SIZE")
    for queue, ids in ids_by_queue.items():
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            transaction.on_commit(
                lambda part=part, queue=queue: send_deliveries.apply_async(  # type: ignore[misc]
                    args=[part], queue=queue, countdown=countdown
                )
            )


def deliver(
    *,
    key: str,
    category: str,
    subject: str,
    body: str,
    customer: Customer | None = None,
    recipient: str = "",
    channel: str = Delivery.Channel.EMAIL,
    html_body: str = "",
    headers: dict[str, str] | None = None,
    source: str = "",
    send_after: dt.datetime | None = None,
) -> Delivery:
    """Plan one message. The same ``key`` twice gives one row and one message.

    Runs in the caller's transaction; the send is enqueued when it commits.
    """
    draft = DeliveryDraft(
        key=key,
        category=category,
        subject=subject,
        body=body,
        customer=customer,
        recipient=recipient,
        channel=channel,
        html_body=html_body,
        headers=headers or {},
        source=source,
        send_after=send_after,
    )
    now = timezone.now()
    preference = ContactPreference.objects.filter(customer=customer).first() if customer is not None else None
    row = _row(draft, preference, now)
    with transaction.atomic():
        delivery, created = Delivery.objects.get_or_create(
            idempotency_key=key,
            defaults={f.attname: getattr(row, f.attname) for f in Delivery._meta.concrete_fields if f.attname != "id"},
        )
        if created and delivery.status == Delivery.Status.QUEUED and delivery.next_attempt_at <= now:
            _enqueue_on_commit({queue_for(category): [delivery.pk]})
    return delivery


def deliver_many(*, drafts: Sequence[DeliveryDraft]) -> list[int]:
    """Plan many messages with a few bulk inserts; returns the ids of the rows queued for sending now.

    Idempotent like ``deliver``: drafts whose key exists already are skipped. Contact
    preferences are read in one query per batch.
    """
    if not drafts:
        return []
    now = timezone.now()
    customer_ids = {d.customer.pk for d in drafts if d.customer is not None}
    preferences: dict[int, ContactPreference] = {}
    for start in range(0, len(customer_ids), 900):
        part = list(customer_ids)[start : start + 900]
        preferences.update({p.customer_id: p for p in ContactPreference.objects.filter(customer_id__in=part)})
    rows = [_row(d, preferences.get(d.customer.pk) if d.customer else None, now) for d in drafts]
    queued: dict[str, list[int]] = defaultdict(list)
    with transaction.atomic():
        for pk, category, status, next_attempt_at in _insert_new(rows, now):
            if status == Delivery.Status.QUEUED and next_attempt_at <= now:
                queued[queue_for(category)].append(pk)
        for ids in queued.values():
            ids.sort()
        _enqueue_on_commit(queued)
    return [pk for ids in queued.values() for pk in ids]


@contextlib.contextmanager
def _server_side_cursor() -> Iterator[Any]:
    """A psycopg cursor with server-side binding on Django's connection (and in its transaction), for
    the fan-out's hot statements: Django's cursor binds on the client, so it can neither prepare a
    statement nor send a list as one array parameter. PostgreSQL only; it bypasses Django's query
    logging. (Behind PgBouncer in transaction mode, prepared statements need 1.21+ and
    ``max_prepared_statements``.)"""
    import psycopg  # noqa: PLC0415  (PostgreSQL only)

    db_connection.ensure_connection()
    with psycopg.Cursor(db_connection.connection) as cursor:
        yield cursor


def _insert_new(rows: list[Delivery], now: dt.datetime) -> list[tuple[int, str, str, dt.datetime]]:
    """Insert the rows whose key is new; (id, category, status, next_attempt_at) of those inserted.

    On PostgreSQL one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING`` per
    1,000 rows, each column sent as one array: a fan-out plans 100,000 rows, and the ORM's
    ``bulk_create`` spends more CPU compiling per-value placeholders than PostgreSQL spends inserting.
    """
    if db_connection.vendor != "postgresql":
        Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        keys = [row.idempotency_key for row in rows]
        inserted: list[tuple[int, str, str, dt.datetime]] = []
        for start in range(0, len(keys), 900):
            inserted += Delivery.objects.filter(
                idempotency_key__in=keys[start : start + 900],
                created_at=now,  # rows this call created, not older ones with the same key
            ).values_list("pk", "category", "status", "next_attempt_at")
        return inserted
    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key and f.attname != "updated_at"]
    columns = ", ".join([f.column for f in fields] + ["updated_at"])
    arrays = ", ".join(f"%s::{f.cast_db_type(db_connection)}[]" for f in fields)  # type: ignore[attr-defined]
    sql = (
        f"INSERT INTO {Delivery._meta.db_table} ({columns}) "  # noqa: S608  (names from the model)
        f"SELECT *, %s FROM unnest({arrays}) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, category, status, next_attempt_at"
    )
    inserted = []
    with _server_side_cursor() as cursor:  # arrays go as parameters
        for start in range(0, len(rows), 1000):
            part = rows[start : start + 1000]
            values = [
                [
                    json.dumps(getattr(row, f.attname)) if isinstance(f, JSONField) else getattr(row, f.attname)
                    for row in part
                ]
                for f in fields
            ]
            cursor.execute(sql, [now, *values])
            inserted += cursor.fetchall()
    return inserted


# --- sending ---------------------------------------------------------------------------


class _Transient(Exception):
    pass


class _Permanent(Exception):
    pass


def _classify(exc: Exception) -> type[Exception]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return _Permanent if codes and all(code >= 500 for code in codes) else _Transient
    if isinstance(exc, smtplib.SMTPResponseException):
        return _Permanent if exc.smtp_code >= 500 else _Transient
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | socket.timeout | TimeoutError | OSError):
        return _Transient
    if isinstance(exc, smtplib.SMTPException):
        return _Transient
    return _Permanent


def _message_id(delivery: Delivery) -> str:
    digest = hashlib.sha256(delivery.idempotency_key.encode()).hexdigest()[:32]
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">").strip() or "helpdesk.localhost"
    return f"<{digest}@{domain}>"


def build_email(delivery: Delivery, connection: Any = None) -> EmailMultiAlternatives:
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
    base = float(_conf("DELIVERY_RETRY_BASE_SECONDS"))
    delay = min(base * (2 ** max(attempts - 1, 0)), float(_conf("DELIVERY_RETRY_MAX_SECONDS")))
    return delay * random.uniform(1.0, 1.2)  # jitter, so retries do not stampede


def _release(rows: list[Delivery], token: uuid.UUID, error: str) -> None:
    """Put rows back in ``queued`` with back-off, or fail them when out of attempts; re-enqueue soon ones."""
    now = timezone.now()
    max_attempts = _conf("DELIVERY_MAX_ATTEMPTS")
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
            retry[(queue_for(row.category), delay)].append(row.pk)
    grace = _conf("DELIVERY_SWEEP_GRACE_SECONDS")
    for (queue, delay), ids in retry.items():
        if delay <= grace:  # longer waits are the sweeper's: no ETA beyond the broker's visibility timeout
            _enqueue_on_commit({queue: ids}, countdown=delay)


def _transmit(connection: Any, delivery: Delivery) -> None:
    """One message over an open connection. For SMTP, the bytes ``email_envelope`` writes go straight
    to ``sendmail`` (Django's message classes and backend cost more than the rest of the send)."""
    smtp = getattr(connection, "connection", None)
    if isinstance(smtp, smtplib.SMTP):
        envelope = email_envelope(
            subject=delivery.subject,
            body=delivery.body,
            html_body=delivery.html_body,
            recipient=delivery.recipient,
            message_id=_message_id(delivery),
            headers=delivery.headers,
        )
        smtp.sendmail(envelope.sender, envelope.recipients, envelope.data)
    else:
        connection.send_messages([build_email(delivery, connection)])


def _mark_sent(pk: int, token: uuid.UUID) -> int:
    """The hottest statement of a fan-out, so plain SQL (the ORM's update() costs several times more CPU),
    and on PostgreSQL a prepared statement: parsed and planned once per connection, not once a message."""
    table = Delivery._meta.db_table
    sql = (
        f"UPDATE {table} SET status = %s, sent_at = %s, updated_at = %s, claim_token = NULL, last_error = '' "  # noqa: S608
        "WHERE id = %s AND claim_token = %s"
    )
    now = timezone.now()
    if db_connection.vendor == "postgresql":
        with _server_side_cursor() as cursor:
            cursor.execute(sql, [Delivery.Status.SENT, now, now, pk, token], prepare=True)
            return cursor.rowcount
    prepared_token = Delivery._meta.get_field("claim_token").get_db_prep_value(token, db_connection)
    prepared_now = Delivery._meta.get_field("sent_at").get_db_prep_value(now, db_connection)
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [Delivery.Status.SENT, prepared_now, prepared_now, pk, prepared_token])
        return cursor.rowcount


def _claim(delivery_ids: Iterable[int]) -> tuple[uuid.UUID, list[Delivery]]:
    token = uuid.uuid4()
    now = timezone.now()
    Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.QUEUED, next_attempt_at__lte=now).update(
        status=Delivery.Status.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1
    )
    rows = list(Delivery.objects.filter(claim_token=token, status=Delivery.Status.SENDING).order_by("pk"))
    return token, rows


@contextlib.contextmanager
def _asynchronous_commit() -> Iterator[None]:
    """On PostgreSQL, commit the per-row marks without waiting for the WAL flush (about 1 ms a row saved).

    A killed worker loses nothing by it: what it committed is committed. Only a crash of PostgreSQL
    itself could forget the last fraction of a second of marks, and those rows, back in ``sending``,
    are sent again by the sweeper: at-least-once, as with any mail system.
    """
    if db_connection.vendor != "postgresql" or db_connection.in_atomic_block:
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def deliveries_send(*, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send the given rows that are still queued and due, over one connection. Safe to run twice."""
    with _asynchronous_commit():
        return _send(delivery_ids)


def _send(delivery_ids: Sequence[int]) -> dict[str, int]:
    token, rows = _claim(delivery_ids)
    counts = {"sent": 0, "failed": 0, "retrying": 0}
    if not rows:
        return counts
    in_app = [row.pk for row in rows if row.channel == Delivery.Channel.IN_APP]
    if in_app:
        counts["sent"] += Delivery.objects.filter(pk__in=in_app, claim_token=token).update(
            status=Delivery.Status.SENT, sent_at=timezone.now(), claim_token=None, last_error=""
        )
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
    try:
        for index, row in enumerate(emails):
            try:
                _transmit(connection, row)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if _classify(exc) is _Permanent:
                    Delivery.objects.filter(pk=row.pk, claim_token=token).update(
                        status=Delivery.Status.FAILED, claim_token=None, last_error=error
                    )
                    counts["failed"] += 1
                    continue
                remaining = emails[index:]
                _release(remaining, token, error)
                counts["retrying"] += len(remaining)
                logger.warning("deliveries: transient error (%s); %d rows back off", error, len(remaining))
                break
            else:
                # marked one by one the moment the server accepted it: a killed worker re-sends at most one
                counts["sent"] += _mark_sent(row.pk, token)
    finally:
        with contextlib.suppress(Exception):  # closing a broken connection may fail; nothing is left to do
            connection.close()
    return counts


def deliveries_sweep() -> dict[str, int]:
    """Beat job: recover rows a dead worker left in ``sending``; enqueue due rows whose task was lost.

    Set-based: two indexed range queries, bounded by ``DELIVERY_SWEEP_LIMIT``.
    """
    now = timezone.now()
    stuck_cutoff = now - dt.timedelta(seconds=_conf("DELIVERY_STUCK_SENDING_SECONDS"))
    grace = dt.timedelta(seconds=_conf("DELIVERY_SWEEP_GRACE_SECONDS"))
    recovered = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=stuck_cutoff).update(
        status=Delivery.Status.QUEUED, claim_token=None, next_attempt_at=now
    )
    # fresh rows were enqueued on commit: only those older than the grace period are presumed lost;
    # rows that waited (quiet hours, back-off, send_after) are enqueued as soon as they are due
    due = (
        Delivery.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=now)
        .filter(
            Q(next_attempt_at__lte=now - grace) | Q(next_attempt_at__gt=F("created_at") + grace) | Q(attempts__gt=0)
        )
        .order_by("next_attempt_at")
        .values_list("pk", "category")[: _conf("DELIVERY_SWEEP_LIMIT")]
    )
    ids_by_queue: dict[str, list[int]] = defaultdict(list)
    for pk, category in due:
        ids_by_queue[queue_for(category)].append(pk)
    for ids in ids_by_queue.values():
        ids.sort()
    _enqueue_on_commit(ids_by_queue)
    return {"recovered": recovered, "enqueued": sum(len(ids) for ids in ids_by_queue.values())}


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
            by_queue[queue_for(category)].append(pk)
        _enqueue_on_commit(by_queue)
    return len(rows)
