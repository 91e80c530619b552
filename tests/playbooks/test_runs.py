import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from customers.models import ContactPreference, CustomerEvent, Delivery
from playbooks.models import PlaybookRun, PlaybookRunLog, PlaybookStep, RunState, Signal, SignalKind, SignalMatch
from playbooks.services import (
    playbook_run_advance,
    playbook_run_stop,
    playbook_runs_advance,
    playbook_runs_start,
    playbook_set_active,
)
from tests.factories import AgentFactory, CustomerFactory, ManagerFactory, OrganizationFactory, TagFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory
from tests.playbooks.factories import PlaybookFactory, SignalFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory
from tickets.models import Kind, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def queue():
    return QueueFactory()


def match(signal, customer, evidence="login per week: 9, 1, 1, 1", at=None):
    return SignalMatch.objects.create(
        signal=signal,
        customer=customer,
        organization=customer.organization,
        evidence=evidence,
        matched_at=at or timezone.now(),
    )


def step(playbook, position, action, **fields):
    articles = fields.pop("articles", [])
    created = PlaybookStep.objects.create(playbook=playbook, position=position, action=action, **fields)
    created.articles.set(articles)
    return created


def logs(run):
    return list(PlaybookRunLog.objects.filter(run=run).values_list("position", "action", "outcome"))


@pytest.fixture
def win_back(queue):
    """create ticket, send, wait 2 days, check the signal still holds, notify a manager."""
    playbook = PlaybookFactory(name="Win back", owner_queue=queue, cooldown_days=30)
    template = TemplateFactory(category="reminder", subject="We miss you, {{ customer.first_name }}")
    manager = ManagerFactory()
    step(playbook, 1, "create_ticket", note="Call them this week.")
    step(playbook, 2, "send_template", template=template)
    step(playbook, 3, "wait", wait_days=Decimal("2"))
    step(playbook, 4, "check", check_mode="signal_holds")
    step(playbook, 5, "notify_manager", notify_user=manager)
    return playbook


def test_a_run_creates_the_proactive_ticket_with_evidence_sends_and_waits(win_back, queue, now):
    customer = CustomerFactory(name="Ada Lovelace")
    signal_match = match(win_back.signal, customer)

    assert playbook_runs_start(now=now) == {"Win back": 1}
    playbook_runs_advance(now=now)

    run = PlaybookRun.objects.get()
    assert (run.state, run.current_step, run.match, run.next_due_at) == (
        RunState.WAITING,
        4,
        signal_match,
        now + dt.timedelta(days=2),
    )
    ticket = run.ticket
    assert (ticket.kind, ticket.queue, ticket.assignee, ticket.requester) == (
        Kind.PROACTIVE,
        queue,
        win_back.owner_agent,
        customer,
    )
    note = ticket.messages.get()
    assert note.is_internal
    assert "login per week: 9, 1, 1, 1" in note.body
    assert "Call them this week." in note.body
    assert list(ticket.playbook_runs.all()) == [run]
    delivery = Delivery.objects.get(idempotency_key=f"playbook-run:{run.pk}:step:2")
    assert delivery.subject == "We miss you, Ada"
    assert delivery.status in (Delivery.Status.QUEUED, Delivery.Status.SENT)
    assert logs(run) == [(1, "create_ticket", "done"), (2, "send_template", "done"), (3, "wait", "waiting")]


def test_delivering_the_advance_task_twice_runs_no_step_twice(win_back, now):
    match(win_back.signal, CustomerFactory())
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    playbook_runs_advance(now=now)  # the same beat delivered twice
    run = PlaybookRun.objects.get()
    playbook_run_advance(run_id=run.pk, now=now)  # and the run's own advance, late
    assert Ticket.objects.count() == 1
    assert Delivery.objects.filter(source=f"playbook:{win_back.pk}").count() == 1
    assert len(logs(run)) == 3
    # even a run whose pointer went back (a crash between two writes) never repeats a logged step
    PlaybookRun.objects.filter(pk=run.pk).update(current_step=1, state=RunState.RUNNING, next_due_at=now)
    playbook_run_advance(run_id=run.pk, now=now)
    assert Ticket.objects.count() == 1
    assert Delivery.objects.filter(source=f"playbook:{win_back.pk}").count() == 1


def test_the_run_stops_at_its_check_when_the_signal_cleared(win_back, now):
    signal_match = match(win_back.signal, CustomerFactory())
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    SignalMatch.objects.filter(pk=signal_match.pk).update(cleared_at=now + dt.timedelta(days=1))

    assert playbook_runs_advance(now=now + dt.timedelta(days=1)) == 0  # still waiting
    assert playbook_runs_advance(now=now + dt.timedelta(days=2, seconds=1)) == 1

    run = PlaybookRun.objects.get()
    assert run.state == RunState.STOPPED
    assert run.stop_reason.startswith("the signal cleared on ")
    assert logs(run)[-1] == (4, "check", "stopped")
    assert not Delivery.objects.filter(idempotency_key=f"playbook-run:{run.pk}:step:5").exists()


