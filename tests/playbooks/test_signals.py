import datetime as dt
import itertools

import pytest
from django.utils import timezone

from customers.models import CustomerEvent, CustomerEventDay
from customers.services import events_prune, events_rollup
from outreach.models import FollowUp
from playbooks.models import CustomerHealth, OrganizationHealth, Signal, SignalKind, SignalMatch
from playbooks.services import signal_evaluate, signals_evaluate
from tests.factories import CustomerFactory, OrganizationFactory
from tests.playbooks.factories import SignalFactory
from tests.tickets.factories import QueueFactory, make_ticket
from tickets.models import SLAEvent
from tickets.services import ticket_customer_reply

pytestmark = pytest.mark.django_db

_ids = itertools.count()


def events(customer, kind, at, n=1, received_at=None, **properties):
    CustomerEvent.objects.bulk_create(
        CustomerEvent(
            customer=customer,
            kind=kind,
            occurred_at=at,
            received_at=received_at or at,
            properties=properties,
            event_id=f"t-{next(_ids)}",
        )
        for _ in range(n)
    )


def weekly(customer, kind, now, counts):
    """``counts`` per trailing week, oldest first (the last is the week ending today)."""
    for back, count in enumerate(reversed(counts)):
        if count:
            events(customer, kind, now - dt.timedelta(days=7 * back + 1, hours=1), n=count)


def active(signal):
    return {m.customer_id: m for m in SignalMatch.objects.filter(signal=signal, cleared_at__isnull=True)}


@pytest.fixture
def now():
    return timezone.now()


def long_ago(now, days=60):
    return now - dt.timedelta(days=days)


# --- usage drop --------------------------------------------------------------------------------


def test_usage_drop_matches_a_fall_with_its_weekly_story(now):
    signal = SignalFactory(kind=SignalKind.USAGE_DROP, params={"event_kind": "login", "threshold": 2, "weeks": 3})
    fell = CustomerFactory(created_at=long_ago(now))
    empty_week = CustomerFactory(created_at=long_ago(now))
    recovered = CustomerFactory(created_at=long_ago(now))
    never_active = CustomerFactory(created_at=long_ago(now))
    weekly(fell, "login", now, [9, 1, 1, 1])
    weekly(empty_week, "login", now, [5, 1, 0, 1])  # a week with no events counts 0
    weekly(recovered, "login", now, [9, 1, 4, 1])
    weekly(never_active, "export", now, [9, 9, 9, 9])  # other kinds do not count
    events_rollup(now=now)

    outcome = signal_evaluate(signal=signal, now=now)

    matches = active(signal)
    assert set(matches) == {fell.pk, empty_week.pk}
    assert outcome.new == 2
    assert matches[fell.pk].evidence.startswith("login per week: 9, 1, 1, 1 (below 2 for 3 weeks")
    assert matches[empty_week.pk].evidence_data["per_week"] == [5, 1, 0, 1]
    assert matches[fell.pk].organization_id == fell.organization_id


def test_usage_drop_leaves_a_customer_created_mid_window_alone(now):
    signal = SignalFactory(kind=SignalKind.USAGE_DROP, params={"event_kind": "login", "threshold": 2, "weeks": 3})
    newcomer = CustomerFactory(created_at=now - dt.timedelta(days=10))
    weekly(newcomer, "login", now, [9, 0, 1, 1])
    events_rollup(now=now)
    assert signal_evaluate(signal=signal, now=now).matched == 0


def test_usage_drop_per_organization_sums_its_customers_and_flags_each_of_them(now):
    signal = SignalFactory(
        kind=SignalKind.USAGE_DROP,
        scope=Signal.Scope.ORGANIZATION,
        params={"event_kind": "login", "threshold": 3, "weeks": 2},
    )
    org = OrganizationFactory()
    a, b = CustomerFactory(organization=org), CustomerFactory(organization=org)
    weekly(a, "login", now, [2, 1, 0])
    weekly(b, "login", now, [2, 1, 1])  # together: 4, 2, 1
    busy_org = OrganizationFactory()
    c, d = CustomerFactory(organization=busy_org), CustomerFactory(organization=busy_org)
    weekly(c, "login", now, [4, 1, 1])
    weekly(d, "login", now, [0, 2, 2])  # together: 4, 3, 3: not below 3
    events_rollup(now=now)

    signal_evaluate(signal=signal, now=now)

    matches = active(signal)
    assert set(matches) == {a.pk, b.pk}
    assert matches[a.pk].evidence_data["per_week"] == [4, 2, 1]


