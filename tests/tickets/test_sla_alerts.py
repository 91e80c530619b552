"""SLA alert e-mails to agents: absolute links, business-time durations, one per ticket, target, due time, agent."""

import datetime as dt

import pytest

from customers.models import Delivery
from tests.tickets.factories import (
    BusinessCalendarFactory,
    QueueFactory,
    QueueMembershipFactory,
    SLAPolicyFactory,
    SLATargetFactory,
    make_ticket,
)
from tickets.services import sla_scan, tickets_bulk_update

pytestmark = pytest.mark.django_db

SITE = "https://desk.example.com"


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def office_policy():
    """Mon-Fri 09:00-17:00 UTC; normal and high have the same targets, urgent a shorter first reply."""
    policy = SLAPolicyFactory(calendar=BusinessCalendarFactory(timezone="UTC"))
    SLATargetFactory(policy=policy, priority="normal")
    SLATargetFactory(policy=policy, priority="high")
    SLATargetFactory(policy=policy, priority="urgent", first_reply_minutes=15, resolution_minutes=120)
    return policy


@pytest.fixture
def team_queue():
    """Three agents in the queue: an unassigned ticket alerts all three."""
    queue = QueueFactory()
    members = [QueueMembershipFactory(queue=queue).agent for _ in range(3)]
    return queue, members


def sla_alerts(target="first_reply"):
    return Delivery.objects.filter(idempotency_key__contains=f":sla:{target}:").order_by("recipient", "id")


def test_a_late_breach_alert_links_the_ticket_and_says_the_business_time_overdue(
    office_policy, team_queue, clock, settings
):
    settings.SITE_URL = SITE
    queue, members = team_queue
    ticket = make_ticket(queue=queue)  # Monday 09:00: first reply due 10:00
    # the scan was down until Tuesday 12:33: 7 h Monday + 3 h 33 min Tuesday of business time (26 h 33 min of clock)
    clock.set(at(2026, 3, 3, 12, 33))

    sla_scan()

    alerts = list(sla_alerts())
    assert [a.recipient for a in alerts] == sorted(m.email for m in members)
    alert = alerts[0]
    assert alert.subject == f"[{ticket.reference}] SLA first reply overdue by 10 h 33 min"
    assert "overdue by 10 h 33 min of business time" in alert.body
    assert "min ago" not in alert.body
    assert f"{SITE}/agent/tickets/{ticket.pk}/" in alert.body
    assert "\n/agent/" not in alert.body
    # the resolution target (due Monday 17:00) is 3 h 33 min overdue, in its own alert
    assert sla_alerts("resolution").first().subject == f"[{ticket.reference}] SLA resolution overdue by 3 h 33 min"


def test_a_warning_says_the_time_left(office_policy, team_queue, clock, settings):
    settings.SITE_URL = SITE
    queue, _ = team_queue
    ticket = make_ticket(queue=queue)
    clock.set(at(2026, 3, 2, 9, 46))

    sla_scan()

    alert = sla_alerts().first()
    assert alert.subject == f"[{ticket.reference}] SLA first reply due in 14 min"
    assert f"{SITE}/agent/tickets/{ticket.pk}/" in alert.body


def test_a_bulk_priority_change_that_keeps_the_due_time_sends_no_alert_again(office_policy, team_queue, clock):
    queue, members = team_queue
    tickets = [make_ticket(queue=queue, subject=f"Ticket {n}") for n in range(2)]
    clock.set(at(2026, 3, 2, 10, 5))
    sla_scan()
    assert sla_alerts().count() == 2 * 3  # two tickets, three agents

    # when a manager moves both to high, whose targets are normal's, and the scan runs again
    clock.advance(minutes=5)
    result = tickets_bulk_update(ticket_ids=[t.pk for t in tickets], actor=members[0], priority="high")
    assert sorted(result.updated) == sorted(t.pk for t in tickets)
    clock.advance(minutes=1)
    sla_scan()
    clock.advance(minutes=30)
    sla_scan()

    # then nobody hears about the same breach twice
    assert sla_alerts().count() == 6


def test_a_change_that_moves_the_due_time_alerts_once_for_the_new_due_time(office_policy, team_queue, clock):
    queue, members = team_queue
    ticket = make_ticket(queue=queue)
    clock.set(at(2026, 3, 2, 9, 10))

    tickets_bulk_update(ticket_ids=[ticket.pk], actor=members[0], priority="urgent")  # first reply due 09:15
    sla_scan()
    clock.advance(minutes=10)
    sla_scan()
    tickets_bulk_update(ticket_ids=[ticket.pk], actor=members[0], priority="normal")  # due 10:00 again
    tickets_bulk_update(ticket_ids=[ticket.pk], actor=members[0], priority="urgent")  # due 09:15 again
    sla_scan()

    keys = list(sla_alerts().values_list("idempotency_key", flat=True))
    assert len(keys) == 3  # one alert for the 09:15 due time per agent, though it was set twice
    assert all(f":first_reply:{int(at(2026, 3, 2, 9, 15).timestamp())}:" in key for key in keys)
