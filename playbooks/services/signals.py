"""Signal evaluation: one set-based query per signal kind over every customer (or organization).

Each evaluator returns ``{subject_id: Hit}`` for the subjects the condition holds for now, built
from one grouped query (plus, for a few kinds, one more bounded query over the matched subjects
to tell the story); ``_store`` then writes the difference to ``SignalMatch`` in bulk: new matches
inserted, changed evidence updated, matches that no longer hold cleared. No Python loop runs a
query per customer. Usage drop and milestone read the daily rollup (``CustomerEventDay``, brought up
to date just before); spike and event-happened read recent raw events through their indexes.
"""

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Customer, CustomerEvent, CustomerEventDay, Organization
from customers.services import events_rollup
from outreach.models import FollowUp
from playbooks.models import Signal, SignalKind, SignalMatch
from tickets.models import Kind, Message, SLAEvent, Ticket
from tickets.sentiment import NEUTRAL_BAND

CHUNK = 5000


@dataclass
class Hit:
    """Why the condition holds for one subject: the words and the numbers."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)


Hits = dict[int, Hit]


def _plural(n: int | float, word: str) -> str:
    return f"{n:g} {word}" if n == 1 else f"{n:g} {word}s"


def _days_ago(now: dt.datetime, days: float) -> dt.datetime:
    return now - dt.timedelta(days=days)


def _org_scope(signal: Signal) -> bool:
    return signal.scope == Signal.Scope.ORGANIZATION


# --- the kinds ----------------------------------------------------------------------------------


def _weeks(today: dt.date, count: int) -> list[tuple[dt.date, dt.date]]:
    """``count`` trailing 7-day windows ending today, oldest first: [(first day, last day), ...]."""
    windows = []
    for back in range(count - 1, -1, -1):
        last = today - dt.timedelta(days=7 * back)
        windows.append((last - dt.timedelta(days=6), last))
    return windows


def _usage_drop(signal: Signal, now: dt.datetime) -> Hits:
    """Events of kind K per week below T for N consecutive weeks, after a week at or above T.

    Weeks are trailing 7-day windows ending today (UTC), read from the rollup; a week with no events
    counts 0. A customer created after the N weeks began is not judged on weeks it did not exist.
    """
    p = signal.params
    kind, threshold, n = p["event_kind"], p["threshold"], p["weeks"]
    windows = _weeks(now.date(), n + 1)  # the week before, then the N weeks judged
    group = "customer__organization_id" if _org_scope(signal) else "customer_id"
    qs = CustomerEventDay.objects.filter(kind=kind, day__gte=windows[0][0], day__lte=windows[-1][1])
    if not _org_scope(signal):
        judged_from = dt.datetime.combine(windows[1][0], dt.time.min, tzinfo=dt.UTC)
        qs = qs.filter(customer__created_at__lte=judged_from)
    else:
        qs = qs.filter(customer__organization__isnull=False)
    sums = {
        f"w{i}": Coalesce(Sum("count", filter=Q(day__gte=lo, day__lte=hi)), Value(0))
        for i, (lo, hi) in enumerate(windows)
    }
    rows = (
        qs.values(group)
        .annotate(**sums)
        .filter(w0__gte=threshold, **{f"w{i}__lt": threshold for i in range(1, n + 1)})
        .values_list(group, *sums)
    )
    hits: Hits = {}
    for subject, *counts in rows:
        weeks = ", ".join(str(c) for c in counts)
        hits[subject] = Hit(
            f"{kind} per week: {weeks} (below {threshold} for {_plural(n, 'week')}, "
            f"weeks ending {windows[0][1]:%b %d} to {windows[-1][1]:%b %d})",
            {"per_week": list(counts), "week_ends": [w[1].isoformat() for w in windows], "threshold": threshold},
        )
    return hits


def _usage_spike(signal: Signal, now: dt.datetime) -> Hits:
    """Events of kind K in the last H hours above T (raw events, the (kind, occurred_at, customer) index)."""
    p = signal.params
    kind, threshold, hours = p["event_kind"], p["threshold"], p["hours"]
    group = "customer__organization_id" if _org_scope(signal) else "customer_id"
    qs = CustomerEvent.objects.filter(kind=kind, occurred_at__gt=now - dt.timedelta(hours=hours), occurred_at__lte=now)
    if _org_scope(signal):
        qs = qs.filter(customer__organization__isnull=False)
    rows = qs.values(group).annotate(n=Count("id"), last=Max("occurred_at")).filter(n__gt=threshold)
    return {
        row[group]: Hit(
            f"{_plural(row['n'], kind + ' event')} in the last {_plural(hours, 'hour')} (threshold {threshold}), "
            f"the last at {row['last']:%Y-%m-%d %H:%M} UTC",
            {"count": row["n"], "hours": hours, "threshold": threshold, "last": row["last"].isoformat()},
        )
        for row in rows
    }


def _repeated_tickets(signal: Signal, now: dt.datetime) -> Hits:
    """At least N tickets with the same tag (one given, or any one) or in one queue within D days."""
    p = signal.params
    n, days, tag, queue = p["min_tickets"], p["days"], p["tag"], p["queue"]
    group = "organization_id" if _org_scope(signal) else "requester_id"
    qs = Ticket.objects.filter(created_at__gte=_days_ago(now, days), merged_into__isnull=True).exclude(
        kind=Kind.PROACTIVE
    )
    if _org_scope(signal):
        qs = qs.filter(organization__isnull=False)
    if queue:
        qs, topic_field, topic = qs.filter(queue__slug=queue), "queue__slug", "in the queue"
    else:
        qs, topic_field, topic = (qs.filter(tags__name=tag) if tag else qs), "tags__name", "tagged"
    rows = (
        qs.values_list(group, topic_field)
        .annotate(n=Count("id", distinct=True))
        .filter(n__gte=n)
        .values_list(group, topic_field, "n")
    )
    best: dict[int, tuple[str, int]] = {}
    for subject, name, count in rows:
        if name is None:  # tickets without any tag
            continue
        if subject not in best or count > best[subject][1]:
            best[subject] = (name, count)
    # the ticket numbers of the matched subjects only, for the story
    numbers: dict[int, list[int]] = {}
    subjects = sorted(best)
    for start in range(0, len(subjects), CHUNK):
        part = subjects[start : start + CHUNK]
        for subject, name, number in (
            qs.filter(**{f"{group}__in": part}).values_list(group, topic_field, "number").order_by("created_at")
        ):
            if best[subject][0] == name:
                numbers.setdefault(subject, []).append(number)
    hits: Hits = {}
    for subject, (name, count) in best.items():
        refs = ", ".join(f"#{x}" for x in numbers.get(subject, [])[:10])
        hits[subject] = Hit(
            f"{_plural(count, 'ticket')} {topic} {name} in {_plural(days, 'day')}: {refs}",
            {"count": count, "topic": name, "by": "queue" if queue else "tag", "tickets": numbers.get(subject, [])},
        )
    return hits


def _negative_sentiment(signal: Signal, now: dt.datetime) -> Hits:
    """The customer's messages of the last D days score below T on average, or turned from positive
    (the D days before) to negative."""
    p = signal.params
    threshold, days = p["sentiment_threshold"], p["days"]
    recent, before = _days_ago(now, days), _days_ago(now, 2 * days)
    rows = (
        Message.objects.filter(
            author_customer__isnull=False,
            by_agent=False,
            sentiment__isnull=False,
            created_at__gte=before,
            created_at__lte=now,
        )
        .values("author_customer_id")
        .annotate(
            recent=Avg("sentiment", filter=Q(created_at__gte=recent)),
            recent_n=Count("id", filter=Q(created_at__gte=recent)),
            before=Avg("sentiment", filter=Q(created_at__lt=recent)),
            latest=Max("created_at"),
        )
        .filter(Q(recent__lt=threshold) | Q(before__gte=NEUTRAL_BAND, recent__lte=-NEUTRAL_BAND))
    )
    hits: Hits = {}
    for row in rows:
        text = (
            f"sentiment of {_plural(row['recent_n'], 'message')} in the last {_plural(days, 'day')}: "
            f"{row['recent']:+.2f} (below {threshold:+.2f})"
            if row["recent"] < threshold
            else f"sentiment fell from {row['before']:+.2f} to {row['recent']:+.2f} "
            f"over {_plural(row['recent_n'], 'message')} in the last {_plural(days, 'day')}"
        )
        hits[row["author_customer_id"]] = Hit(
            text,
            {
                "recent": round(row["recent"], 4),
                "before": None if row["before"] is None else round(row["before"], 4),
                "messages": row["recent_n"],
                "threshold": threshold,
            },
        )
    return hits


def _date_ahead(signal: Signal, now: dt.datetime) -> Hits:
    """The organization's renewal date (the one date field there is so far) within D days."""
    days = signal.params["days"]
    today = now.date()
    window = {"renewal_date__gte": today, "renewal_date__lte": today + dt.timedelta(days=days)}
    rows: QuerySet[Any, tuple[int, dt.date | None]]  # (subject, renewal date)
    if _org_scope(signal):
        rows = Organization.objects.filter(**window).values_list("pk", "renewal_date")
    else:
        rows = Customer.objects.filter(**{f"organization__{k}": v for k, v in window.items()}).values_list(
            "pk", "organization__renewal_date"
        )
    return {
        subject: Hit(
            f"renewal on {date:%Y-%m-%d}, in {_plural((date - today).days, 'day')}",
            {"date": date.isoformat(), "days_left": (date - today).days, "field": signal.params["date_field"]},
        )
        for subject, date in rows
        if date is not None  # never inside the window; for the type
    }


