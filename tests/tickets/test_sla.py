import datetime as dt

import pytest

from customers.models import Delivery
from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tests.tickets.factories import (
    BusinessCalendarFactory,
    QueueFactory,
    QueueMembershipFactory,
    SLAPolicyFactory,
    SLATargetFactory,
    make_ticket,
)
from tickets.models import SLAEvent, Status, Ticket, TicketEvent
from tickets.services import sla_policy_for, sla_scan, ticket_customer_reply, ticket_reply, ticket_solve, ticket_update

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def office_policy():
    """Mon-Fri 09:00-17:00 UTC; normal: first reply 60 min, next reply 120, resolution 480 business minutes."""
    policy = SLAPolicyFactory(calendar=BusinessCalendarFactory(timezone="UTC"))
    SLATargetFactory(policy=policy, priority="normal")
    SLATargetFactory(policy=policy, priority="urgent", first_reply_minutes=15, resolution_minutes=120)
    return policy


def test_due_times_are_business_time_from_creation(office_policy, clock):
    clock.set(at(2026, 3, 6, 16, 30))  # Friday 16:30
    ticket = make_ticket()
    assert ticket.sla_policy == office_policy
    assert ticket.first_reply_due_at == at(2026, 3, 9, 9, 30)  # Monday 09:30, over the weekend
    assert ticket.resolution_due_at == at(2026, 3, 9, 16, 30)  # 30 min Friday + 7 h 30 Monday
    assert ticket.next_sla_due_at == ticket.first_reply_due_at
    assert ticket.sla_scan_at == at(2026, 3, 9, 9, 15)


def test_first_reply_milestone_in_business_minutes(office_policy, clock, agent):
    clock.set(at(2026, 3, 6, 16, 30))
    ticket = make_ticket()
    clock.set(at(2026, 3, 9, 9, 20))  # Monday
    ticket_reply(ticket=ticket, author=agent, body="On it")
    ticket.refresh_from_db()
    assert ticket.first_reply_minutes == 50
    assert ticket.first_reply_due_at is None


def test_the_clock_pauses_in_pending_and_resumes_on_open(office_policy, clock, agent):
    clock.set(at(2026, 3, 2, 9, 0))  # Monday
    ticket = make_ticket()
    assert ticket.resolution_due_at == at(2026, 3, 2, 17, 0)
    clock.set(at(2026, 3, 2, 10, 0))
    ticket_reply(ticket=ticket, author=agent, body="Can you send a screenshot?")  # -> pending: paused
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.resolution_due_at is None
    assert ticket.next_sla_due_at is None
    assert ticket.sla_paused_remaining == {"resolution": 7 * 3600}
    clock.set(at(2026, 3, 4, 12, 0))  # two days later the customer answers
    ticket_customer_reply(ticket=ticket, body="Here it is")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.resolution_due_at == at(2026, 3, 5, 11, 0)  # 5 h Wednesday + 2 h Thursday
    assert ticket.next_reply_due_at == at(2026, 3, 4, 14, 0)
    assert ticket.next_sla_due_at == at(2026, 3, 4, 14, 0)
    assert ticket.sla_paused_at is None


def test_on_hold_pauses_too(office_policy, clock, agent):
    ticket = make_ticket()
    clock.advance(minutes=30)
    ticket_update(ticket=ticket, actor=agent, status=Status.ON_HOLD)
    ticket.refresh_from_db()
    assert ticket.first_reply_due_at is None
    assert ticket.sla_paused_remaining == {"first_reply": 30 * 60, "resolution": 450 * 60}


