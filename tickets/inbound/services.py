"""E-mail in: store every message raw first, then route it to the right ticket or open a new one.

``inbound_store`` is what every source calls (the API, the MTA pipe, IMAP polling, the drop folder).
It commits the raw bytes before it returns, so a source marks a message as taken (an IMAP flag, a
webhook's 200, a moved file) only once it is safe; the same message fetched or posted twice is stored
once, keyed by its Message-ID per mailbox (a copy that gained a ``Received`` header is the same
message), or by a hash of its body when it has no Message-ID.

``inbound_process`` runs in a worker. Routing, in order: the signed reply address (``addresses``), the
``In-Reply-To``/``References`` ids of mail we sent or received on a ticket (``MailThreadId``), the
``[#1042]`` reference in the subject; otherwise a new ticket in the mailbox's queue. A matched ticket
takes the message only from someone who may reply on it (the requester, a CC, a colleague who sees the
organization's tickets, an agent); anyone else's message opens a new ticket that names the one it
mentioned, and is never shown to that ticket's requester.

A message that fails (bad MIME no parser survives, a database error) is retried with back-off
(``INBOUND_MAX_ATTEMPTS``), then quarantined for managers with its raw source; it never holds up the
messages behind it, because each is its own task and row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.roles import is_agent
from customers.models import Customer, Delivery
from customers.services import customer_get_or_create, delivery_bounce, delivery_plan
from tickets.inbound.addresses import ticket_id_from_address
from tickets.inbound.inline import inline_images_unlinked, message_inline_images_link
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId
from tickets.inbound.parsing import Address, ParsedEmail, email_parse
from tickets.inbound.quotes import reply_text
from tickets.models import Channel, Message, Ticket, TicketEvent

log = logging.getLogger(__name__)

_SUBJECT_REFERENCE = re.compile(r"\[#(\d{1,12})\]")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_NAME_MAX: int = Customer._meta.get_field("name").max_length or 200
_EMAIL_MAX: int = Customer._meta.get_field("email").max_length or 254
_PROCESSED_FIELDS = [
    "state", "outcome", "ticket", "ticket_message", "text", "automated", "suspicious", "processed_at", "attempts",
    "last_error",
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
        parsed = email_parse(_HEADER_END.split(raw, 1)[0] + b"\r\n\r\n")
    except Exception:
        log.warning("could not read the headers of an inbound message; storing it without them", exc_info=True)
        return _Head(message_id="", sender="", subject="")
    return _Head(
        message_id=parsed.message_id[:998],
        sender=parsed.sender.email[:254] if parsed.sender else "",
        subject=parsed.subject[:300],
    )


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
            transaction.on_commit(lambda: _enqueue(inbound.pk))
    return inbound, created


def _enqueue(inbound_id: int, *, countdown: float | None = None) -> None:
    from tickets.tasks import process_inbound_email  # noqa: PLC0415  (tasks import services)

    process_inbound_email.apply_async(args=[inbound_id], queue="transactional", countdown=countdown)


def _address_of(value: str) -> str:
    from email.utils import parseaddr  # noqa: PLC0415

    return parseaddr(value)[1].strip().lower()


# processing ---------------------------------------------------------------------------------------------


def inbound_process(*, inbound_id: int, now: dt.datetime | None = None) -> str:
    """Route one stored message; returns what happened. A second call for a processed message does nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        inbound = (
            InboundEmail.objects.select_for_update(skip_locked=True)
            .select_related("mailbox__queue")
            .filter(pk=inbound_id, state__in=[InboundEmail.State.NEW, InboundEmail.State.FAILED])
            .first()
        )
        if inbound is None:
            return "nothing to do"
        try:
            with transaction.atomic():  # a savepoint: a failure undoes the routing, not the failure record
                outcome = _process(inbound, now)
        except Exception as exc:
            _failed(inbound, exc, now)
            return f"failed: {exc}"
        inbound.processed_at = timezone.now()
        inbound.attempts += 1
        inbound.last_error = ""
        inbound.save(update_fields=_PROCESSED_FIELDS)  # never the raw bytes: they can be megabytes
        return outcome


def _failed(inbound: InboundEmail, exc: Exception, now: dt.datetime) -> None:
    log.warning("inbound e-mail %s failed: %s", inbound.pk, exc, exc_info=True)
    inbound.attempts += 1
    inbound.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if inbound.attempts >= helpdesk_setting("INBOUND_MAX_ATTEMPTS"):
        inbound.state = InboundEmail.State.QUARANTINED
        inbound.outcome = "quarantined after repeated failures: a manager can read and retry it"
    else:
        inbound.state = InboundEmail.State.FAILED
        delay = helpdesk_setting("INBOUND_RETRY_BASE_SECONDS") * 2 ** (inbound.attempts - 1)
        inbound.next_attempt_at = now + dt.timedelta(seconds=delay)
        transaction.on_commit(lambda: _enqueue(inbound.pk, countdown=delay))
    inbound.save(update_fields=["attempts", "last_error", "state", "outcome", "next_attempt_at"])