def test_a_match_clears_when_the_usage_recovers_and_its_evidence_follows_the_numbers(now):
    signal = SignalFactory(kind=SignalKind.USAGE_DROP, params={"event_kind": "login", "threshold": 2, "weeks": 2})
    customer = CustomerFactory(created_at=long_ago(now))
    weekly(customer, "login", now, [6, 1, 0])
    events_rollup(now=now)
    signal_evaluate(signal=signal, now=now)
    match = SignalMatch.objects.get(signal=signal)

    events(customer, "login", now - dt.timedelta(minutes=5), n=1, received_at=now - dt.timedelta(minutes=5))
    later = now + dt.timedelta(minutes=1)
    events_rollup(now=later)
    outcome = signal_evaluate(signal=signal, now=later)  # 6, 1, 1: still below 2
    match.refresh_from_db()
    assert (outcome.updated, match.cleared_at) == (1, None)
    assert match.evidence_data["per_week"] == [6, 1, 1]

    events(customer, "login", later, n=3, received_at=later)
    latest = later + dt.timedelta(minutes=1)
    events_rollup(now=latest)
    assert signal_evaluate(signal=signal, now=latest).cleared == 1
    match.refresh_from_db()
    assert match.cleared_at == latest


# --- rollup and retention ----------------------------------------------------------------------


def test_rollup_counts_per_day_and_a_second_run_changes_nothing(now):
    customer = CustomerFactory()
    day = now - dt.timedelta(days=3)
    events(customer, "login", day, n=3, received_at=now - dt.timedelta(minutes=2))
    events(customer, "error", day, n=1, received_at=now - dt.timedelta(minutes=2))
    events_rollup(now=now)
    events_rollup(now=now + dt.timedelta(seconds=30))  # overlap: the same events seen again
    rows = set(CustomerEventDay.objects.values_list("kind", "day", "count", "pruned"))
    assert rows == {("login", day.date(), 3, 0), ("error", day.date(), 1, 0)}


def test_rollup_sees_a_late_event_for_an_old_day(now):
    customer = CustomerFactory()
    old = now - dt.timedelta(days=20)
    events(customer, "login", old, n=2, received_at=old)
    events_rollup(now=now)
    events(customer, "login", old, n=1, received_at=now + dt.timedelta(minutes=1))  # a late upload
    events_rollup(now=now + dt.timedelta(minutes=2))
    assert CustomerEventDay.objects.get().count == 3


def test_pruning_raw_events_changes_no_signal_answer(now):
    signal = SignalFactory(kind=SignalKind.USAGE_DROP, params={"event_kind": "login", "threshold": 2, "weeks": 3})
    customer = CustomerFactory(created_at=long_ago(now, 400))
    weekly(customer, "login", now, [9, 1, 1, 1])
    events(customer, "login", now - dt.timedelta(days=300), n=4)  # past the retention
    events_rollup(now=now)
    signal_evaluate(signal=signal, now=now)
    evidence = SignalMatch.objects.get(signal=signal).evidence

    deleted = events_prune(now=now, retention_days=20)

    assert deleted == 13  # the 4 from 300 days ago and the 9 of the week before the drop
    assert CustomerEvent.objects.count() == 3
    assert sum(CustomerEventDay.objects.values_list("count", flat=True)) == 16
    later = now + dt.timedelta(seconds=1)
    events_rollup(now=later)  # re-aggregating after a prune keeps raw + pruned
    signal_evaluate(signal=signal, now=later)
    assert SignalMatch.objects.get(signal=signal, cleared_at__isnull=True).evidence == evidence


# --- usage spike --------------------------------------------------------------------------------


