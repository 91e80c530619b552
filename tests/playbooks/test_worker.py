"""Real Celery workers advancing runs: a task delivered three times runs each step once."""

import pytest
from django.utils import timezone

from customers.models import Delivery
from playbooks.models import PlaybookRun, PlaybookRunLog, PlaybookStep, RunState, SignalMatch
from playbooks.services import playbook_runs_start
from playbooks.tasks import advance_runs
from tests.factories import CustomerFactory
from tests.outreach.factories import TemplateFactory
from tests.playbooks.factories import PlaybookFactory
from tests.smtp import SmtpServer
from tests.tickets.factories import QueueFactory
from tests.worker import WorkerProcess, publishing_to_broker, wait_for
from tickets.models import Ticket

pytestmark = [pytest.mark.worker, pytest.mark.serial, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_advance_runs_delivered_three_times_to_two_worker_processes_runs_each_step_once(tmp_path):
    playbook = PlaybookFactory(owner_queue=QueueFactory())
    PlaybookStep.objects.create(playbook=playbook, position=1, action="create_ticket")
    PlaybookStep.objects.create(
        playbook=playbook, position=2, action="send_template", template=TemplateFactory(category="reminder")
    )
    for _ in range(6):
        customer = CustomerFactory()
        SignalMatch.objects.create(signal=playbook.signal, customer=customer, evidence="login per week: 9, 1")
    playbook_runs_start(now=timezone.now())

    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, concurrency=2).start()
        try:
            for _ in range(3):
                advance_runs.delay()
            wait_for(
                lambda: set(PlaybookRun.objects.values_list("state", flat=True)) == {RunState.COMPLETED},
                worker=worker,
            )
        finally:
            worker.stop()
    assert Ticket.objects.filter(playbook_runs__playbook=playbook).count() == 6
    assert Delivery.objects.filter(source=f"playbook:{playbook.pk}").count() == 6
    assert PlaybookRunLog.objects.count() == 12
