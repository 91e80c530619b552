"""E-mail in: store every message raw first, then route it to the right ticket or open a new one.

``inbound_store`` is what the pushing sources call (the API, the MTA pipe), ``inbound_store_many`` what
the polls call (IMAP, the drop folder: up to ``INBOUND_PROCESS_BATCH`` a transaction). Both commit the
raw bytes before they return, so a source marks a message as taken (an IMAP flag, a webhook's 200, a
moved file) only once it is safe; the same message fetched or posted twice is stored once, keyed by its
Message-ID per mailbox (a copy that gained a ``Received`` header is the same message), or by a hash of
its body when it has no Message-ID.

``inbound_process_batch`` runs in a worker, a batch of stored messages to a transaction (see there for
why and how). Routing, in order: the signed reply address (``addresses``), the
``In-Reply-To``/``References`` ids of mail we sent or received on a ticket (``MailThreadId``), the
``[#1042]`` reference in the subject; otherwise a new ticket in the mailbox's queue. A matched ticket
takes the message only from someone who may reply on it (the requester, a CC, a colleague who sees the
organization's tickets, an agent); anyone else's message opens a new ticket that names the one it
mentioned, and is never shown to that ticket's requester.

A message that fails (bad MIME no parser survives, a database error) is retried with back-off
(``INBOUND_MAX_ATTEMPTS``), then quarantined for managers with its raw source; it never holds up the
messages of its batch or behind it: each is routed in a savepoint of its own and retried on its own.
A message whose processing stops the worker itself (a crash, the OOM killer, a time limit) is routed alone
on the next attempt, so that it takes nothing else down with it, and quarantined after
``INBOUND_MAX_ATTEMPTS`` such attempts without being read again.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import validate_email
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.conf import helpdesk_setting
from core.db import rows_update
from core.exceptions import ApplicationError
from core.roles import is_agent
from customers.models import Customer, Delivery
from customers.services import (
    customer_get_or_create,
    customer_insert,
    delivery_bounce,
    delivery_plan,
    organizations_by_domain,
)
from tickets.inbound.addresses import ticket_id_from_address
from tickets.inbound.inline import inline_images_unlinked, message_inline_images_link
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId
from tickets.inbound.parsing import Address, ParsedEmail, email_head, email_parse
from tickets.inbound.quotes import reply_text
from tickets.models import Channel, Message, Ticket, TicketEvent
from tickets.services._common import Deferred, rows_insert

log = logging.getLogger(__name__)

_SUBJECT_REFERENCE = re.compile(r"\[#(\d{1,12})\]")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_NAME_MAX: int = Customer._meta.get_field("name").max_length or 200
_EMAIL_MAX: int = Customer._meta.get_field("email").max_length or 254
#: messages up to this size are parsed with their batch (100 of them: 25 MB at most in memory)
_PREPARSE_BYTES = 256 * 1024
_PROCESSED_FIELDS = [
    "state", "outcome", "ticket", "ticket_message", "text", "automated", "suspicious", "processed_at", "attempts",
    "last_error", "started_at",
]  # fmt: skip


# storing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Head:
    message_id: str
    sender: str
    subject: str


def _head(raw: bytes) -> _Head:
    """The few headers a row keeps for listing and de-duplication (the full parse is the worker's).

    Storing must never fail on what the message contains: a parser bug here would lose the message
    before it is stored, so any failure stores it without them (the worker records the error)."""
    try:
        message_id, sender, subject = email_head(_HEADER_END.split(raw, 1)[0] + b"\r\n\r\n")
    except Exception:
        log.warning("could not read the headers of an inbound message; storing it without them", exc_info=True)
        return _Head(message_id="", sender="", subject="")
    return _Head(message_id=message_id[:998], sender=sender.email[:254] if sender else "", subject=subject[:300])


def _body_hash(raw: bytes) -> str:
    """SHA-256 of what follows the header block: a relay that adds ``Received`` lines does not change it."""
    parts = _HEADER_END.split(raw, 1)
    return hashlib.sha256(parts[1] if len(parts) == 2 else raw).hexdigest()


def inbound_store(*, mailbox: Mailbox, raw: bytes, via: str) -> tuple[InboundEmail, bool]:
    """Store one message, committed when this returns; (the row, whether it was new)."""
    if not raw.strip():
        raise ApplicationError("The message is empty.", {"message": "empty"})
    head = _head(raw)
    body_hash = _body_hash(raw)
    key = {"message_id": head.message_id} if head.message_id else {"message_id": "", "body_hash": body_hash}
    with transaction.atomic():
        inbound, created = InboundEmail.objects.get_or_create(
            mailbox=mailbox,
            **key,
            defaults={
                "raw": raw,
                "size": len(raw),
                "via": via,
                "body_hash": body_hash,
                "sender": head.sender,
                "subject": head.subject,
            },
        )
        if created:
            transaction.on_commit(lambda: _enqueue([inbound.pk]))
    return inbound, created


def inbound_store_many(*, mailbox: Mailbox, raws: Sequence[bytes], via: str, enqueue: bool = True) -> list[int]:
    """Store the messages a poll fetched, committed when this returns; the ids of the new rows.

    One transaction of three statements (the keys known already, the insert, nothing else) instead of
    a transaction of four per message: storing was a third of a poll's time. The same message twice (in
    this call or stored before) is one row, as with ``inbound_store``; a concurrent store of one of them
    makes the insert skip it, and a task for a row stored twice processes it once (the claim). The new
    rows are enqueued when the transaction commits, one task a batch (``enqueue=False``: not at all)."""
    if any(not raw.strip() for raw in raws):
        raise ApplicationError("The message is empty.", {"message": "empty"})
    rows = []
    for raw in raws:
        head = _head(raw)
        rows.append(
            InboundEmail(
                mailbox=mailbox,
                message_id=head.message_id,
                body_hash=_body_hash(raw),
                raw=raw,
                size=len(raw),
                via=via,
                sender=head.sender,
                subject=head.subject,
            )
        )
    ids = {r.message_id for r in rows if r.message_id}
    hashes = {r.body_hash for r in rows if not r.message_id}
    keyed = Q(message_id__in=ids) | Q(message_id="", body_hash__in=hashes)
    with transaction.atomic():
        known = {_key(m, h) for m, h in mailbox.inbound_emails.filter(keyed).values_list("message_id", "body_hash")}
        InboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
        new = sorted(
            pk
            for pk, m, h in mailbox.inbound_emails.filter(keyed).values_list("pk", "message_id", "body_hash")
            if _key(m, h) not in known
        )
        if new and enqueue:
            transaction.on_commit(lambda: inbound_enqueue(inbound_ids=new))
    return new


def _key(message_id: str, body_hash: str) -> tuple[str, str]:
    """What makes a stored message the same one: its Message-ID, or its body's hash when it has none."""
    return (message_id, "") if message_id else ("", body_hash)