def test_usage_spike_counts_only_the_last_hours(now):
    signal = SignalFactory(kind=SignalKind.USAGE_SPIKE, params={"event_kind": "error", "threshold": 5, "hours": 1})
    spiking, at_threshold, old = CustomerFactory(), CustomerFactory(), CustomerFactory()
    events(spiking, "error", now - dt.timedelta(minutes=10), n=6)
    events(at_threshold, "error", now - dt.timedelta(minutes=10), n=5)
    events(old, "error", now - dt.timedelta(hours=2), n=50)
    signal_evaluate(signal=signal, now=now)
    matches = active(signal)
    assert set(matches) == {spiking.pk}
    assert matches[spiking.pk].evidence.startswith("6 error events in the last 1 hour (threshold 5)")


# --- repeated tickets ---------------------------------------------------------------------------


def test_repeated_tickets_with_one_tag_lists_the_tickets(now):
    signal = SignalFactory(
        kind=SignalKind.REPEATED_TICKETS, params={"min_tickets": 3, "days": 14, "tag": "", "queue": ""}
    )
    queue = QueueFactory()
    repeat, varied = CustomerFactory(), CustomerFactory()
    numbers = [make_ticket(requester=repeat, queue=queue, tags=["billing"]).number for _ in range(3)]
    make_ticket(requester=repeat, queue=queue, tags=["login"])
    for tag in ("billing", "login", "export"):
        make_ticket(requester=varied, queue=queue, tags=[tag])
    signal_evaluate(signal=signal, now=now + dt.timedelta(seconds=1))
    matches = active(signal)
    assert set(matches) == {repeat.pk}
    assert matches[repeat.pk].evidence == "3 tickets tagged billing in 14 days: " + ", ".join(f"#{n}" for n in numbers)


def test_repeated_tickets_in_one_queue(now):
    signal = SignalFactory(
        kind=SignalKind.REPEATED_TICKETS, params={"min_tickets": 2, "days": 7, "tag": "", "queue": "billing"}
    )
    billing, other = QueueFactory(slug="billing"), QueueFactory()
    customer, elsewhere = CustomerFactory(), CustomerFactory()
    make_ticket(requester=customer, queue=billing)
    make_ticket(requester=customer, queue=billing)
    make_ticket(requester=elsewhere, queue=other)
    make_ticket(requester=elsewhere, queue=other)
    signal_evaluate(signal=signal, now=now + dt.timedelta(seconds=1))
    assert set(active(signal)) == {customer.pk}
    assert active(signal)[customer.pk].evidence.startswith("2 tickets in the queue billing in 7 days: #")


# --- negative sentiment -------------------------------------------------------------------------


def test_customer_messages_get_a_sentiment_score_and_negative_ones_match(now):
    signal = SignalFactory(kind=SignalKind.NEGATIVE_SENTIMENT, params={"sentiment_threshold": -0.3, "days": 14})
    queue = QueueFactory()
    angry, happy = CustomerFactory(), CustomerFactory()
    ticket = make_ticket(requester=angry, queue=queue, body="This is terrible. Nothing works and I am furious.")
    make_ticket(requester=happy, queue=queue, body="Thanks, your product is great and I love it!")
    message = ticket.messages.get()
    assert message.sentiment < -0.5
    assert message.sentiment_label == "negative"
    signal_evaluate(signal=signal, now=now + dt.timedelta(seconds=1))
    matches = active(signal)
    assert set(matches) == {angry.pk}
    assert matches[angry.pk].evidence.startswith("sentiment of 1 message in the last 14 days: -0.")


def test_negative_sentiment_catches_a_turn_from_positive_to_negative(now):
    signal = SignalFactory(kind=SignalKind.NEGATIVE_SENTIMENT, params={"sentiment_threshold": -0.9, "days": 7})
    customer = CustomerFactory()
    ticket = make_ticket(requester=customer, queue=QueueFactory(), body="Great service, thank you, love it!")
    ticket.messages.update(created_at=now - dt.timedelta(days=10))
    ticket_customer_reply(ticket=ticket, customer=customer, body="Now it is broken and slow, this is bad.")
    signal_evaluate(signal=signal, now=now + dt.timedelta(seconds=1))
    assert active(signal)[customer.pk].evidence.startswith("sentiment fell from +0.")


def test_agent_messages_get_no_sentiment(agent):
    ticket = make_ticket(queue=QueueFactory(), body="It is awful")
    from tickets.services import ticket_reply

    reply = ticket_reply(ticket=ticket, author=agent, body="Sorry, that is terrible, we fix it.")
    assert reply.sentiment is None


