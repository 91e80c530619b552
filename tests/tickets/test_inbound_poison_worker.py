"""A real worker meets a message that takes its process down (a segfault) or hangs it: the other messages of
its batch become tickets, the poison is quarantined after ``INBOUND_MAX_ATTEMPTS`` attempts, and nothing is
delivered for ever. The faults are injected into the test's worker only (tests/worker_faults.py)."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from tests.tickets.factories import QueueFactory
from tests.tickets.test_inbound import SUPPORT, mail
from tests.worker import WorkerProcess, publishing_to_broker, wait_for
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.services import inbound_due_requeue, inbound_store_many
from tickets.models import Ticket

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
MARKER = "Zq7-poison-marker"
INNOCENT = ["One", "Two", "Three", "Four"]


def worker_env(**faults):
    return {
        "DJANGO_SETTINGS_MODULE": "tests.worker_faults_settings",
        "HELPDESK_INBOUND_MAX_ATTEMPTS": "2",
        "HELPDESK_INBOUND_RETRY_BASE_SECONDS": "0.5",
        **faults,
    }


def store_batch():
    """One batch (one task): two innocent messages, the poison, two more."""
    mailbox = Mailbox.objects.create(address=SUPPORT, queue=QueueFactory())
    subjects = [*INNOCENT[:2], "Poison", *INNOCENT[2:]]
    raws = [
        mail(subject=s, body=f"{MARKER} in the text." if s == "Poison" else "It fails.").as_bytes() for s in subjects
    ]
    ids = inbound_store_many(mailbox=mailbox, raws=raws, via="imap")  # one task, sent on commit
    return InboundEmail.objects.get(subject="Poison", pk__in=ids)


def poisoned_batch(tmp_path, env, *, sweep=False):
    """Run a worker on one batch with its poison until the poison is quarantined and the others are tickets;
    (the poison's row, the worker's log). ``sweep``: play beat's sweeper, every 2 s instead of every minute."""
    worker = WorkerProcess(var_dir=tmp_path, email_url=f"filemail://{tmp_path / 'mail'}", extra_env=env)
    with publishing_to_broker(tmp_path):
        worker.start()
        try:
            poison = store_batch()

            def done():
                if sweep:  # what beat does every minute, for rows whose task is gone
                    inbound_due_requeue(now=timezone.now() + dt.timedelta(minutes=2))
                quarantined = InboundEmail.objects.filter(pk=poison.pk, state="quarantined").exists()
                return quarantined and sorted(Ticket.objects.values_list("subject", flat=True)) == sorted(INNOCENT)

            wait_for(done, timeout=120, interval=2 if sweep else 0.2, worker=worker)
            time.sleep(3)  # and nothing is delivered for ever
            log = worker.output()
        finally:
            worker.stop()
    poison.refresh_from_db()
    assert InboundEmail.objects.filter(state="processed").count() == len(INNOCENT)
    assert poison.ticket_id is None
    return poison, log


def time_limits(settings, soft, hard):
    """The limits the test's tasks carry (Celery's sender decides them) and the worker's own sends use."""
    settings.HELPDESK = {
        **settings.HELPDESK, "INBOUND_SOFT_TIME_LIMIT_SECONDS": soft, "INBOUND_TIME_LIMIT_SECONDS": hard,
    }  # fmt: skip
    return {"HELPDESK_INBOUND_SOFT_TIME_LIMIT_SECONDS": str(soft), "HELPDESK_INBOUND_TIME_LIMIT_SECONDS": str(hard)}


def test_a_message_that_segfaults_the_worker_takes_down_only_itself_and_is_quarantined(tmp_path):
    poison, log = poisoned_batch(tmp_path, worker_env(HELPDESK_TEST_CRASH_ON=MARKER))

    assert (poison.state, poison.interrupted, poison.attempts) == ("quarantined", 2, 0)
    assert poison.outcome == "quarantined: processing it stopped the worker 2 times; a manager can read and retry it"
    # it killed the worker's process twice: with its batch, then alone; the third delivery quarantined it unread
    deaths = "Task handler raised error: WorkerLostError('Worker exited prematurely: signal 11"
    assert log.count(deaths) == 2, log[-3000:]
    assert all(r.interrupted <= 1 for r in InboundEmail.objects.filter(state="processed"))


def test_a_message_that_hangs_fails_at_the_soft_time_limit_and_the_rest_of_its_batch_goes_on(tmp_path, settings):
    poison, log = poisoned_batch(tmp_path, worker_env(HELPDESK_TEST_HANG_ON=MARKER, **time_limits(settings, 2, 8)))

    # two attempts failed at the time limit like any failure, and no process had to be killed
    assert (poison.state, poison.attempts, poison.interrupted) == ("quarantined", 2, 0)
    assert poison.last_error == "SoftTimeLimitExceeded: processing took longer than 2 s (the time limit)"
    assert "Hard time limit" not in log
    assert "WorkerLostError" not in log


def test_a_message_stuck_where_no_signal_reaches_is_killed_at_the_hard_limit_and_quarantined(tmp_path, settings):
    # a task killed at its hard limit is acknowledged, not delivered again: the sweeper requeues its rows
    env = worker_env(HELPDESK_TEST_STUCK_ON=MARKER, **time_limits(settings, 1, 3))

    poison, log = poisoned_batch(tmp_path, env, sweep=True)

    assert (poison.state, poison.interrupted) == ("quarantined", 2)
    assert log.count("Hard time limit (3") == 2, log[-3000:]