def inbound_enqueue(*, inbound_ids: Sequence[int]) -> None:
    """Process stored messages: one task per ``INBOUND_PROCESS_BATCH`` of them."""
    size = helpdesk_setting("INBOUND_PROCESS_BATCH")
    for start in range(0, len(inbound_ids), size):
        _enqueue(list(inbound_ids[start : start + size]))


def _enqueue(inbound_ids: list[int], *, countdown: float | None = None) -> None:
    from tickets.tasks import process_inbound_emails  # noqa: PLC0415  (tasks import services)

    # the time limits travel in the message (Celery's sender decides them), read here on every call
    process_inbound_emails.apply_async(
        args=[inbound_ids], queue="transactional", countdown=countdown,
        soft_time_limit=helpdesk_setting("INBOUND_SOFT_TIME_LIMIT_SECONDS"),
        time_limit=helpdesk_setting("INBOUND_TIME_LIMIT_SECONDS"),
    )  # fmt: skip


def _address_of(value: str) -> str:
    from email.utils import parseaddr  # noqa: PLC0415

    return parseaddr(value)[1].strip().lower()


# processing ---------------------------------------------------------------------------------------------


def inbound_process(*, inbound_id: int, now: dt.datetime | None = None) -> str:
    """Route one stored message; returns what happened. A second call for a processed message does nothing."""
    return inbound_process_batch(inbound_ids=[inbound_id], now=now).get(inbound_id, "nothing to do")


def inbound_process_batch(*, inbound_ids: Sequence[int], now: dt.datetime | None = None) -> dict[int, str]:
    """Route stored messages, ``INBOUND_PROCESS_BATCH`` to a transaction; (id, what happened) of each one taken.

    One message cost ~25 queries and a commit when each was its own task; a batch claims its rows in one
    statement (``FOR UPDATE SKIP LOCKED``: a row another worker holds is its work, and is skipped), reads
    our addresses, the tickets its messages name and the senders' agent and customer records with a
    query each, routes every message in a savepoint of its own, writes the rows back in one UPDATE, and
    plans the acknowledgments in one insert. A message that fails rolls back its savepoint only; it is
    retried on its own (``_failed``), and the others commit.

    A message can also take its worker down (a C parser's segfault, the OOM killer, the hard time limit):
    then the batch commits nothing, and the task is delivered again (``acks_late``) or the sweeper requeues
    it. So that such a message takes down only itself, every attempt is recorded before it reads anything
    (``_mark_started``, committed); a row found still marked by an attempt that never finished is a suspect,
    counted and routed alone (``_process_suspect``) after its batch, and quarantined unparsed once
    ``INBOUND_MAX_ATTEMPTS`` attempts did not finish. At the task's soft time limit the message being routed
    fails as any other does, and the batch commits what is done and hands the rest to a new task.
    """
    now = now or timezone.now()
    ids = sorted(set(inbound_ids))
    size = helpdesk_setting("INBOUND_PROCESS_BATCH")
    outcomes: dict[int, str] = {}
    for start in range(0, len(ids), size):
        chunk_outcomes, timed_out = _process_chunk(ids[start : start + size], now)
        outcomes |= chunk_outcomes
        if timed_out:  # past the soft time limit: the chunks not started go to a new task
            _hand_over_ids(ids[start + size :])
            break
    return outcomes


def _process_chunk(ids: list[int], now: dt.datetime) -> tuple[dict[int, str], bool]:
    """The chunk's rows in one transaction; then, each in its own, those an earlier attempt started and
    never finished. (what happened to each, whether the soft time limit stopped it)"""
    mark = _mark_started(ids)
    outcomes, suspects, timed_out = _process_marked(ids, mark, now)
    for index, inbound in enumerate(suspects):
        if timed_out:  # to a new task, still suspects (counted when they are tried)
            _hand_over_ids([s.pk for s in suspects[index:]])
            break
        suspect_outcomes, timed_out = _process_suspect(inbound, now)
        outcomes |= suspect_outcomes
    return outcomes, timed_out


def _mark_started(ids: list[int]) -> dt.datetime:
    """Record, committed before the batch reads a row, that an attempt at these rows starts: one statement.

    Only rows no attempt holds are marked (``started_at`` empty), and a row another worker has claimed is
    skipped (``SKIP LOCKED``), so a duplicate of the task or a second worker marks nothing twice. The mark
    is this call's time: the batch's claim tells its own rows from those an earlier attempt left marked."""
    mark = timezone.now()
    free = (
        InboundEmail.objects.filter(
            pk__in=ids, state__in=[InboundEmail.State.NEW, InboundEmail.State.FAILED], started_at=None
        )
        .order_by("pk")
        .select_for_update(skip_locked=True)
    )
    with transaction.atomic():
        InboundEmail.objects.filter(pk__in=free.values("pk")).update(started_at=mark)
    return mark


