import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import CustomerEvent
from playbooks.models import Playbook, PlaybookRun, PlaybookStep, RunState, SignalKind, SignalMatch
from playbooks.selectors import playbook_outcomes
from playbooks.services import playbook_runs_advance, playbook_runs_start
from tests.factories import CustomerFactory
from tests.playbooks.factories import PlaybookFactory, SignalFactory
from tests.tickets.factories import QueueFactory, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(manager) -> Client:
    Group.objects.get(name="Managers").permissions.add(*Permission.objects.filter(content_type__app_label="playbooks"))
    client = Client()
    client.force_login(manager)
    return client


def weekly_drop(customer, now):
    rows = []
    for back, count in enumerate([1, 1, 1, 9]):
        for i in range(count):
            at = now - dt.timedelta(days=7 * back + 1)
            rows.append(
                CustomerEvent(
                    customer=customer,
                    kind="login",
                    occurred_at=at,
                    received_at=at,
                    event_id=f"{customer.pk}-{back}-{i}",
                )
            )
    CustomerEvent.objects.bulk_create(rows)


@pytest.fixture
def drop_playbook():
    signal = SignalFactory(kind=SignalKind.USAGE_DROP, params={"event_kind": "login", "threshold": 2, "weeks": 3})
    playbook = PlaybookFactory(signal=signal, is_active=False, owner_queue=QueueFactory())
    PlaybookStep.objects.create(playbook=playbook, position=1, action="create_ticket")
    return playbook


def test_dry_run_shows_who_matches_now_with_evidence_and_stores_nothing(manager_client, drop_playbook):
    now = timezone.now()
    customers = [CustomerFactory(created_at=now - dt.timedelta(days=90)) for _ in range(3)]
    for customer in customers[:2]:
        weekly_drop(customer, now)
    response = manager_client.get(reverse("admin:playbooks_playbook_dry_run", args=[drop_playbook.pk]))
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.matched, result.would_start) == (2, 2)
    assert b"login per week: 9, 1, 1, 1" in response.content
    assert customers[0].email.encode() in response.content
    assert SignalMatch.objects.count() == 0
    assert PlaybookRun.objects.count() == 0
    assert b'id="activate-playbook"' in response.content


def test_dry_run_post_activates_the_playbook(manager_client, drop_playbook):
    response = manager_client.post(reverse("admin:playbooks_playbook_dry_run", args=[drop_playbook.pk]))
    assert response.status_code == 302
    drop_playbook.refresh_from_db()
    assert drop_playbook.is_active
    assert drop_playbook.activated_at is not None


def test_an_agent_can_neither_see_nor_activate_the_dry_run(agent_client, drop_playbook):
    url = reverse("admin:playbooks_playbook_dry_run", args=[drop_playbook.pk])
    assert agent_client.get(url).status_code == 302  # to the admin login: agents are not staff
    agent_client.post(url)
    drop_playbook.refresh_from_db()
    assert not drop_playbook.is_active


def test_change_page_shows_runs_with_logs_and_outcome(manager_client, drop_playbook):
    now = timezone.now()
    drop_playbook.is_active = True
    drop_playbook.save()
    customer = CustomerFactory()
    SignalMatch.objects.create(signal=drop_playbook.signal, customer=customer, evidence="login per week: 9, 1, 1, 1")
    playbook_runs_start(now=now)
    playbook_runs_advance(now=now)
    page = manager_client.get(reverse("admin:playbooks_playbook_change", args=[drop_playbook.pk]))
    assert page.status_code == 200
    assert b'id="dry-run-link"' in page.content
    assert b"Create a proactive ticket: Done" in page.content
    assert PlaybookRun.objects.get().ticket.reference.encode() in page.content
    assert b'id="playbook-outcomes"' in page.content


def test_outcome_counts_cleared_signals_and_tickets_before_and_after(drop_playbook):
    now = timezone.now()
    queue = QueueFactory()
    recovered, still, recent = CustomerFactory(), CustomerFactory(), CustomerFactory()
    start = now - dt.timedelta(days=40)
    for customer, cleared in ((recovered, start + dt.timedelta(days=10)), (still, None), (recent, None)):
        match = SignalMatch.objects.create(
            signal=drop_playbook.signal, customer=customer, evidence="e", matched_at=start, cleared_at=cleared
        )
        started = start if customer is not recent else now - dt.timedelta(days=5)
        PlaybookRun.objects.create(
            playbook=drop_playbook, customer=customer, match=match, started_at=started, state=RunState.COMPLETED
        )
    for days, customer in ((45, recovered), (42, recovered), (35, recovered), (20, still)):
        ticket = make_ticket(requester=customer, queue=queue)
        type(ticket).objects.filter(pk=ticket.pk).update(created_at=now - dt.timedelta(days=days))
    outcomes = playbook_outcomes(playbook=drop_playbook, now=now)
    # the recent run is not judged yet; of the two others one cleared within 30 days
    assert (outcomes.runs, outcomes.judged, outcomes.cleared) == (3, 2, 1)
    assert (outcomes.tickets_before, outcomes.tickets_after) == (2, 2)


def test_pause_and_stop_actions(manager_client, drop_playbook):
    drop_playbook.is_active = True
    drop_playbook.save()
    run = PlaybookRun.objects.create(playbook=drop_playbook, customer=CustomerFactory(), next_due_at=timezone.now())
    url = reverse("admin:playbooks_playbook_changelist")
    manager_client.post(url, {"action": "pause", "_selected_action": [drop_playbook.pk]})
    assert not Playbook.objects.get().is_active
    manager_client.post(url, {"action": "stop_runs", "_selected_action": [drop_playbook.pk]})
    run.refresh_from_db()
    assert run.state == RunState.STOPPED
    assert run.stop_reason.startswith("playbook stopped by")


def test_stop_one_run_from_the_runs_list(manager_client, drop_playbook):
    run = PlaybookRun.objects.create(playbook=drop_playbook, customer=CustomerFactory(), next_due_at=timezone.now())
    response = manager_client.post(
        reverse("admin:playbooks_playbookrun_changelist"), {"action": "stop", "_selected_action": [run.pk]}
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.state == RunState.STOPPED