def _service_pain(signal: Signal, now: dt.datetime) -> Hits:
    """At least N SLA breaches, or (if chosen) a bad satisfaction rating, in D days."""
    p = signal.params
    n, days = p["min_breaches"], p["days"]
    since = _days_ago(now, days)
    org = _org_scope(signal)
    group = "ticket__organization_id" if org else "ticket__requester_id"
    breaches = dict(
        SLAEvent.objects.filter(kind=SLAEvent.Kind.BREACH, created_at__gte=since, **{f"{group}__isnull": False})
        .values_list(group)
        .annotate(c=Count("id"))
        .values_list(group, "c")
    )
    bad: dict[int, int] = {}
    if p["bad_rating"]:
        rating_group = "ticket__organization_id" if org else "customer_id"
        bad = dict(
            FollowUp.objects.filter(
                rating=FollowUp.Rating.BAD, answered_at__gte=since, **{f"{rating_group}__isnull": False}
            )
            .values_list(rating_group)
            .annotate(c=Count("id"))
            .values_list(rating_group, "c")
        )
    hits: Hits = {}
    for subject in {s for s, c in breaches.items() if c >= n} | set(bad):
        parts = []
        if breaches.get(subject):
            parts.append(_plural(breaches[subject], "SLA breach").replace("breachs", "breaches"))
        if bad.get(subject):
            parts.append(_plural(bad[subject], "bad rating"))
        hits[subject] = Hit(
            f"{' and '.join(parts)} in the last {_plural(days, 'day')}",
            {"breaches": breaches.get(subject, 0), "bad_ratings": bad.get(subject, 0), "days": days},
        )
    return hits