@transaction.atomic
def _process_marked(ids: list[int], mark: dt.datetime,
                    now: dt.datetime) -> tuple[dict[int, str], list[InboundEmail], bool]:  # fmt: skip
    """Route the rows this call marked in one transaction; (outcomes, the suspects, whether it timed out).

    A claimed row with another mark is a suspect: the attempt that marked it never finished (a live one
    holds its rows' locks, and the claim skips them). One with no mark is left alone: another worker
    finished it between our mark and our claim (a failure, whose retry is scheduled)."""
    claimed = _claim(ids)
    # those that stopped a worker fewer times first: the innocent ones of a batch that died go before the
    # message that killed it (which stops the worker again before the rest's turn)
    suspects = sorted(
        (i for i in claimed if i.started_at is not None and i.started_at != mark), key=lambda i: (i.interrupted, i.pk)
    )
    claimed = [i for i in claimed if i.started_at == mark]
    if not claimed:
        return {}, suspects, False
    if connection.vendor != "postgresql":
        outcomes, timed_out = _route_chunk(claimed, now, hold_rows=False)
        return outcomes, suspects, timed_out
    try:
        with transaction.atomic():
            outcomes, timed_out = _route_chunk(claimed, now, hold_rows=True)
    except DatabaseError:
        # a row the batch's INSERT refused: again, each message writing its own rows in its savepoint,
        # where a bad one fails alone (the rows are still ours: the claim's lock holds to the commit)
        log.warning("writing %s inbound e-mails' rows at once failed; one at a time", len(claimed), exc_info=True)
        outcomes, timed_out = _route_chunk([i for i in _claim(ids) if i.started_at == mark], now, hold_rows=False)
    return outcomes, suspects, timed_out


def _claim(ids: list[int]) -> list[InboundEmail]:
    return list(
        InboundEmail.objects.select_for_update(skip_locked=True, of=("self",))  # not the mailbox's row
        .select_related("mailbox__queue")
        .defer("raw")  # read below for the small ones; a large one's when its turn comes
        .filter(pk__in=ids, state__in=[InboundEmail.State.NEW, InboundEmail.State.FAILED])
        .order_by("pk")
    )


def _route_chunk(claimed: list[InboundEmail], now: dt.datetime, *,
                 hold_rows: bool) -> tuple[dict[int, str], bool]:  # fmt: skip
    """(what happened to each, whether the soft time limit stopped the chunk)"""
    batch = _Batch.read(claimed, hold_rows=hold_rows)
    outcomes: dict[int, str] = {}
    if batch.too_slow is not None:  # the hard limit is near: that message fails, the rest go to a new task
        slow = next(i for i in claimed if i.pk == batch.too_slow)
        exc = SoftTimeLimitExceeded()
        _failed(slow, exc, now)
        _hand_over([i for i in claimed if i is not slow])
        return {slow.pk: f"failed: {_error(exc)}"}, True
    done: list[InboundEmail] = []
    timed_out = False
    for index, inbound in enumerate(claimed):
        batch.write_if_named(inbound)
        try:
            with transaction.atomic():  # a savepoint: a failure undoes this message's routing, not the others'
                outcomes[inbound.pk] = _process(inbound, batch)
        except Exception as exc:
            batch.discard()
            _failed(inbound, exc, now)
            outcomes[inbound.pk] = f"failed: {_error(exc)}"
            if isinstance(exc, SoftTimeLimitExceeded):  # the hard limit is near: commit what is done
                _hand_over(claimed[index + 1 :])
                timed_out = True
                break
            continue
        batch.keep()
        done.append(inbound)
    batch.write()
    batch.acknowledge()
    processed_at = timezone.now()  # visible from this commit on
    for inbound in done:
        inbound.processed_at = processed_at
        inbound.attempts += 1
        inbound.last_error = ""
        inbound.started_at = None
    _save_processed(done)
    return outcomes, timed_out


def _hand_over(rows: list[InboundEmail]) -> None:
    """Rows the soft time limit left untried: unmarked (they were not tried) and sent to a new task."""
    if not rows:
        return
    pks = [r.pk for r in rows]
    InboundEmail.objects.filter(pk__in=pks).update(started_at=None)
    transaction.on_commit(lambda: _enqueue(pks))


def _hand_over_ids(ids: list[int]) -> None:
    if ids:
        transaction.on_commit(lambda: inbound_enqueue(inbound_ids=ids))


def _process_suspect(inbound: InboundEmail, now: dt.datetime) -> tuple[dict[int, str], bool]:
    """A row an earlier attempt started and never finished: count that attempt, then route the row in a
    transaction of its own, so that if it takes the worker down again it takes nothing else with it; at
    ``INBOUND_MAX_ATTEMPTS`` unfinished attempts, quarantine it without reading it again.

    The count is one conditional update that names the mark it found, committed before the row is read: a
    second worker that found the same suspect updates nothing and leaves it (each death is counted once)."""
    interrupted = inbound.interrupted + 1
    times = "once" if interrupted == 1 else f"{interrupted} times"
    found = InboundEmail.objects.filter(
        pk=inbound.pk, started_at=inbound.started_at, state__in=[InboundEmail.State.NEW, InboundEmail.State.FAILED]
    )
    error = (
        f"processing it stopped the worker {times} (a crash, out of memory, the time limit, or an error that "
        f"undid its whole batch): the attempt started at {inbound.started_at:%Y-%m-%d %H:%M:%S} UTC never finished"
    )
    if interrupted >= helpdesk_setting("INBOUND_MAX_ATTEMPTS"):
        outcome = f"quarantined: processing it stopped the worker {times}; a manager can read and retry it"
        if not found.update(interrupted=interrupted, started_at=None, state=InboundEmail.State.QUARANTINED,
                            outcome=outcome, last_error=error):  # fmt: skip
            return {}, False
        log.error("inbound e-mail %s quarantined: %s", inbound.pk, error)
        return {inbound.pk: outcome}, False
    log.warning("inbound e-mail %s: %s; routing it alone", inbound.pk, error)
    mark = timezone.now()
    if not found.update(interrupted=interrupted, started_at=mark, last_error=error):
        return {}, False  # another worker counted it first, and routes it
    outcomes, _, timed_out = _process_marked([inbound.pk], mark, now)
    return outcomes, timed_out