# --- date ahead ---------------------------------------------------------------------------------


def test_renewal_within_days_per_customer_and_per_organization(now):
    today = now.date()
    soon = OrganizationFactory(renewal_date=today + dt.timedelta(days=10))
    later = OrganizationFactory(renewal_date=today + dt.timedelta(days=40))
    past = OrganizationFactory(renewal_date=today - dt.timedelta(days=1))
    a, b = CustomerFactory(organization=soon), CustomerFactory(organization=soon)
    CustomerFactory(organization=later), CustomerFactory(organization=past)
    per_customer = SignalFactory(
        kind=SignalKind.DATE_AHEAD, params={"date_field": "organization.renewal_date", "days": 30}
    )
    per_org = SignalFactory(
        kind=SignalKind.DATE_AHEAD,
        scope=Signal.Scope.ORGANIZATION,
        params={"date_field": "organization.renewal_date", "days": 30},
    )
    signal_evaluate(signal=per_customer, now=now)
    signal_evaluate(signal=per_org, now=now)
    assert set(active(per_customer)) == {a.pk, b.pk} == set(active(per_org))
    assert active(per_org)[a.pk].evidence == f"renewal on {today + dt.timedelta(days=10):%Y-%m-%d}, in 10 days"


# --- service pain -------------------------------------------------------------------------------


def test_service_pain_from_breaches_or_a_bad_rating(now):
    signal = SignalFactory(kind=SignalKind.SERVICE_PAIN, params={"min_breaches": 2, "days": 30, "bad_rating": True})
    queue = QueueFactory()
    breached, once, rated = CustomerFactory(), CustomerFactory(), CustomerFactory()
    for customer, n in ((breached, 2), (once, 1)):
        ticket = make_ticket(requester=customer, queue=queue)
        for i in range(n):
            SLAEvent.objects.create(
                ticket=ticket, target="first_reply", kind="breach", due_at=now - dt.timedelta(hours=i)
            )
    rated_ticket = make_ticket(requester=rated, queue=queue)
    FollowUp.objects.create(ticket=rated_ticket, customer=rated, rating="bad", answered_at=now - dt.timedelta(days=1))
    signal_evaluate(signal=signal, now=now + dt.timedelta(seconds=1))
    matches = active(signal)
    assert set(matches) == {breached.pk, rated.pk}
    assert matches[breached.pk].evidence == "2 SLA breaches in the last 30 days"
    assert matches[rated.pk].evidence == "1 bad rating in the last 30 days"


# --- event happened -----------------------------------------------------------------------------


def test_event_happened_with_a_property_filter(now):
    signal = SignalFactory(
        kind=SignalKind.EVENT_HAPPENED,
        params={"event_kind": "order_shipped", "property_filter": {"carrier": "dhl"}, "minutes": 5},
    )
    dhl, ups, earlier = CustomerFactory(), CustomerFactory(), CustomerFactory()
    events(dhl, "order_shipped", now - dt.timedelta(hours=3), received_at=now - dt.timedelta(seconds=30), carrier="dhl")
    events(ups, "order_shipped", now, received_at=now - dt.timedelta(seconds=30), carrier="ups")
    events(earlier, "order_shipped", now, received_at=now - dt.timedelta(minutes=20), carrier="dhl")
    signal_evaluate(signal=signal, now=now)
    matches = active(signal)
    assert set(matches) == {dhl.pk}
    assert matches[dhl.pk].evidence.startswith("order_shipped (carrier=dhl) at ")
    # the next beat after the window: cleared, ready for the next parcel
    assert signal_evaluate(signal=signal, now=now + dt.timedelta(minutes=6)).cleared == 1


# --- milestone missing --------------------------------------------------------------------------


