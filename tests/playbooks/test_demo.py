import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from playbooks.models import PlaybookRun, SignalMatch
from playbooks.tasks import advance_runs, evaluate_signals, start_runs
from tickets.models import Kind, Ticket

pytestmark = pytest.mark.django_db


def test_the_demo_shows_signals_runs_and_proactive_tickets_after_one_round_of_beat_jobs():
    for name in ("Agents", "Managers"):  # a transactional test may have flushed the migrations' groups
        Group.objects.get_or_create(name=name)
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())  # idempotent
    before = Ticket.objects.filter(kind=Kind.PROACTIVE).count()

    # what the beat runs in its first seconds
    evaluate_signals()
    start_runs()
    advance_runs()

    drop = SignalMatch.objects.filter(signal__name="Logins fell", cleared_at__isnull=True).select_related("customer")
    assert {m.customer.name for m in drop} >= {"Nora Quist", "Omar Haddad"}
    nora = next(m for m in drop if m.customer.name == "Nora Quist")
    assert nora.evidence.startswith("login per week: 9, 1, 1 (below 2 for 2 weeks")
    onboarding = SignalMatch.objects.filter(signal__name="No first project", cleared_at__isnull=True)
    assert {m.customer.name for m in onboarding} == {"Pia Brandt", "Quentin Roy"}
    runs = PlaybookRun.objects.select_related("ticket")
    assert runs.count() == drop.count() + 2
    assert all(run.ticket and run.ticket.kind == Kind.PROACTIVE for run in runs)
    assert Ticket.objects.filter(kind=Kind.PROACTIVE).count() == before + runs.count()