def _save_processed(rows: list[InboundEmail]) -> None:
    """The processed rows in one statement (``rows_update``), never their raw bytes (they can be megabytes);
    their text as PostgreSQL stores it (SQLite would keep the NUL PostgreSQL refuses)."""
    for row in rows:
        for name in _PROCESSED_FIELDS:
            attname = InboundEmail._meta.get_field(name).attname  # type: ignore[union-attr]
            setattr(row, attname, _storable(getattr(row, attname)))
    rows_update(rows, _PROCESSED_FIELDS)


def _storable(value: Any) -> Any:
    """Text PostgreSQL takes: a message's text can hold NUL characters or lone surrogates (8-bit headers),
    and a row that cannot be written must not hold back the 99 others written with it."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return value


@dataclass
class _Pending:
    """What one message's routing added to the batch: kept only when its savepoint commits."""

    deferred: Deferred  # its ``inserts``: the message's new tickets and messages, written with the batch
    thread_ids: dict[str, int] = field(default_factory=dict)
    tickets: list[Ticket] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    acknowledge: list[Ticket] = field(default_factory=list)
    locked: list[int] = field(default_factory=list)  # tickets its routing read FOR UPDATE (a savepoint undoes that)


@dataclass
class _Batch:
    """The lookups a batch shares, read with one query each instead of one per message."""

    parsed: dict[int, ParsedEmail]
    ours: set[str]
    tickets: dict[int, Ticket]
    numbers: dict[int, Ticket]
    thread_ids: dict[str, int]
    agents: dict[str, Any]
    customers: dict[str, Customer]
    answered: dict[int, int]  # customer id: automatic answers in the last hour (the loop cap)
    acknowledgments: list[Ticket] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)  # reads the new tickets share (``Deferred.memo``)
    pending: _Pending = field(init=False)
    senders: set[str] = field(default_factory=set)
    domains: dict[str, int | None] | None = None  # the organizations of new senders' domains, read when first needed
    events: list[TicketEvent] = field(default_factory=list)  # of the committed messages, written with the batch
    remembered: dict[str, int] = field(default_factory=dict)  # Message-IDs received: ticket, written with the batch
    inserts: list[Any] = field(default_factory=list)  # the committed messages' new tickets and messages, unwritten
    updates: dict[int, tuple[Ticket, set[str]]] = field(default_factory=dict)  # their replies' changes, unwritten
    current: set[int] = field(default_factory=set)  # tickets whose object here is the row as it is now, locked
    hold_rows: bool = True  # False: each message writes its rows itself (``Deferred.hold_rows``)
    too_slow: int | None = None  # the message whose parse with the batch's ran into the soft time limit

    def __post_init__(self) -> None:
        self.pending = self._pending()

    def _pending(self) -> _Pending:
        return _Pending(deferred=Deferred(memo=self.memo, hold_rows=self.hold_rows))

    @classmethod
    def read(cls, claimed: list[InboundEmail], *, hold_rows: bool = True) -> _Batch:
        """Parse the batch's small messages (a large one is parsed in its turn, so a batch of 25 MB
        messages never sits in memory at once) and read what they need."""
        small = [i.pk for i in claimed if i.size <= _PREPARSE_BYTES]
        parsed: dict[int, ParsedEmail] = {}
        too_slow = None
        for pk, raw in InboundEmail.objects.filter(pk__in=small).values_list("pk", "raw") if small else []:
            try:
                parsed[pk] = email_parse(bytes(raw))
            except SoftTimeLimitExceeded:  # this message's parse ran into the limit: ``_route_chunk`` stops
                too_slow = pk
                break
            except Exception:  # noqa: S112 - parsed again in the message's savepoint, where it fails it alone
                continue
        batch = cls(parsed, _our_addresses(), {}, {}, {}, {}, {}, {}, hold_rows=hold_rows, too_slow=too_slow)
        if too_slow is not None:
            return batch
        batch.look_up(list(parsed.values()))
        batch.pending = batch._pending()  # the batch's own reads: no message's savepoint holds them
        mailboxes = {i.pk: i.mailbox for i in claimed}
        opening = sum(_opens_ticket(p, mailboxes[pk], batch) for pk, p in parsed.items())
        # the ids and numbers the batch will take, each with one statement (``Deferred.insert``)
        batch.memo |= {"numbers_expected": opening, "expected:tickets.ticket": opening,
                       "expected:tickets.message": len(claimed)}  # fmt: skip
        return batch

    def look_up(self, messages: list[ParsedEmail]) -> None:
        """What routing these messages reads: the tickets they name, the senders' agent and customer
        records, and how many automatic answers those customers had this hour (a query each)."""
        from tickets.selectors import agents_active  # noqa: PLC0415

        ours = self.ours
        ticket_ids: set[int] = set()
        message_ids: set[str] = set()
        numbers: set[int] = set()
        senders: set[str] = set()
        for message in messages:
            ticket_ids.update(_tagged_ticket_ids(message, ours))
            message_ids.update(message.thread_ids)
            if match := _SUBJECT_REFERENCE.search(message.subject):
                numbers.add(int(match.group(1)))
            if message.sender is not None:
                senders.add(message.sender.email)
        self.senders |= senders
        thread_ids = dict(
            MailThreadId.objects.filter(message_id__in=message_ids).values_list("message_id", "ticket_id")
        ) if message_ids else {}  # fmt: skip
        for message_id, ticket_id in thread_ids.items():
            self.thread_ids.setdefault(message_id, ticket_id)  # a Message-ID the batch learned stays
        if ticket_ids or thread_ids or numbers:
            wanted = Q(pk__in={*ticket_ids, *thread_ids.values()}) | Q(number__in=numbers)
            # locked for the batch, in id order (two batches lock alike): a reply works on these objects
            # instead of locking and reading its ticket again (``ticket_customer_reply_insert(locked=)``)
            for ticket in Ticket.objects.select_for_update().filter(wanted).order_by("pk"):
                if ticket.pk not in self.current:  # new to the batch, or its object read before a lock was let go
                    self.tickets[ticket.pk] = ticket
                    self.current.add(ticket.pk)
                    self.pending.locked.append(ticket.pk)
                self.numbers.setdefault(ticket.number, ticket)
        if not senders:
            return
        self.agents |= {a.email: a for a in agents_active().filter(email__in=senders)}
        customers = {c.email: c for c in Customer.objects.filter(email__in=senders).select_related("organization")}
        self.customers = customers | self.customers
        since = timezone.now() - dt.timedelta(hours=1)
        new = [c.pk for c in customers.values() if c.pk not in self.answered]
        if new:  # the (customer, created_at) index bounds it to these addresses' hour
            counts = dict(
                Delivery.objects.filter(customer__in=new, created_at__gte=since, headers__has_key="Auto-Submitted")
                .values("customer")
                .annotate(n=Count("id"))
                .values_list("customer", "n")
            )
            self.answered |= {pk: counts.get(pk, 0) for pk in new}

    def parse(self, inbound: InboundEmail) -> ParsedEmail:
        """The message parsed once for the batch (and let go of: it may hold megabytes of attachments);
        a large one, or one the batch could not parse, is parsed now, in its savepoint, where it fails alone."""
        parsed = self.parsed.pop(inbound.pk, None)
        if parsed is None:
            parsed = email_parse(bytes(inbound.raw))
            self.look_up([parsed])
        return parsed

    def ticket(self, pk: int) -> Ticket:
        return self.tickets.get(pk) or Ticket.objects.get(pk=pk)

    def customer(self, email: str) -> Customer | None:
        return self.customers.get(email) or next((c for c in self.pending.customers if c.email == email), None)

    def organizations(self) -> dict[str, int | None]:
        """The organizations owning the domains of the batch's senders, read once, when a first one is new."""
        if self.domains is None:
            self.domains = organizations_by_domain(emails=self.senders - set(self.customers))
        return self.domains

    def keep(self) -> None:
        pending = self.pending
        self.thread_ids |= pending.thread_ids
        for message_id, ticket_id in pending.thread_ids.items():
            self.remembered.setdefault(message_id, ticket_id)
        self.events += pending.deferred.events
        for ticket in pending.tickets:  # the batch's new tickets and the ones its replies changed
            self.tickets[ticket.pk] = ticket
            self.numbers[ticket.number] = ticket
            self.current.add(ticket.pk)
        self.customers |= {c.email: c for c in pending.customers}
        self.inserts += pending.deferred.inserts
        for pk, (ticket, fields) in pending.deferred.updates.items():
            self.updates[pk] = (ticket, self.updates.get(pk, (ticket, set()))[1] | fields)
        self.acknowledgments += pending.acknowledge
        for ticket in pending.acknowledge:
            self.answered[ticket.requester_id] = self.answered.get(ticket.requester_id, 0) + 1
        self.pending = self._pending()

    def discard(self) -> None:
        # the rolled-back savepoint let go of the row locks it took (a large message's own reads): those
        # tickets are read and locked again when a message needs them
        self.current -= set(self.pending.locked)
        self.pending = self._pending()

    def write_rows(self) -> None:
        """The committed messages' new tickets and messages, an INSERT a table (``Deferred.insert``), and
        their replies' changes to the tickets, one UPDATE for all (``Deferred.update``: each object is its
        row as it is now, so the fields any of them changed are written for all)."""
        if self.inserts:
            rows_insert(self.inserts)
        if self.updates:
            fields = sorted(set().union(*(f for _, f in self.updates.values())))
            rows_update([ticket for ticket, _ in self.updates.values()], fields)
        self.inserts, self.updates = [], {}

    def write_if_named(self, inbound: InboundEmail) -> None:
        """Write the rows so far if this message's routing will read from the database a ticket the batch
        holds unwritten (opened, or changed by a reply): an agent's reply to it (``ticket_reply`` locks
        and reads its ticket itself), or a reply to a ticket merged into it. A customer's reply works on
        the batch's object and needs none. Before the message's savepoint, which would undo the others'
        rows with its own. A large message is parsed only in its turn, so nobody knows yet what it names:
        the batch writes what it holds before it (large messages are rare)."""
        held = {row.pk for row in self.inserts if isinstance(row, Ticket)} | set(self.updates)
        if not held:
            return
        parsed = self.parsed.get(inbound.pk)
        if parsed is None:
            self.write_rows()
            return
        named = [self.tickets.get(self.thread_ids.get(m, 0)) for m in parsed.thread_ids]
        if match := _SUBJECT_REFERENCE.search(parsed.subject):
            named.append(self.numbers.get(int(match.group(1))))
        agent = parsed.sender is not None and parsed.sender.email in self.agents
        if any(t is not None and ((agent and t.pk in held) or t.merged_into_id in held) for t in named):
            self.write_rows()

    def write(self) -> None:
        """The committed messages' rows, audit events and Message-IDs, an INSERT each for the batch instead
        of one per message; a Message-ID known already keeps the ticket it first named (the unique key)."""
        self.write_rows()
        if self.events:
            TicketEvent.objects.bulk_create(self.events)
        if self.remembered:
            MailThreadId.objects.bulk_create(
                [MailThreadId(message_id=m, ticket_id=t, outbound=False) for m, t in self.remembered.items()],
                ignore_conflicts=True,
            )

    def acknowledge(self) -> None:
        """The batch's acknowledgments in a few statements; should that fail, one at a time, each on its own."""
        from tickets.services.notifications import ticket_notify_received, tickets_notify_received  # noqa: PLC0415

        if not self.acknowledgments:
            return
        try:
            with transaction.atomic():
                tickets_notify_received(tickets=self.acknowledgments)
            return
        except Exception:
            log.warning("acknowledging %s new tickets at once failed; one at a time", len(self.acknowledgments))
        for ticket in self.acknowledgments:
            try:
                with transaction.atomic():
                    ticket_notify_received(ticket=ticket)
            except Exception:
                log.exception("could not acknowledge %s", ticket)