def test_milestone_missing_after_the_anchor_event_and_clearing_once_it_happens(now):
    signal = SignalFactory(
        kind=SignalKind.MILESTONE_MISSING,
        params={"event_kind": "first_project_created", "anchor_kind": "signed_up", "days": 3, "lookback_days": 30},
    )
    stuck, done, fresh, veteran = CustomerFactory(), CustomerFactory(), CustomerFactory(), CustomerFactory()
    events(stuck, "signed_up", now - dt.timedelta(days=5))
    events(done, "signed_up", now - dt.timedelta(days=5))
    events(done, "first_project_created", now - dt.timedelta(days=4))
    events(fresh, "signed_up", now - dt.timedelta(days=1))
    events(veteran, "signed_up", now - dt.timedelta(days=90))
    events_rollup(now=now)
    signal_evaluate(signal=signal, now=now)
    matches = active(signal)
    assert set(matches) == {stuck.pk}
    day = (now - dt.timedelta(days=5)).date()
    assert (
        matches[stuck.pk].evidence
        == f"no first_project_created within 3 days of signed_up on {day:%Y-%m-%d} (5 days ago)"
    )

    events(stuck, "first_project_created", now, received_at=now)
    later = now + dt.timedelta(minutes=1)
    events_rollup(now=later)
    assert signal_evaluate(signal=signal, now=later).cleared == 1


def test_milestone_missing_from_the_customers_creation(now):
    signal = SignalFactory(
        kind=SignalKind.MILESTONE_MISSING,
        params={"event_kind": "first_project_created", "anchor_kind": "", "days": 3, "lookback_days": 30},
    )
    stuck = CustomerFactory(created_at=now - dt.timedelta(days=4))
    CustomerFactory(created_at=now - dt.timedelta(days=2))
    CustomerFactory(created_at=now - dt.timedelta(days=40))
    events_rollup(now=now)
    signal_evaluate(signal=signal, now=now)
    assert set(active(signal)) == {stuck.pk}


# --- the beat job and health ---------------------------------------------------------------------


def test_evaluate_signals_runs_due_signals_and_scores_health(now):
    org = OrganizationFactory(renewal_date=now.date() + dt.timedelta(days=5))
    customer = CustomerFactory(organization=org, created_at=long_ago(now))
    weekly(customer, "login", now, [9, 1, 1, 1])
    drop = SignalFactory(kind=SignalKind.USAGE_DROP, weight=30)
    renewal = SignalFactory(
        kind=SignalKind.DATE_AHEAD, weight=15, params={"date_field": "organization.renewal_date", "days": 30}
    )
    SignalFactory(
        kind=SignalKind.USAGE_SPIKE, is_active=False, params={"event_kind": "error", "threshold": 1, "hours": 1}
    )

    results = signals_evaluate(now=now)

    assert set(results) == {drop.name, renewal.name}
    assert CustomerHealth.objects.get(customer=customer).score == 55
    assert OrganizationHealth.objects.get(organization=org).score == 55
    # not due again a minute later
    assert signals_evaluate(now=now + dt.timedelta(minutes=1)) == {}
    # the renewal passes, the drop stays
    org.renewal_date = now.date() - dt.timedelta(days=1)
    org.save()
    signals_evaluate(now=now + dt.timedelta(minutes=10))
    assert CustomerHealth.objects.get(customer=customer).score == 70


def test_deactivating_a_signal_clears_its_matches_and_heals(now):
    org = OrganizationFactory(renewal_date=now.date() + dt.timedelta(days=5))
    customer = CustomerFactory(organization=org)
    signal = SignalFactory(kind=SignalKind.DATE_AHEAD, params={"date_field": "organization.renewal_date", "days": 30})
    signals_evaluate(now=now)
    assert CustomerHealth.objects.get(customer=customer).score == 80
    Signal.objects.filter(pk=signal.pk).update(is_active=False)
    SignalFactory(kind=SignalKind.USAGE_SPIKE, params={"event_kind": "error", "threshold": 1, "hours": 1})
    signals_evaluate(now=now + dt.timedelta(minutes=10))
    assert active(signal) == {}
    assert CustomerHealth.objects.get(customer=customer).score == 100


def test_outreach_segments_can_select_by_health(now):
    from outreach.selectors import segment_customers
    from outreach.services import segment_save

    poor, fair, healthy = CustomerFactory(), CustomerFactory(), CustomerFactory()
    CustomerHealth.objects.create(customer=poor, score=40)
    CustomerHealth.objects.create(customer=fair, score=70)
    segment = segment_save(name="At risk", health_below=60)
    assert list(segment_customers(segment=segment)) == [poor]
    assert healthy not in segment_customers(segment=segment_save(segment=segment, health_below=100))