def _event_happened(signal: Signal, now: dt.datetime) -> Hits:
    """An event of kind K (with the properties asked for) arrived in the last few minutes."""
    p = signal.params
    kind, minutes, props = p["event_kind"], p["minutes"], p["property_filter"]
    qs = CustomerEvent.objects.filter(kind=kind, received_at__gt=now - dt.timedelta(minutes=minutes))
    for key, value in props.items():
        qs = qs.filter(**{f"properties__{key}": value})
    rows = qs.values("customer_id").annotate(n=Count("id"), last=Max("occurred_at"), last_id=Max("event_id"))
    label = kind + (" (" + ", ".join(f"{k}={v}" for k, v in props.items()) + ")" if props else "")
    return {
        row["customer_id"]: Hit(
            f"{label} at {row['last']:%Y-%m-%d %H:%M} UTC (event {row['last_id']})"
            + (f" and {row['n'] - 1} more" if row["n"] > 1 else ""),
            {"count": row["n"], "event_id": row["last_id"], "occurred_at": row["last"].isoformat()},
        )
        for row in rows
    }


def _milestone_missing(signal: Signal, now: dt.datetime) -> Hits:
    """No event of kind K within N days of the anchor (an event kind's first day, or the customer's
    creation), for anchors of the last ``lookback_days``. It clears once K happens."""
    p = signal.params
    kind, anchor_kind, days, lookback = p["event_kind"], p["anchor_kind"], p["days"], p["lookback_days"]
    today = now.date()
    reached = CustomerEventDay.objects.filter(
        customer_id=OuterRef("pk" if not anchor_kind else "customer_id"), kind=kind
    )
    rows: QuerySet[Any, tuple[int, Any]]  # (customer, a day or a datetime)
    if anchor_kind:
        rows = (
            CustomerEventDay.objects.filter(kind=anchor_kind)
            .filter(~Exists(reached))
            .values("customer_id")
            .annotate(anchor=Min("day"))
            .filter(anchor__gte=today - dt.timedelta(days=lookback), anchor__lte=today - dt.timedelta(days=days))
            .values_list("customer_id", "anchor")
        )
        anchor_label = anchor_kind
    else:
        latest = now - dt.timedelta(days=days)
        rows = (
            Customer.objects.filter(created_at__gte=_days_ago(now, lookback), created_at__lte=latest)
            .filter(~Exists(reached))
            .values_list("pk", "created_at")
        )
        anchor_label = "sign-up"
    hits: Hits = {}
    for subject, anchor in rows:
        day = anchor if isinstance(anchor, dt.date) and not isinstance(anchor, dt.datetime) else anchor.date()
        hits[subject] = Hit(
            f"no {kind} within {_plural(days, 'day')} of {anchor_label} on {day:%Y-%m-%d} "
            f"({_plural((today - day).days, 'day')} ago)",
            {"anchor": day.isoformat(), "anchor_kind": anchor_label, "days": days},
        )
    return hits


