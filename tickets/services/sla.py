"""SLA: choosing a policy, keeping the ticket's due times, pausing the clocks, and the beat scan.

Due times are stored on the ticket (``first_reply_due_at``, ``next_reply_due_at``,
``resolution_due_at``), their minimum in ``next_sla_due_at`` (the queue's "time
left" and SLA sort), and the next moment the scan must look at the ticket in
``sla_scan_at`` (a partial index), so the beat job is one indexed range query.

While the ticket is ``pending``, ``on_hold`` or ``solved`` the clocks are paused:
the business time left per target moves to ``sla_paused_remaining`` (seconds)
and comes back as new due times when the ticket runs again. A target already
breached stays where it is.
"""

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.conf import helpdesk_setting
from core.humanize import duration
from customers.services import delivery_plan
from tickets.business_time import Calendar, add_business_minutes, business_minutes_between, business_seconds_between
from tickets.models import (
    PRIORITY_RANK,
    Priority,
    Queue,
    SLAEvent,
    SLAPolicy,
    SLATarget,
    SLATargetKind,
    Ticket,
    TicketEvent,
)
from tickets.services._common import Change, set_priority

logger = logging.getLogger(__name__)

DUE_FIELDS: dict[str, str] = {
    SLATargetKind.FIRST_REPLY: "first_reply_due_at",
    SLATargetKind.NEXT_REPLY: "next_reply_due_at",
    SLATargetKind.RESOLUTION: "resolution_due_at",
}
DERIVED_FIELDS = ("next_sla_due_at", "sla_scan_at")


def business_calendar_for(policy: SLAPolicy | None) -> Calendar | None:
    if policy is None or policy.calendar_id is None:
        return None
    calendar = policy.calendar
    assert calendar is not None  # calendar_id checked above
    cached = getattr(calendar, "_business_calendar", None)
    if cached is None:
        cached = Calendar.build(
            timezone=calendar.timezone,
            weekly_hours=calendar.weekly_hours,
            holidays=calendar.holidays.values_list("date", flat=True),
        )
        calendar._business_calendar = cached  # type: ignore[attr-defined]  # a per-instance memo
    return cached


def _policies_active() -> list[SLAPolicy]:
    policies = SLAPolicy.objects.filter(is_active=True).select_related("calendar").prefetch_related("queues")
    return list(policies.order_by("position", "id"))


def sla_policy_for(
    *, queue: Queue, priority: str, organization: Any, policies: list[SLAPolicy] | None = None
) -> SLAPolicy | None:
    """The first active policy (by position) whose conditions all match; then the queue's default;
    then the first policy without conditions. ``policies``: the active ones, read once by a caller that
    chooses for many tickets (``Deferred.memo``)."""
    plan = getattr(organization, "plan", None)
    fallback = None
    for policy in _policies_active() if policies is None else policies:
        queue_ids = {q.pk for q in policy.queues.all()}
        if not (queue_ids or policy.priorities or policy.plans):
            fallback = fallback or policy
            continue
        if queue_ids and queue.pk not in queue_ids:
            continue
        if policy.priorities and priority not in policy.priorities:
            continue
        if policy.plans and plan not in policy.plans:
            continue
        return policy
    default = queue.default_sla_policy if queue.default_sla_policy_id else None
    if default is not None and default.is_active:
        return default
    return fallback


def _minutes(policy: SLAPolicy | None, priority: str, target: str) -> int | None:
    if policy is None:
        return None
    cache = getattr(policy, "_targets", None)
    if cache is None:
        cache = {t.priority: t for t in SLATarget.objects.filter(policy=policy)}
        policy._targets = cache  # type: ignore[attr-defined]  # a per-instance memo
    row = cache.get(priority)
    return row.minutes_for(target) if row is not None else None


def _due(ticket: Ticket, target: str, start: dt.datetime) -> dt.datetime | None:
    minutes = _minutes(ticket.sla_policy, ticket.priority, target)
    if minutes is None:
        return None
    return add_business_minutes(start, minutes, business_calendar_for(ticket.sla_policy))