def inbound_retry(*, inbound: InboundEmail) -> None:
    """A manager's retry of a failed or quarantined message: processed again from its raw source."""
    if inbound.state not in (InboundEmail.State.FAILED, InboundEmail.State.QUARANTINED):
        raise ApplicationError("Only failed or quarantined messages can be retried.")
    InboundEmail.objects.filter(pk=inbound.pk).update(
        state=InboundEmail.State.FAILED, attempts=0, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: _enqueue(inbound.pk))


def inbound_due_requeue(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Beat: re-enqueue messages whose task was lost (a broker restart); the task itself is idempotent."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=60)
    ids = list(
        InboundEmail.objects.filter(
            state__in=[InboundEmail.State.NEW, InboundEmail.State.FAILED], next_attempt_at__lte=stale
        ).values_list("pk", flat=True)[:limit]
    )
    for inbound_id in ids:
        _enqueue(inbound_id)
    return len(ids)


def _done(inbound: InboundEmail, state: str, outcome: str, *, ticket: Ticket | None = None,
          message: Message | None = None) -> str:  # fmt: skip
    inbound.state = state
    inbound.outcome = outcome[:300]
    inbound.ticket = ticket
    inbound.ticket_message = message
    return outcome


def _process(inbound: InboundEmail, now: dt.datetime) -> str:
    mailbox = inbound.mailbox
    raw = bytes(inbound.raw)
    if inbound.size > helpdesk_setting("INBOUND_MAX_BYTES"):
        return _too_large(inbound, raw)
    parsed = email_parse(raw)
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
    ours = _our_addresses()
    if _is_ours(sender.email, ours):
        return _done(inbound, InboundEmail.State.IGNORED, "ignored: sent from one of our own addresses")
    ticket, how = _route(parsed, ours)
    if ticket is None and parsed.automated:
        if parsed.bulk and mailbox.open_tickets_for_bulk:
            pass
        else:
            kind = "bulk" if parsed.bulk else "automatic reply"
            return _done(inbound, InboundEmail.State.IGNORED, f"ignored: {kind} ({parsed.automated})")
    from tickets.selectors import agent_by_email  # noqa: PLC0415  (as the other tickets modules here)

    agent = agent_by_email(email=sender.email)
    if ticket is not None and agent is not None:
        return _agent_reply(inbound, ticket, agent, parsed, how)
    customer = _customer(mailbox, sender)
    if customer is None:
        why = "kept for managers: unknown sender, the mailbox takes known customers only"
        if not parsed.automated:
            _refusal_notice(mailbox, sender.email, parsed)
            why += "; told the sender (at most once a day)"
        return _done(inbound, InboundEmail.State.IGNORED, why)
    if ticket is not None:
        from tickets.policies import Action, ticket_may  # noqa: PLC0415

        if ticket_may(ticket=ticket, customer=customer, action=Action.REPLY):
            return _customer_reply(inbound, ticket, customer, parsed, how)
        return _new_ticket(inbound, customer, parsed, mentions=ticket)
    return _new_ticket(inbound, customer, parsed)


def _route(parsed: ParsedEmail, ours: set[str]) -> tuple[Ticket | None, str]:
    tagged = [a.email for a in (*parsed.to, *parsed.cc) if "+" in a.email.partition("@")[0]]
    for address in tagged:
        for own in ours:
            ticket_id = ticket_id_from_address(address=address, mailbox_address=own)
            if ticket_id is not None and (ticket := Ticket.objects.filter(pk=ticket_id).first()):
                return ticket, "reply address"
    if ids := parsed.thread_ids:
        known = dict(MailThreadId.objects.filter(message_id__in=ids).values_list("message_id", "ticket_id"))
        for message_id in ids:  # the nearest answered message first
            if message_id in known:
                return Ticket.objects.get(pk=known[message_id]), "In-Reply-To/References"
    match = _SUBJECT_REFERENCE.search(parsed.subject)
    if match and (ticket := Ticket.objects.filter(number=int(match.group(1))).first()):
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


def _customer(mailbox: Mailbox, sender: Address) -> Customer | None:
    if mailbox.accept == Mailbox.Accept.KNOWN:
        return Customer.objects.filter(email=sender.email).first()
    customer, _ = customer_get_or_create(email=sender.email, name=sender.name[:_NAME_MAX])
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


def _remember(message_id: str, ticket: Ticket) -> None:
    if message_id:  # one statement; a Message-ID we know already keeps the ticket it first named
        MailThreadId.objects.bulk_create(
            [MailThreadId(message_id=message_id, ticket=ticket, outbound=False)], ignore_conflicts=True
        )


def _customer_reply(inbound: InboundEmail, ticket: Ticket, customer: Customer, parsed: ParsedEmail, how: str) -> str:
    from tickets.services import ticket_customer_reply  # noqa: PLC0415

    if parsed.automated and ticket.is_closed:
        return _done(inbound, InboundEmail.State.IGNORED, f"ignored: automatic reply to closed {ticket.reference}")
    files, refused = _attachments(parsed)
    message = ticket_customer_reply(
        ticket=ticket,
        customer=customer,
        body=_body(parsed, refused),
        attachments=files,
        channel=Channel.EMAIL,
        automated=bool(parsed.automated),
    )
    message_inline_images_link(message=message, files=files)
    landed = message.ticket
    _remember(inbound.message_id, landed)
    what = "automatic reply stored" if parsed.automated else "reply"
    if landed.pk != ticket.pk:
        what += f" (landed on {landed.reference})"
    return _done(
        inbound, InboundEmail.State.PROCESSED, f"{what} on {ticket.reference} by {how}", ticket=landed, message=message
    )


def _agent_reply(inbound: InboundEmail, ticket: Ticket, agent: Any, parsed: ParsedEmail, how: str) -> str:
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
    message = ticket_reply(ticket=ticket, author=agent, body=body, attachments=files, internal=not verified)
    message_inline_images_link(message=message, files=files)
    _remember(inbound.message_id, ticket)
    what = "agent reply" if verified else "agent note (sender not verified: not sent to the customer)"
    return _done(
        inbound, InboundEmail.State.PROCESSED, f"{what} on {ticket.reference} by {how}", ticket=ticket, message=message
    )


def _new_ticket(inbound: InboundEmail, customer: Customer, parsed: ParsedEmail, mentions: Ticket | None = None) -> str:
    from tickets.services import ticket_create  # noqa: PLC0415

    mailbox = inbound.mailbox
    files, refused = _attachments(parsed)
    ccs = _ccs(parsed, customer, _our_addresses()) if mailbox.cc_recipients and mentions is None else []
    subject = parsed.subject or "(no subject)"
    if mentions is not None:
        subject = " ".join(_SUBJECT_REFERENCE.sub("", subject).split()) or "(no subject)"
    ticket = ticket_create(
        requester=customer,
        subject=subject,
        body=_body(parsed, refused),
        queue=mailbox.queue if mailbox.queue.is_active else None,
        channel=Channel.EMAIL,
        attachments=files,
        ccs=ccs,
    )
    message = ticket.messages.order_by("id").first()
    if message is not None:
        message_inline_images_link(message=message, files=files)
    _remember(inbound.message_id, ticket)
    outcome = f"new ticket {ticket.reference}"
    if mailbox.acknowledge and not parsed.automated:
        outcome += "" if _acknowledge(ticket, customer) else " (not acknowledged: automatic answer cap reached)"
    if mentions is not None:
        # agents see the link in the history; the mentioned ticket's requester never sees this message
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.MENTIONED, field="mentions", new_value=mentions.number
        )
        outcome += f" (mentions {mentions.reference}; the sender is not on it)"
    return _done(inbound, InboundEmail.State.PROCESSED, outcome, ticket=ticket, message=message)