def _error(exc: Exception) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):  # raised with no text
        return f"processing took longer than {helpdesk_setting('INBOUND_SOFT_TIME_LIMIT_SECONDS')} s (the time limit)"
    return str(exc)


def _failed(inbound: InboundEmail, exc: Exception, now: dt.datetime) -> None:
    log.warning("inbound e-mail %s failed: %s", inbound.pk, _error(exc), exc_info=True)
    inbound.attempts += 1
    inbound.started_at = None
    inbound.last_error = _storable(f"{type(exc).__name__}: {_error(exc)}"[:2000])
    if inbound.attempts >= helpdesk_setting("INBOUND_MAX_ATTEMPTS"):
        inbound.state = InboundEmail.State.QUARANTINED
        inbound.outcome = "quarantined after repeated failures: a manager can read and retry it"
    else:
        inbound.state = InboundEmail.State.FAILED
        delay = helpdesk_setting("INBOUND_RETRY_BASE_SECONDS") * 2 ** (inbound.attempts - 1)
        inbound.next_attempt_at = now + dt.timedelta(seconds=delay)
        transaction.on_commit(lambda: _enqueue([inbound.pk], countdown=delay))
    inbound.save(update_fields=["attempts", "last_error", "state", "outcome", "next_attempt_at", "started_at"])