def sla_refresh_derived(change: Change, *, done: set[tuple[str, str, dt.datetime]] | None = None) -> None:
    """Recompute ``next_sla_due_at`` and ``sla_scan_at`` from the due times (and the events already recorded)."""
    ticket = change.ticket
    done = done or set()
    warn = dt.timedelta(minutes=helpdesk_setting("SLA_WARNING_MINUTES"))
    dues = []
    scan_at = []
    for target, field_name in DUE_FIELDS.items():
        due = getattr(ticket, field_name)
        if due is None:
            continue
        dues.append(due)
        if (target, SLAEvent.Kind.WARNING, due) not in done and (target, SLAEvent.Kind.BREACH, due) not in done:
            scan_at.append(due - warn)
        elif (target, SLAEvent.Kind.BREACH, due) not in done:
            scan_at.append(due)
    change.set("next_sla_due_at", min(dues) if dues else None)
    change.set("sla_scan_at", min(scan_at) if scan_at else None)


def _set_due(change: Change, target: str, due: dt.datetime | None) -> None:
    change.set(DUE_FIELDS[target], due)


def sla_start(change: Change, *, first_reply: bool) -> None:
    """On a new ticket: choose the policy and set the first-reply (if a customer is waiting) and resolution times."""
    ticket = change.ticket
    policies = None
    if change.deferred is not None:  # a batch of new tickets: the policies read once, their targets too
        policies = change.deferred.memo.get("sla_policies")
        if policies is None:
            policies = change.deferred.memo["sla_policies"] = _policies_active()
    ticket.sla_policy = sla_policy_for(
        queue=ticket.queue, priority=ticket.priority, organization=ticket.organization, policies=policies
    )
    change.touch("sla_policy")
    if first_reply:
        _set_due(change, SLATargetKind.FIRST_REPLY, _due(ticket, SLATargetKind.FIRST_REPLY, change.now))
    _set_due(change, SLATargetKind.RESOLUTION, _due(ticket, SLATargetKind.RESOLUTION, change.now))
    sla_refresh_derived(change)


def sla_reapply(change: Change) -> None:
    """After a priority or queue change: choose the policy again and re-measure the running targets
    from their start (the ticket's creation, or the customer's last message for next reply).

    Paused targets keep the time they had left; the new policy applies to them from the next pause on.
    """
    ticket = change.ticket
    policy = sla_policy_for(queue=ticket.queue, priority=ticket.priority, organization=ticket.organization)
    if policy != ticket.sla_policy:
        ticket.sla_policy = policy
        change.touch("sla_policy")
    if ticket.sla_paused_at is not None or not ticket.is_unsolved:
        return
    if ticket.first_reply_due_at is not None or (
        ticket.first_agent_reply_at is None and ticket.last_customer_message_at is not None
    ):
        _set_due(change, SLATargetKind.FIRST_REPLY, _due(ticket, SLATargetKind.FIRST_REPLY, ticket.created_at))
    if ticket.next_reply_due_at is not None and ticket.last_customer_message_at is not None:
        _set_due(
            change, SLATargetKind.NEXT_REPLY, _due(ticket, SLATargetKind.NEXT_REPLY, ticket.last_customer_message_at)
        )
    _set_due(change, SLATargetKind.RESOLUTION, _due(ticket, SLATargetKind.RESOLUTION, ticket.created_at))
    sla_refresh_derived(change)


def sla_pause(change: Change) -> None:
    """Stop the clocks: running targets not yet due keep their business time left."""
    ticket = change.ticket
    if ticket.sla_paused_at is not None:
        return
    calendar = business_calendar_for(ticket.sla_policy)
    remaining = dict(ticket.sla_paused_remaining or {})
    for target, field_name in DUE_FIELDS.items():
        due = getattr(ticket, field_name)
        if due is not None and due > change.now:
            remaining[target] = int(business_seconds_between(change.now, due, calendar))
            _set_due(change, target, None)
    change.set("sla_paused_remaining", remaining)
    change.set("sla_paused_at", change.now)
    sla_refresh_derived(change)


def sla_resume(change: Change) -> None:
    """Restart the clocks: each paused target is due after the business time it had left."""
    ticket = change.ticket
    if ticket.sla_paused_at is None:
        return
    calendar = business_calendar_for(ticket.sla_policy)
    for target, seconds in (ticket.sla_paused_remaining or {}).items():
        _set_due(change, target, add_business_minutes(change.now, seconds / 60, calendar))
    change.set("sla_paused_remaining", {})
    change.set("sla_paused_at", None)
    sla_refresh_derived(change)


def sla_stop(change: Change) -> None:
    """Closed: no more targets."""
    for target in DUE_FIELDS:
        _set_due(change, target, None)
    change.set("sla_paused_remaining", {})
    change.set("sla_paused_at", None)
    sla_refresh_derived(change)