EVALUATORS: dict[str, Callable[[Signal, dt.datetime], Hits]] = {
    SignalKind.USAGE_DROP: _usage_drop,
    SignalKind.USAGE_SPIKE: _usage_spike,
    SignalKind.REPEATED_TICKETS: _repeated_tickets,
    SignalKind.NEGATIVE_SENTIMENT: _negative_sentiment,
    SignalKind.DATE_AHEAD: _date_ahead,
    SignalKind.SERVICE_PAIN: _service_pain,
    SignalKind.EVENT_HAPPENED: _event_happened,
    SignalKind.MILESTONE_MISSING: _milestone_missing,
}

#: kinds that read the rollup: it is brought up to date before they run
ROLLUP_KINDS = frozenset({SignalKind.USAGE_DROP, SignalKind.MILESTONE_MISSING})


# --- storing matches ----------------------------------------------------------------------------


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _per_customer(signal: Signal, hits: Hits) -> dict[int, tuple[int | None, Hit]]:
    """Customer id -> (organization id, hit); an organization's hit goes to each of its customers."""
    result: dict[int, tuple[int | None, Hit]] = {}
    if _org_scope(signal):
        for part in _chunks(sorted(hits)):
            for customer_id, org_id in Customer.objects.filter(organization_id__in=part).values_list(
                "pk", "organization_id"
            ):
                result[customer_id] = (org_id, hits[org_id])
        return result
    for part in _chunks(sorted(hits)):
        for customer_id, org_id in Customer.objects.filter(pk__in=part).values_list("pk", "organization_id"):
            result[customer_id] = (org_id, hits[customer_id])
    return result