def test_the_run_goes_on_while_the_signal_holds_and_completes(win_back, now):
    match(win_back.signal, CustomerFactory())
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    playbook_runs_advance(now=now + dt.timedelta(days=2, seconds=1))
    run = PlaybookRun.objects.get()
    assert run.state == RunState.COMPLETED
    assert [outcome for *_, outcome in logs(run)] == ["done", "done", "waiting", "done", "done"]
    notice = Delivery.objects.get(idempotency_key=f"playbook-run:{run.pk}:step:5")
    assert notice.recipient == PlaybookStep.objects.get(position=5).notify_user.email
    assert run.ticket.get_absolute_url() in notice.body


def test_cooldown_keeps_a_customer_from_starting_again(win_back, now):
    customer = CustomerFactory()
    first = match(win_back.signal, customer)
    playbook_runs_start(now=now)
    run = PlaybookRun.objects.get()
    playbook_run_stop(run=run)
    SignalMatch.objects.filter(pk=first.pk).update(cleared_at=now)
    match(win_back.signal, customer)  # the signal fires again

    assert playbook_runs_start(now=now + dt.timedelta(days=29)) == {"Win back": 0}
    assert playbook_runs_start(now=now + dt.timedelta(days=31)) == {"Win back": 1}
    assert PlaybookRun.objects.filter(customer=customer).count() == 2


def test_a_match_starts_one_run_and_a_running_one_blocks_even_without_cooldown(win_back, now):
    win_back.cooldown_days = 0
    win_back.save()
    customer = CustomerFactory()
    match(win_back.signal, customer)
    assert playbook_runs_start(now=now) == {"Win back": 1}
    assert playbook_runs_start(now=now + dt.timedelta(seconds=5)) == {"Win back": 0}


def test_segment_narrows_the_playbook(win_back, now):
    tag = TagFactory(name="vip")
    segment = SegmentFactory()
    segment.tags.add(tag)
    win_back.segment = segment
    win_back.save()
    vip, other = CustomerFactory(), CustomerFactory()
    vip.tags.add(tag)
    match(win_back.signal, vip)
    match(win_back.signal, other)
    playbook_runs_start(now=now)
    assert list(PlaybookRun.objects.values_list("customer_id", flat=True)) == [vip.pk]


def test_an_organization_signal_starts_one_run_per_organization(now):
    signal = SignalFactory(scope=Signal.Scope.ORGANIZATION)
    playbook = PlaybookFactory(signal=signal)
    org = OrganizationFactory()
    a, b = CustomerFactory(organization=org), CustomerFactory(organization=org)
    match(signal, a)
    match(signal, b)
    playbook_runs_start(now=now)
    assert list(PlaybookRun.objects.filter(playbook=playbook).values_list("customer_id", flat=True)) == [a.pk]


def test_paused_playbooks_neither_start_nor_advance(win_back, now):
    match(win_back.signal, CustomerFactory())
    playbook_set_active(playbook=win_back, active=False)
    assert playbook_runs_start(now=now) == {}
    PlaybookRun.objects.create(playbook=win_back, customer=CustomerFactory(), current_step=1, next_due_at=now)
    assert playbook_runs_advance(now=now) == 0
    playbook_set_active(playbook=win_back, active=True)
    assert playbook_runs_advance(now=now) == 1


def test_send_respects_opt_outs_and_the_open_ticket_hold(queue, now):
    playbook = PlaybookFactory(owner_queue=queue)
    step(playbook, 1, "send_template", template=TemplateFactory(category="onboarding"))
    opted_out, with_ticket = CustomerFactory(), CustomerFactory()
    ContactPreference.objects.create(customer=opted_out, opted_out=["onboarding"])
    from tests.tickets.factories import make_ticket

    make_ticket(requester=with_ticket, queue=queue)
    match(playbook.signal, opted_out)
    match(playbook.signal, with_ticket)
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    details = dict(PlaybookRunLog.objects.values_list("run__customer_id", "detail"))
    outcomes = dict(PlaybookRunLog.objects.values_list("run__customer_id", "outcome"))
    assert outcomes == {opted_out.pk: "skipped", with_ticket.pk: "done"}
    # held, not dropped: it goes once the ticket is solved, and the log says so
    assert "open ticket: held, sent once the customer's open tickets are solved" in details[with_ticket.pk]
    assert "opted out" in details[opted_out.pk].lower() or "opt" in details[opted_out.pk].lower()
    assert set(PlaybookRun.objects.values_list("state", flat=True)) == {RunState.COMPLETED}