def _met(change: Change, target: str) -> None:
    """A target was met now: clear it, and complete its open breach record with the overdue minutes."""
    ticket = change.ticket
    _set_due(change, target, None)
    if target in (ticket.sla_paused_remaining or {}):
        remaining = dict(ticket.sla_paused_remaining)
        remaining.pop(target)
        change.set("sla_paused_remaining", remaining)
    for breach in SLAEvent.objects.filter(ticket=ticket, target=target, kind=SLAEvent.Kind.BREACH, met_at__isnull=True):
        breach.met_at = change.now
        breach.overdue_minutes = max(int((change.now - breach.due_at).total_seconds() // 60), 0)
        breach.save(update_fields=["met_at", "overdue_minutes"])
    sla_refresh_derived(change)


def sla_agent_replied(change: Change) -> None:
    """A public agent reply: the first-reply milestone and target, and the next-reply target."""
    ticket = change.ticket
    if ticket.first_agent_reply_at is None:
        change.set("first_agent_reply_at", change.now)
        if ticket.last_customer_message_at is not None:
            change.set(
                "first_reply_minutes",
                max(
                    business_minutes_between(ticket.created_at, change.now, business_calendar_for(ticket.sla_policy)), 0
                ),
            )
    _met(change, SLATargetKind.FIRST_REPLY)
    _met(change, SLATargetKind.NEXT_REPLY)


def sla_customer_replied(change: Change) -> None:
    """A customer message starts the first-reply target (outbound tickets) or the next-reply one."""
    ticket = change.ticket
    change.set("last_customer_message_at", change.now)
    target = SLATargetKind.FIRST_REPLY if ticket.first_agent_reply_at is None else SLATargetKind.NEXT_REPLY
    field_name = DUE_FIELDS[target]
    if getattr(ticket, field_name) is None and target not in (ticket.sla_paused_remaining or {}):
        due = _due(ticket, target, change.now)
        if ticket.sla_paused_at is not None and due is not None:
            remaining = dict(ticket.sla_paused_remaining or {})
            remaining[target] = int(business_seconds_between(change.now, due, business_calendar_for(ticket.sla_policy)))
            change.set("sla_paused_remaining", remaining)
        else:
            _set_due(change, target, due)
    sla_refresh_derived(change)


def sla_solved(change: Change) -> None:
    """Solving meets the resolution target (and records the resolution time); the other clocks pause."""
    ticket = change.ticket
    calendar = business_calendar_for(ticket.sla_policy)
    change.set("resolution_minutes", max(business_minutes_between(ticket.created_at, change.now, calendar), 0))
    due = ticket.resolution_due_at
    sla_pause(change)
    if due is not None and due <= change.now:
        _met(change, SLATargetKind.RESOLUTION)
    else:
        for breach in SLAEvent.objects.filter(
            ticket=ticket, target=SLATargetKind.RESOLUTION, kind=SLAEvent.Kind.BREACH, met_at__isnull=True
        ):
            breach.met_at = change.now
            breach.overdue_minutes = max(int((change.now - breach.due_at).total_seconds() // 60), 0)
            breach.save(update_fields=["met_at", "overdue_minutes"])
    # targets already breached stop counting on a solved ticket (their breach stays recorded)
    for target in DUE_FIELDS:
        _set_due(change, target, None)
    sla_refresh_derived(change)


# --- the beat scan -----------------------------------------------------------------------------------


def _sla_recipients(ticket: Ticket) -> list[str]:
    assignee = ticket.assignee if ticket.assignee_id else None
    if assignee is not None and assignee.is_active:
        return [assignee.email]
    return sorted(
        ticket.queue.memberships.filter(agent__is_active=True).values_list("agent__email", flat=True).distinct()
    )


def _warn(ticket: Ticket, target: str, due: dt.datetime, *, breached: bool, now: dt.datetime) -> None:
    """One e-mail per agent, keyed by ticket, target, due time and agent: a scan run twice, or a change
    that leaves the due time where it was (a bulk priority change between priorities with the same
    targets), finds the row and sends nothing; a due time that moves is a new alert."""
    label = SLATargetKind(target).label.lower()
    calendar = business_calendar_for(ticket.sla_policy)
    # the SLA counts business time, so the alert does too: a breach found Tuesday 12:33 of a target
    # due Monday 10:00 is 10 h 33 min overdue in office hours, not "1593 min ago"
    minutes = business_minutes_between(due, now, calendar) if breached else business_minutes_between(now, due, calendar)
    amount = duration(minutes, days=calendar is None)
    business = " of business time" if calendar is not None else ""
    state = f"overdue by {amount}" if breached else f"due in {amount}"
    link = f"{settings.SITE_URL}{ticket.get_absolute_url()}"
    for email in _sla_recipients(ticket):
        delivery_plan(
            key=f"ticket:{ticket.pk}:sla:{target}:{int(due.timestamp())}:{email}",
            category="service",
            customer=None,
            recipient=email,
            subject=f"[{ticket.reference}] SLA {label} {state}",
            body=f"The {label} target of ticket {ticket.reference} ({ticket.subject}) is {state}{business} "
            f"(due {due:%a %d %b %Y %H:%M} UTC).\n\nOpen the ticket: {link}\n",
            source=f"ticket:{ticket.pk}",
        )


def _escalate(change: Change) -> None:
    ticket = change.ticket
    change.set("escalated_at", ticket.escalated_at or change.now)
    if ticket.sla_policy is not None and ticket.sla_policy.raise_priority_on_breach:
        ranks = sorted(PRIORITY_RANK.items(), key=lambda item: item[1])
        higher = [priority for priority, rank in ranks if rank > ticket.priority_rank]
        if higher:
            set_priority(change, Priority(higher[0]))


def _record_sla_event(ticket: Ticket, target: str, kind: str, due: dt.datetime, now: dt.datetime) -> bool:
    """True when this call recorded it (the unique constraint makes a second scan a no-op)."""
    try:
        with transaction.atomic():
            _, created = SLAEvent.objects.get_or_create(
                ticket=ticket, target=target, kind=kind, due_at=due, defaults={"created_at": now}
            )
    except IntegrityError:
        return False
    return created


def _scan_one(ticket_id: int, now: dt.datetime) -> dict[str, int]:
    counts = {"warnings": 0, "breaches": 0}
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("sla_policy", "assignee", "queue")
            .filter(pk=ticket_id, sla_scan_at__lte=now)
            .first()
        )
        if ticket is None:  # changed since the scan query
            return counts
        change = Change(ticket=ticket, actor=None, now=now)
        warn = dt.timedelta(minutes=helpdesk_setting("SLA_WARNING_MINUTES"))
        done = set(SLAEvent.objects.filter(ticket=ticket).values_list("target", "kind", "due_at"))
        breached_now = False
        for target, field_name in DUE_FIELDS.items():
            due = getattr(ticket, field_name)
            if due is None:
                continue
            warned = (target, SLAEvent.Kind.WARNING, due) in done
            if due <= now and (target, SLAEvent.Kind.BREACH, due) not in done:
                if _record_sla_event(ticket, target, SLAEvent.Kind.BREACH, due, now):
                    counts["breaches"] += 1
                    breached_now = True
                    change.record(TicketEvent.Kind.SLA_BREACH, field_name=target, new=due)
                    if not warned:  # the warning was missed (scan down): say it once, as a breach
                        _record_sla_event(ticket, target, SLAEvent.Kind.WARNING, due, now)
                        _warn(ticket, target, due, breached=True, now=now)
                done.add((target, SLAEvent.Kind.BREACH, due))
                done.add((target, SLAEvent.Kind.WARNING, due))
            elif due - warn <= now and not warned:
                if _record_sla_event(ticket, target, SLAEvent.Kind.WARNING, due, now):
                    counts["warnings"] += 1
                    change.record(TicketEvent.Kind.SLA_WARNING, field_name=target, new=due)
                    _warn(ticket, target, due, breached=False, now=now)
                done.add((target, SLAEvent.Kind.WARNING, due))
        if breached_now:
            _escalate(change)
        sla_refresh_derived(change, done=done)
        if change.fields - {"sla_scan_at"} or change.events:
            change.save()  # a visible change: version + 1, updated_at, audit
        elif change.fields:
            ticket.save(update_fields=["sla_scan_at"])
    return counts


def sla_scan(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat job: warn once per target about to breach, record breaches, escalate.

    One indexed range query over ``sla_scan_at`` finds the tickets; each is then
    re-read under its row lock, so a concurrent reply or a second scan is safe.
    """
    now = now or timezone.now()
    ids = list(
        Ticket.objects.filter(sla_scan_at__lte=now)
        .order_by("sla_scan_at")
        .values_list("pk", flat=True)[: helpdesk_setting("SLA_SCAN_LIMIT")]
    )
    totals = {"tickets": len(ids), "warnings": 0, "breaches": 0}
    for ticket_id in ids:
        for key, value in _scan_one(ticket_id, now).items():
            totals[key] += value
    return totals
