"""Reads of the playbooks app: the dry run, outcome figures, and a customer's story."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from customers.models import Customer
from customers.services import events_rollup
from outreach.selectors import segment_customers
from playbooks.models import (
    ACTIVE_RUN_STATES,
    CustomerHealth,
    OrganizationHealth,
    Playbook,
    PlaybookRun,
    PlaybookRunLog,
    Signal,
    SignalMatch,
)
from playbooks.services.signals import CHUNK, EVALUATORS, ROLLUP_KINDS, Hit
from tickets.models import Kind, Ticket

OUTCOME_DAYS = 30


@dataclass
class DryRun:
    matched: int
    would_start: int
    sample: list[tuple[Customer, Hit]] = field(default_factory=list)
    excluded_segment: int = 0
    excluded_running_or_cooldown: int = 0


def playbook_dry_run(*, playbook: Playbook, now: dt.datetime | None = None, sample_size: int = 20) -> DryRun:
    """Who the playbook would start for now: the signal evaluated live (nothing stored), then the
    segment, running runs and the cooldown, each one query over the matched customers."""
    now = now or timezone.now()
    signal = playbook.signal
    if signal.kind in ROLLUP_KINDS:
        events_rollup(now=now)
    hits = EVALUATORS[signal.kind](signal, now)
    if signal.scope == Signal.Scope.ORGANIZATION:
        # one run per organization: its first customer
        org_ids = sorted(hits)
        per_customer: dict[int, Hit] = {}
        seen: set[int] = set()
        for start in range(0, len(org_ids), CHUNK):
            for org_id, customer_id in (
                Customer.objects.filter(organization_id__in=org_ids[start : start + CHUNK])
                .order_by("organization_id", "pk")
                .values_list("organization_id", "pk")
            ):
                if org_id not in seen:
                    seen.add(org_id)
                    per_customer[customer_id] = hits[org_id]
    else:
        per_customer = hits
    ids = sorted(per_customer)
    keep = set(ids)
    result = DryRun(matched=len(ids), would_start=0)
    blocking = PlaybookRun.objects.filter(playbook=playbook).filter(
        Q(state__in=ACTIVE_RUN_STATES) | Q(started_at__gte=now - dt.timedelta(days=playbook.cooldown_days))
    )
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        if playbook.segment is not None:
            inside = set(segment_customers(segment=playbook.segment).filter(pk__in=part).values_list("pk", flat=True))
            result.excluded_segment += len(part) - len(inside)
            keep -= set(part) - inside
        blocked = set(blocking.filter(customer_id__in=part).values_list("customer_id", flat=True)) & keep
        result.excluded_running_or_cooldown += len(blocked)
        keep -= blocked
    result.would_start = len(keep)
    chosen = sorted(keep)[:sample_size]
    customers = Customer.objects.select_related("organization").in_bulk(chosen)
    result.sample = [(customers[pk], per_customer[pk]) for pk in chosen if pk in customers]
    return result


@dataclass
class Outcomes:
    runs: int
    judged: int
    cleared: int
    tickets_before: int
    tickets_after: int
    by_state: dict[str, int]

    @property
    def cleared_share(self) -> float | None:
        return None if not self.judged else self.cleared / self.judged


def playbook_outcomes(*, playbook: Playbook, now: dt.datetime | None = None) -> Outcomes:
    """For the playbook's runs: how many customers' signal cleared within 30 days of the start (of the
    runs whose 30 days are over or that cleared already), and their tickets in the 30 days before
    and after the start (proactive ones left out). A handful of aggregate queries."""
    now = now or timezone.now()
    window = dt.timedelta(days=OUTCOME_DAYS)
    runs = PlaybookRun.objects.filter(playbook=playbook)
    cleared_in_time = Q(match__cleared_at__isnull=False, match__cleared_at__lte=F("started_at") + window)
    figures = runs.aggregate(
        runs=Count("pk"),
        judged=Count("pk", filter=Q(started_at__lte=now - window) | cleared_in_time),
        cleared=Count("pk", filter=cleared_in_time),
    )
    tickets = Ticket.objects.exclude(kind=Kind.PROACTIVE).filter(requester__playbook_runs__playbook=playbook)
    before = tickets.filter(
        created_at__gte=F("requester__playbook_runs__started_at") - window,
        created_at__lt=F("requester__playbook_runs__started_at"),
    ).count()
    after = tickets.filter(
        created_at__gte=F("requester__playbook_runs__started_at"),
        created_at__lt=F("requester__playbook_runs__started_at") + window,
    ).count()
    by_state = dict(runs.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return Outcomes(
        runs=figures["runs"],
        judged=figures["judged"],
        cleared=figures["cleared"],
        tickets_before=before,
        tickets_after=after,
        by_state=by_state,
    )


def playbook_recent_runs(*, playbook: Playbook, limit: int = 50) -> list[PlaybookRun]:
    return list(
        PlaybookRun.objects.filter(playbook=playbook)
        .select_related("customer", "ticket")
        .prefetch_related(Prefetch("logs", queryset=PlaybookRunLog.objects.order_by("position")))
        .order_by("-started_at", "-id")[:limit]
    )


# --- the customer's story (agent side panel, API) ---------------------------------------------------


def customer_health_score(*, customer_id: int) -> int:
    row = CustomerHealth.objects.filter(customer_id=customer_id).values_list("score", flat=True).first()
    return 100 if row is None else row


def organization_health_score(*, organization_id: int) -> int:
    row = OrganizationHealth.objects.filter(organization_id=organization_id).values_list("score", flat=True).first()
    return 100 if row is None else row


def customer_active_matches(*, customer_id: int) -> QuerySet[SignalMatch]:
    return (
        SignalMatch.objects.filter(customer_id=customer_id, cleared_at__isnull=True, signal__is_active=True)
        .select_related("signal")
        .order_by("-matched_at")
    )


def customer_playbook_runs(*, customer_id: int, limit: int = 20) -> QuerySet[PlaybookRun]:
    return (
        PlaybookRun.objects.filter(customer_id=customer_id)
        .select_related("playbook", "ticket")
        .order_by("-started_at", "-id")[:limit]
    )


def run_get(*, run_id: int) -> PlaybookRun:
    run = PlaybookRun.objects.select_related("playbook", "customer", "ticket", "match").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such playbook run.")
    return run


def signal_list() -> QuerySet[Signal]:
    return Signal.objects.order_by("name")


def signals_with_active_matches() -> QuerySet[Signal]:
    """The signals, each with ``active_matches``: how many subjects it matches now (the API's list and detail)."""
    return signal_list().annotate(active_matches=Count("matches", filter=Q(matches__cleared_at__isnull=True)))


def signal_get(*, signal_id: int) -> Signal:
    signal = signals_with_active_matches().filter(pk=signal_id).first()
    if signal is None:
        raise Http404("No such signal.")
    return signal


def playbook_list() -> QuerySet[Playbook]:
    return Playbook.objects.select_related("signal", "segment", "owner_agent", "owner_queue").prefetch_related("steps")


def playbooks_with_steps() -> QuerySet[Playbook]:
    """The playbooks with each step's template and tag (the API shows them)."""
    return playbook_list().prefetch_related("steps__template", "steps__tag")


def playbook_get(*, playbook_id: int) -> Playbook:
    playbook = playbooks_with_steps().filter(pk=playbook_id).first()
    if playbook is None:
        raise Http404("No such playbook.")
    return playbook


def run_list(*, filters: dict[str, Any] | None = None) -> QuerySet[PlaybookRun]:
    qs = PlaybookRun.objects.select_related("playbook", "customer", "ticket", "match")
    filters = filters or {}
    if filters.get("playbook"):
        qs = qs.filter(playbook_id=filters["playbook"])
    if filters.get("customer"):
        qs = qs.filter(customer_id=filters["customer"])
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    return qs.order_by("-started_at", "-id")