def test_warn_once_then_breach_then_escalate(office_policy, clock):
    office_policy.raise_priority_on_breach = True
    office_policy.save()
    queue = QueueFactory()
    member, other_member = QueueMembershipFactory(queue=queue), QueueMembershipFactory(queue=queue)
    ticket = make_ticket(queue=queue)  # Monday 09:00, first reply due 10:00
    clock.set(at(2026, 3, 2, 9, 44))
    assert sla_scan() == {"tickets": 0, "warnings": 0, "breaches": 0}
    clock.set(at(2026, 3, 2, 9, 46))
    assert sla_scan() == {"tickets": 1, "warnings": 1, "breaches": 0}
    recipients = set(Delivery.objects.values_list("recipient", flat=True))
    assert recipients == {member.agent.email, other_member.agent.email}
    assert all(d.customer_id is None and d.category == "service" for d in Delivery.objects.all())
    clock.set(at(2026, 3, 2, 9, 50))
    assert sla_scan() == {"tickets": 0, "warnings": 0, "breaches": 0}  # warned once
    assert Delivery.objects.count() == 2
    clock.set(at(2026, 3, 2, 10, 1))
    assert sla_scan() == {"tickets": 1, "warnings": 0, "breaches": 1}
    ticket.refresh_from_db()
    assert ticket.escalated_at == clock.now
    assert ticket.priority == "high"  # raised one step
    assert ticket.sla_scan_at == at(2026, 3, 2, 16, 45)  # the resolution warning is next
    breach = SLAEvent.objects.get(kind=SLAEvent.Kind.BREACH)
    assert (breach.target, breach.due_at) == ("first_reply", at(2026, 3, 2, 10, 0))
    assert ticket.events.filter(kind=TicketEvent.Kind.SLA_BREACH).count() == 1
    assert sla_scan()["breaches"] == 0
    assert Delivery.objects.count() == 2  # no second warning for the same target


def test_a_breach_records_by_how_much_when_met(office_policy, clock, agent):
    ticket = make_ticket()
    ticket_update(ticket=ticket, actor=agent, assignee=agent)
    clock.set(at(2026, 3, 2, 10, 5))
    sla_scan()
    assert Delivery.objects.get().recipient == agent.email  # the assignee, not the queue
    clock.set(at(2026, 3, 2, 10, 35))
    ticket_reply(ticket=ticket, author=agent, body="Sorry for the wait")
    breach = SLAEvent.objects.get(kind=SLAEvent.Kind.BREACH)
    assert (breach.met_at, breach.overdue_minutes) == (clock.now, 35)


def test_the_scan_is_one_indexed_query_when_nothing_is_due(office_policy, clock, django_assert_num_queries):
    for _ in range(5):
        make_ticket()
    with django_assert_num_queries(1):
        sla_scan()


def test_solving_meets_resolution_and_records_its_business_minutes(office_policy, clock, agent):
    ticket = make_ticket()
    clock.set(at(2026, 3, 3, 10, 0))  # Tuesday 10:00: 8 h Monday + 1 h
    ticket = ticket_solve(ticket=ticket, actor=agent)
    assert ticket.resolution_minutes == 9 * 60
    assert ticket.next_sla_due_at is None


def test_the_first_matching_policy_applies_and_the_unconditional_one_is_the_fallback(clock):
    enterprise = OrganizationFactory(plan="enterprise")
    fallback = SLAPolicyFactory(name="Everyone", position=999)
    urgent = SLAPolicyFactory(name="Urgent", position=1, priorities=["urgent"])
    vip = SLAPolicyFactory(name="Enterprise", position=2, plans=["enterprise"])
    queue = QueueFactory()
    billing = QueueFactory()
    billing_policy = SLAPolicyFactory(name="Billing", position=3)
    billing_policy.queues.add(billing)
    assert sla_policy_for(queue=queue, priority="urgent", organization=enterprise) == urgent
    assert sla_policy_for(queue=queue, priority="normal", organization=enterprise) == vip
    assert sla_policy_for(queue=billing, priority="normal", organization=None) == billing_policy
    assert sla_policy_for(queue=queue, priority="normal", organization=None) == fallback
    queue.default_sla_policy = SLAPolicyFactory(name="Queue default", position=500, plans=["none-such"])
    queue.save()
    assert sla_policy_for(queue=queue, priority="normal", organization=None) == queue.default_sla_policy


def test_a_priority_change_reapplies_the_targets(office_policy, clock, agent):
    ticket = make_ticket(requester=CustomerFactory())
    clock.advance(minutes=5)
    ticket = ticket_update(ticket=ticket, actor=agent, priority="urgent")
    assert ticket.first_reply_due_at == at(2026, 3, 2, 9, 15)
    assert ticket.resolution_due_at == at(2026, 3, 2, 11, 0)
    assert ticket.next_sla_due_at == at(2026, 3, 2, 9, 15)


def test_without_a_policy_there_are_no_due_times():
    ticket = make_ticket()
    assert (ticket.sla_policy, ticket.next_sla_due_at, ticket.sla_scan_at) == (None, None, None)
    assert Ticket.objects.filter(sla_scan_at__isnull=False).count() == 0
    assert AgentFactory()  # agents exist without policies too