def inbound_retry(*, inbound: InboundEmail) -> None:
    """A manager's retry of a failed or quarantined message: processed again from its raw source."""
    if inbound.state not in (InboundEmail.State.FAILED, InboundEmail.State.QUARANTINED):
        raise ApplicationError("Only failed or quarantined messages can be retried.")
    InboundEmail.objects.filter(pk=inbound.pk).update(
        state=InboundEmail.State.FAILED, attempts=0, interrupted=0, started_at=None, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: _enqueue([inbound.pk]))


def inbound_due_requeue(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Beat: re-enqueue messages whose task was lost (a broker restart); the task itself is idempotent."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=60)
    ids = list(
        InboundEmail.objects.filter(
            state__in=[InboundEmail.State.NEW, InboundEmail.State.FAILED], next_attempt_at__lte=stale
        ).values_list("pk", flat=True)[:limit]
    )
    inbound_enqueue(inbound_ids=ids)
    return len(ids)


def _done(inbound: InboundEmail, state: str, outcome: str, *, ticket: Ticket | None = None,
          message: Message | None = None) -> str:  # fmt: skip
    inbound.state = state
    inbound.outcome = outcome[:300]
    inbound.ticket = ticket
    inbound.ticket_message = message
    return outcome


def _process(inbound: InboundEmail, batch: _Batch) -> str:
    mailbox = inbound.mailbox
    if inbound.size > helpdesk_setting("INBOUND_MAX_BYTES"):
        return _too_large(inbound, bytes(inbound.raw), batch)
    parsed = batch.parse(inbound)
    inbound.text = parsed.text
    inbound.automated = parsed.automated[:200]
    inbound.suspicious = ", ".join(parsed.auth_failures)[:200]
    sender = parsed.sender
    if parsed.report is not None:  # opens no ticket and adds no message, whatever it says
        report = parsed.report
        what = f"delivery report: {report.action or 'unknown'} {report.status} for {report.recipient or '?'}"
        if report.action == "failed" and report.original_message_id:  # "delayed": the server still tries
            bounce = delivery_bounce(
                message_id=report.original_message_id, recipient=report.recipient, permanent=report.permanent,
                reason=f"{report.status} {report.diagnostic}".strip(),
            )  # fmt: skip
            if bounce.delivery is None:
                what += " (answers no message of ours: nothing changed)"
            else:
                what += f" (delivery {bounce.delivery.pk} bounced"
                what += "; the address is now undeliverable)" if bounce.undeliverable else ")"
        return _done(inbound, InboundEmail.State.IGNORED, what)
    if sender is None:
        return _done(inbound, InboundEmail.State.IGNORED, "ignored: no sender address")
    if not _valid_address(sender.email):
        return _done(inbound, InboundEmail.State.IGNORED, "ignored: the sender's address is not valid")
    if _is_ours(sender.email, batch.ours):
        return _done(inbound, InboundEmail.State.IGNORED, "ignored: sent from one of our own addresses")
    ticket, how = _route(parsed, batch)
    if ticket is None and parsed.automated:
        if parsed.bulk and mailbox.open_tickets_for_bulk:
            pass
        else:
            kind = "bulk" if parsed.bulk else "automatic reply"
            return _done(inbound, InboundEmail.State.IGNORED, f"ignored: {kind} ({parsed.automated})")
    agent = batch.agents.get(sender.email)
    if ticket is not None and agent is not None:
        return _agent_reply(inbound, ticket, agent, parsed, how, batch)
    customer = _customer(mailbox, sender, batch)
    if customer is None:
        why = "kept for managers: unknown sender, the mailbox takes known customers only"
        if not parsed.automated:
            _refusal_notice(mailbox, sender.email, parsed)
            why += "; told the sender (at most once a day)"
        return _done(inbound, InboundEmail.State.IGNORED, why)
    if ticket is not None:
        from tickets.policies import Action, ticket_may  # noqa: PLC0415

        if ticket_may(ticket=ticket, customer=customer, action=Action.REPLY):
            return _customer_reply(inbound, ticket, customer, parsed, how, batch)
        return _new_ticket(inbound, customer, parsed, batch, mentions=ticket)
    return _new_ticket(inbound, customer, parsed, batch)


def _opens_ticket(parsed: ParsedEmail, mailbox: Mailbox, batch: _Batch) -> bool:
    """Whether routing will open a new ticket for this message, as far as the batch's reads tell: only so
    that the batch takes its tickets' numbers with one statement (an estimate: a number it takes and does
    not use is a gap, one it did not foresee is taken on its own)."""
    sender = parsed.sender
    if parsed.report is not None or sender is None or _is_ours(sender.email, batch.ours):
        return False
    if any(t in batch.tickets for t in _tagged_ticket_ids(parsed, batch.ours)):
        return False
    match = _SUBJECT_REFERENCE.search(parsed.subject)
    if any(m in batch.thread_ids for m in parsed.thread_ids) or (match and int(match.group(1)) in batch.numbers):
        return False
    if parsed.automated and not (parsed.bulk and mailbox.open_tickets_for_bulk):
        return False
    return _valid_address(sender.email) and (sender.email in batch.customers or mailbox.accept != Mailbox.Accept.KNOWN)


def _tagged_ticket_ids(parsed: ParsedEmail, ours: set[str]) -> list[int]:
    """The tickets that genuine reply addresses in To/Cc name, in the order the addresses come."""
    tagged = [a.email for a in (*parsed.to, *parsed.cc) if "+" in a.email.partition("@")[0]]
    found = []
    for address in tagged:
        for own in ours:
            ticket_id = ticket_id_from_address(address=address, mailbox_address=own)
            if ticket_id is not None:
                found.append(ticket_id)
    return found


def _route(parsed: ParsedEmail, batch: _Batch) -> tuple[Ticket | None, str]:
    """The reply address, then In-Reply-To/References, then the subject's reference (the batch read them)."""
    for ticket_id in _tagged_ticket_ids(parsed, batch.ours):
        if ticket := batch.tickets.get(ticket_id):
            return ticket, "reply address"
    for message_id in parsed.thread_ids:  # the nearest answered message first
        if message_id in batch.thread_ids:
            return batch.ticket(batch.thread_ids[message_id]), "In-Reply-To/References"
    match = _SUBJECT_REFERENCE.search(parsed.subject)
    if match and (ticket := batch.numbers.get(int(match.group(1)))):
        return ticket, "subject reference"
    return None, ""


def _valid_address(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return len(address) <= _EMAIL_MAX


def _our_addresses() -> set[str]:
    """Every mailbox's address and the outbound From: mail from them is never a ticket (one query)."""
    return {*Mailbox.objects.values_list("address", flat=True), _address_of(settings.DEFAULT_FROM_EMAIL)}


def _is_ours(address: str, ours: set[str]) -> bool:
    local, _, domain = address.partition("@")
    return address in ours or f"{local.split('+', 1)[0]}@{domain}" in ours


def _customer(mailbox: Mailbox, sender: Address, batch: _Batch) -> Customer | None:
    known = batch.customer(sender.email)
    if known is not None or mailbox.accept == Mailbox.Accept.KNOWN:
        return known
    # the batch read this address and found no one: an insert, in this message's savepoint (undone with it)
    customer = customer_insert(email=sender.email, name=sender.name[:_NAME_MAX], domains=batch.organizations())
    batch.pending.customers.append(customer)
    return customer


def _attachments(parsed: ParsedEmail) -> tuple[list[Any], list[str]]:
    """The attachments that pass the upload rules (size, type, the bytes' magic), and why others did not."""
    from tickets.services import attachments_validate  # noqa: PLC0415

    kept, refused = [], []
    for attachment in parsed.attachments:
        upload = SimpleUploadedFile(attachment.filename[:200], attachment.content, attachment.content_type)
        try:
            attachments_validate(files=[upload])
        except ApplicationError as exc:
            refused.append(f"{attachment.filename}: {exc.message}")
            continue
        upload.seek(0)
        # tickets.inbound.inline points the text's cid: images at the attachments these become
        upload.content_id = attachment.content_id  # type: ignore[attr-defined]
        kept.append(upload)
    return kept, refused


def _body(parsed: ParsedEmail, refused: list[str]) -> str:
    text = reply_text(parsed.text) or "(This e-mail has no text.)"
    if refused:
        text += "\n\n(Attachments not kept: " + "; ".join(r.rstrip(".") for r in refused) + ".)"
    return text


def _remember(message_id: str, ticket: Ticket, batch: _Batch) -> None:
    if message_id and message_id not in batch.thread_ids:  # written with the batch (``_Batch.write``)
        batch.pending.thread_ids[message_id] = ticket.pk


def _customer_reply(inbound: InboundEmail, ticket: Ticket, customer: Customer, parsed: ParsedEmail, how: str,
                    batch: _Batch) -> str:  # fmt: skip
    from tickets.services import ticket_customer_reply_insert  # noqa: PLC0415

    if parsed.automated and ticket.is_closed:
        return _done(inbound, InboundEmail.State.IGNORED, f"ignored: automatic reply to closed {ticket.reference}")
    files, refused = _attachments(parsed)
    held = ticket.pk in batch.current
    message = ticket_customer_reply_insert(
        ticket=copy.copy(ticket) if held else ticket,  # the batch's object stays as the row is, should this fail
        customer=customer,
        body=_body(parsed, refused),
        attachments=files,
        channel=Channel.EMAIL,
        automated=bool(parsed.automated),
        deferred=batch.pending.deferred,
        locked=held,
    )
    message_inline_images_link(message=message, files=files)
    landed = message.ticket
    batch.pending.tickets.append(landed)  # as the reply left it: the batch's from now on
    _remember(inbound.message_id, landed, batch)
    what = "automatic reply stored" if parsed.automated else "reply"
    if landed.pk != ticket.pk:
        what += f" (landed on {landed.reference})"
    return _done(
        inbound, InboundEmail.State.PROCESSED, f"{what} on {ticket.reference} by {how}", ticket=landed, message=message
    )


def _agent_reply(inbound: InboundEmail, ticket: Ticket, agent: Any, parsed: ParsedEmail, how: str,
                 batch: _Batch) -> str:  # fmt: skip
    from tickets.selectors import tickets_visible_to  # noqa: PLC0415
    from tickets.services import ticket_reply  # noqa: PLC0415

    if not is_agent(agent) or not tickets_visible_to(agent).filter(pk=ticket.pk).exists():
        return _done(inbound, InboundEmail.State.IGNORED, f"kept for managers: {agent} may not see {ticket.reference}")
    files, refused = _attachments(parsed)
    body = _body(parsed, refused)
    # anyone can write an agent's address in From: only mail the receiving server vouched for (DKIM or
    # DMARC pass) speaks to the customer; anything else is kept as the agent's internal note, marked
    verified = parsed.sender_verified
    if not verified:
        body = (
            "(Sent by e-mail from this agent's address, but the receiving server could not verify the sender, "
            "so it was kept as an internal note and not sent to the customer.)\n\n" + body
        )
    if verified:  # e-mailed on to the customer, where an image reference means nothing
        body = inline_images_unlinked(body)
    batch.current.discard(ticket.pk)  # it reads and changes the row itself: the batch's object is stale now
    message = ticket_reply(ticket=ticket, author=agent, body=body, attachments=files, internal=not verified)
    message_inline_images_link(message=message, files=files)
    _remember(inbound.message_id, ticket, batch)
    what = "agent reply" if verified else "agent note (sender not verified: not sent to the customer)"
    return _done(
        inbound, InboundEmail.State.PROCESSED, f"{what} on {ticket.reference} by {how}", ticket=ticket, message=message
    )


def _new_ticket(inbound: InboundEmail, customer: Customer, parsed: ParsedEmail, batch: _Batch,
                mentions: Ticket | None = None) -> str:  # fmt: skip
    from tickets.services import ticket_insert  # noqa: PLC0415

    mailbox = inbound.mailbox
    files, refused = _attachments(parsed)
    ccs = _ccs(parsed, customer, batch) if mailbox.cc_recipients and mentions is None else []
    subject = parsed.subject or "(no subject)"
    if mentions is not None:
        subject = " ".join(_SUBJECT_REFERENCE.sub("", subject).split()) or "(no subject)"
    ticket, message = ticket_insert(
        requester=customer,
        subject=subject,
        body=_body(parsed, refused),
        queue=mailbox.queue if mailbox.queue.is_active else None,
        channel=Channel.EMAIL,
        attachments=files,
        ccs=ccs,
        deferred=batch.pending.deferred,
    )
    message_inline_images_link(message=message, files=files)
    _remember(inbound.message_id, ticket, batch)
    batch.pending.tickets.append(ticket)
    outcome = f"new ticket {ticket.reference}"
    if mailbox.acknowledge and not parsed.automated:
        outcome += "" if _acknowledge(ticket, customer, batch) else " (not acknowledged: automatic answer cap reached)"
    if mentions is not None:
        # agents see the link in the history; the mentioned ticket's requester never sees this message
        batch.pending.deferred.events.append(
            TicketEvent(ticket=ticket, kind=TicketEvent.Kind.MENTIONED, field="mentions", new_value=mentions.number)
        )
        outcome += f" (mentions {mentions.reference}; the sender is not on it)"
    return _done(inbound, InboundEmail.State.PROCESSED, outcome, ticket=ticket, message=message)


def _acknowledge(ticket: Ticket, customer: Customer, batch: _Batch) -> bool:
    """Plan the acknowledgment (sent with the batch's) unless this address had its hourly share of
    automatic answers (a loop)."""
    recent = batch.answered.get(customer.pk, 0)
    if recent >= helpdesk_setting("INBOUND_AUTO_REPLIES_PER_HOUR"):
        log.warning("not acknowledging %s for %s: %s automatic answers this hour", ticket, customer.email, recent)
        return False
    batch.pending.acknowledge.append(ticket)
    return True


def _refusal_notice(mailbox: Mailbox, address: str, parsed: ParsedEmail) -> None:
    """One polite answer a day to an address a known-customers-only mailbox does not take mail from."""
    today = timezone.now().date().isoformat()
    delivery_plan(
        key=f"inbound:{mailbox.pk}:refused:{address}:{today}",  # the unique key is the rate limit
        category="service",
        recipient=address,
        subject=f"Re: {parsed.subject}" if parsed.subject else "Your message to us",
        body=f"Hello,\n\nthank you for writing to {mailbox.address}. This address takes requests from our "
        f"registered customers only, so your message did not open a request.\n\nIf you are a customer, write "
        f"from the address we know you by, or use the help center: {settings.SITE_URL}/help/",
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
        source=f"inbound:{mailbox.pk}",
    )


def _ccs(parsed: ParsedEmail, requester: Customer, batch: _Batch) -> list[Customer]:
    others = {
        a.email: a for a in (*parsed.to, *parsed.cc) if not _is_ours(a.email, batch.ours) and a.email != requester.email
    }
    people = [a for a in others.values() if _valid_address(a.email)][:20]
    return [customer_get_or_create(email=a.email, name=a.name[:_NAME_MAX])[0] for a in people]


def _too_large(inbound: InboundEmail, raw: bytes, batch: _Batch) -> str:
    from tickets.services import ticket_insert  # noqa: PLC0415

    mailbox = inbound.mailbox
    head = email_parse(_HEADER_END.split(raw, 1)[0] + b"\r\n\r\n")
    if head.sender is None or _is_ours(head.sender.email, batch.ours):
        return _done(inbound, InboundEmail.State.IGNORED, "ignored: too large and without a usable sender")
    batch.look_up([head])
    customer = _customer(mailbox, head.sender, batch)
    if customer is None:
        return _done(inbound, InboundEmail.State.IGNORED, "kept for managers: too large, from an unknown sender")
    limit_mb = helpdesk_setting("INBOUND_MAX_BYTES") / 1024 / 1024
    ticket, _ = ticket_insert(
        requester=customer,
        subject=head.subject or "(no subject)",
        body=f"(This e-mail was {inbound.size / 1024 / 1024:.1f} MB, over the {limit_mb:.0f} MB limit: its text "
        "and attachments were not imported. Agents can download the original from the ticket.)",
        queue=mailbox.queue if mailbox.queue.is_active else None,
        channel=Channel.EMAIL,
        deferred=batch.pending.deferred,
    )
    return _done(inbound, InboundEmail.State.PROCESSED, f"new ticket {ticket.reference} (too large)", ticket=ticket)