def test_a_failing_step_fails_the_run_with_its_reason(now):
    empty_queue = QueueFactory()
    playbook = PlaybookFactory(owner_agent=None, owner_queue=empty_queue)
    step(playbook, 1, "create_ticket")
    match(playbook.signal, CustomerFactory())
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    run = PlaybookRun.objects.get()
    assert run.state == RunState.FAILED
    assert "has no agent to write the proactive ticket" in run.stop_reason
    assert logs(run) == [(1, "create_ticket", "failed")]
    assert Ticket.objects.count() == 0


def test_queue_owned_ticket_is_written_by_a_queue_member(now):
    queue = QueueFactory()
    member = QueueMembershipFactory(queue=queue).agent
    playbook = PlaybookFactory(owner_agent=None, owner_queue=queue)
    step(playbook, 1, "create_ticket")
    match(playbook.signal, CustomerFactory())
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    ticket = PlaybookRun.objects.get().ticket
    assert ticket.queue == queue
    assert ticket.messages.get().author_user == member


def test_check_for_a_milestone_event_and_tags(queue, now):
    signal = SignalFactory(kind=SignalKind.MILESTONE_MISSING, params={})
    playbook = PlaybookFactory(signal=signal, owner_queue=queue)
    tag = TagFactory(name="onboarding-help")
    step(playbook, 1, "add_tag", tag=tag)
    step(playbook, 2, "wait", wait_days=Decimal("0.5"))
    step(playbook, 3, "check", check_mode="event_happened", check_event_kind="first_project_created")
    step(playbook, 4, "remove_tag", tag=tag)
    done, stuck = CustomerFactory(), CustomerFactory()
    match(signal, done)
    match(signal, stuck)
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    assert set(tag.customers.all()) == {done, stuck}
    CustomerEvent.objects.create(
        customer=done, kind="first_project_created", occurred_at=now + dt.timedelta(hours=1), event_id="p-1"
    )
    playbook_runs_advance(now=now + dt.timedelta(hours=13))
    states = dict(PlaybookRun.objects.values_list("customer_id", "state"))
    assert states == {done.pk: RunState.COMPLETED, stuck.pk: RunState.STOPPED}
    assert set(tag.customers.all()) == {stuck}


def test_stopping_a_finished_run_is_an_error(win_back, now):
    match(win_back.signal, CustomerFactory())
    playbook_runs_start(now=now)
    run = PlaybookRun.objects.get()
    playbook_run_stop(run=run, actor=AgentFactory())
    with pytest.raises(ApplicationError):
        playbook_run_stop(run=run)
    assert PlaybookRun.objects.get().state == RunState.STOPPED


# serial: its rollback re-inserts the rows serialized with the test database, which collide with the content
# types a plain transactional test's flush re-creates under new ids: dev.py test runs it in a process of its own
@pytest.mark.serial
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_advancing_at_once_run_each_step_once(queue):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    now = timezone.now()
    playbook = PlaybookFactory(owner_queue=queue)
    step(playbook, 1, "create_ticket")
    step(playbook, 2, "send_template", template=TemplateFactory(category="reminder"))
    for _ in range(5):
        match(playbook.signal, CustomerFactory())
    playbook_runs_start(now=now)

    def advance():
        try:
            return playbook_runs_advance(now=now)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: advance(), range(3)))

    assert Ticket.objects.count() == 5
    assert Delivery.objects.filter(source=f"playbook:{playbook.pk}").count() == 5
    assert PlaybookRunLog.objects.count() == 10
    assert set(PlaybookRun.objects.values_list("state", flat=True)) == {RunState.COMPLETED}


def test_an_event_starts_its_playbook_in_the_same_beat(queue):
    from playbooks.tasks import evaluate_signals

    signal = SignalFactory(
        kind=SignalKind.EVENT_HAPPENED,
        params={"event_kind": "order_shipped", "property_filter": {"carrier": "dhl"}, "minutes": 10},
    )
    playbook = PlaybookFactory(signal=signal, owner_queue=queue, cooldown_days=0)
    step(
        playbook, 1, "send_template", template=TemplateFactory(category="service", subject="Your parcel is on its way")
    )
    customer = CustomerFactory()
    CustomerEvent.objects.create(
        customer=customer,
        kind="order_shipped",
        occurred_at=timezone.now(),
        properties={"carrier": "dhl"},
        event_id="s1",
    )
    evaluate_signals()
    run = PlaybookRun.objects.get()
    assert run.state == RunState.COMPLETED
    assert Delivery.objects.get(idempotency_key=f"playbook-run:{run.pk}:step:1").subject == "Your parcel is on its way"