@dataclass
class Outcome:
    matched: int = 0
    new: int = 0
    updated: int = 0
    cleared: int = 0
    duration_ms: int = 0


@transaction.atomic
def _store(signal: Signal, hits: Hits, now: dt.datetime) -> Outcome:
    wanted = _per_customer(signal, hits)
    active = {
        customer_id: (pk, evidence)
        for pk, customer_id, evidence in SignalMatch.objects.filter(signal=signal, cleared_at__isnull=True).values_list(
            "pk", "customer_id", "evidence"
        )
    }
    outcome = Outcome(matched=len(wanted))
    new = [
        SignalMatch(
            signal=signal,
            customer_id=customer_id,
            organization_id=org_id,
            evidence=hit.text,
            evidence_data=hit.data,
            matched_at=now,
            updated_at=now,
        )
        for customer_id, (org_id, hit) in wanted.items()
        if customer_id not in active
    ]
    SignalMatch.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    outcome.new = len(new)
    changed = [
        SignalMatch(pk=active[customer_id][0], evidence=hit.text, evidence_data=hit.data, updated_at=now)
        for customer_id, (_org, hit) in wanted.items()
        if customer_id in active and active[customer_id][1] != hit.text
    ]
    SignalMatch.objects.bulk_update(changed, ["evidence", "evidence_data", "updated_at"], batch_size=1000)
    outcome.updated = len(changed)
    gone = [pk for customer_id, (pk, _e) in active.items() if customer_id not in wanted]
    for part in _chunks(gone):
        outcome.cleared += SignalMatch.objects.filter(pk__in=part, cleared_at__isnull=True).update(
            cleared_at=now, updated_at=now
        )
    return outcome


def signal_evaluate(*, signal: Signal, now: dt.datetime | None = None) -> Outcome:
    """Evaluate one signal for every customer and store its matches. Returns the counts."""
    now = now or timezone.now()
    started = time.perf_counter()
    hits = EVALUATORS[signal.kind](signal, now)
    outcome = _store(signal, hits, now)
    outcome.duration_ms = int((time.perf_counter() - started) * 1000)
    Signal.objects.filter(pk=signal.pk).update(last_evaluated_at=now, last_duration_ms=outcome.duration_ms)
    return outcome


def signals_evaluate(*, now: dt.datetime | None = None, force: bool = False) -> dict[str, dict[str, int]]:
    """Beat job: every active signal whose interval has passed ('event happened' ones every time),
    then the health scores. Inactive signals' matches are cleared."""
    from playbooks.services.health import health_recompute  # noqa: PLC0415

    now = now or timezone.now()
    results: dict[str, dict[str, int]] = {}
    due = []
    for signal in Signal.objects.filter(is_active=True).order_by("pk"):
        last = signal.last_evaluated_at
        interval = 0 if signal.kind == SignalKind.EVENT_HAPPENED else signal.interval_seconds
        if force or last is None or last + dt.timedelta(seconds=interval) <= now + dt.timedelta(seconds=1):
            due.append(signal)
    if any(signal.kind in ROLLUP_KINDS for signal in due):
        events_rollup(now=now)
    for signal in due:
        outcome = signal_evaluate(signal=signal, now=now)
        results[signal.name] = {
            "matched": outcome.matched,
            "new": outcome.new,
            "cleared": outcome.cleared,
            "ms": outcome.duration_ms,
        }
    retired = SignalMatch.objects.filter(signal__is_active=False, cleared_at__isnull=True).update(
        cleared_at=now, updated_at=now
    )
    changed = retired or any(result["new"] or result["cleared"] for result in results.values())
    if changed or any(signal.kind != SignalKind.EVENT_HAPPENED for signal in due):
        # not on a beat that only re-read 'event happened' signals without a change (every 20 seconds)
        health_recompute(now=now)
    return results