def _acknowledge(ticket: Ticket, customer: Customer) -> bool:
    """Send the acknowledgment unless this address had its hourly share of automatic answers (a loop)."""
    from tickets.services.notifications import ticket_notify_received  # noqa: PLC0415

    since = timezone.now() - dt.timedelta(hours=1)
    recent = Delivery.objects.filter(
        customer=customer, created_at__gte=since, headers__has_key="Auto-Submitted"
    ).count()  # the (customer, created_at) index bounds it to this address's last hour
    if recent >= helpdesk_setting("INBOUND_AUTO_REPLIES_PER_HOUR"):
        log.warning("not acknowledging %s for %s: %s automatic answers this hour", ticket, customer.email, recent)
        return False
    ticket_notify_received(ticket=ticket)
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


def _ccs(parsed: ParsedEmail, requester: Customer, ours: set[str]) -> list[Customer]:
    others = {
        a.email: a for a in (*parsed.to, *parsed.cc) if not _is_ours(a.email, ours) and a.email != requester.email
    }
    people = [a for a in others.values() if _valid_address(a.email)][:20]
    return [customer_get_or_create(email=a.email, name=a.name[:_NAME_MAX])[0] for a in people]


def _too_large(inbound: InboundEmail, raw: bytes) -> str:
    from tickets.services import ticket_create  # noqa: PLC0415

    mailbox = inbound.mailbox
    head = email_parse(_HEADER_END.split(raw, 1)[0] + b"\r\n\r\n")
    if head.sender is None or _is_ours(head.sender.email, _our_addresses()):
        return _done(inbound, InboundEmail.State.IGNORED, "ignored: too large and without a usable sender")
    customer = _customer(mailbox, head.sender)
    if customer is None:
        return _done(inbound, InboundEmail.State.IGNORED, "kept for managers: too large, from an unknown sender")
    limit_mb = helpdesk_setting("INBOUND_MAX_BYTES") / 1024 / 1024
    ticket = ticket_create(
        requester=customer,
        subject=head.subject or "(no subject)",
        body=f"(This e-mail was {inbound.size / 1024 / 1024:.1f} MB, over the {limit_mb:.0f} MB limit: its text "
        "and attachments were not imported. Agents can download the original from the ticket.)",
        queue=mailbox.queue if mailbox.queue.is_active else None,
        channel=Channel.EMAIL,
    )
    return _done(inbound, InboundEmail.State.PROCESSED, f"new ticket {ticket.reference} (too large)", ticket=ticket)
