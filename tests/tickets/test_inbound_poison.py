"""E-mail in: a message whose processing stops the worker (a crash, the OOM killer, a time limit) takes down
only itself; it is routed alone, then quarantined without being read again.

A worker's death is played here by an exception no ``except Exception`` catches: like a killed process it
undoes the batch's transaction, and leaves what was committed before it (the rows' start marks). The real
thing, a segfault in a real worker, is tests/tickets/test_inbound_poison_worker.py.
"""

import pytest
from celery.exceptions import SoftTimeLimitExceeded

import tickets.inbound.services as inbound_services
from tests.factories import ManagerFactory
from tests.tickets.factories import QueueFactory
from tests.tickets.test_inbound import SUPPORT, mail
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.services import inbound_process_batch, inbound_retry, inbound_store_many
from tickets.inbound.sources import _LOCK_SECONDS, POLL_BUDGET_SECONDS
from tickets.models import Ticket
from tickets.tasks import poll_mailboxes, process_inbound_email, process_inbound_emails

pytestmark = pytest.mark.django_db
POISON = b"This text kills the parser."


class WorkerDied(BaseException):
    """The worker process is gone: nothing after it runs, nothing uncommitted stays."""


@pytest.fixture
def mailbox():
    return Mailbox.objects.create(address=SUPPORT, name="Support", queue=QueueFactory(slug="support"))


@pytest.fixture
def poison_parse(monkeypatch):
    """Parsing the "poison" message kills the worker (storing it reads its headers only); its parses are counted."""
    real_parse = inbound_services.email_parse
    calls = []

    def parse(raw):
        if POISON in raw:
            calls.append(raw)
            raise WorkerDied
        return real_parse(raw)

    monkeypatch.setattr(inbound_services, "email_parse", parse)
    return calls


@pytest.fixture
def enqueued(monkeypatch):
    """The ids of the processing tasks sent (instead of sending them)."""
    sent = []
    monkeypatch.setattr(inbound_services, "_enqueue", lambda ids, countdown=None: sent.append(ids))
    return sent


def slow_acknowledgment(monkeypatch):
    """The soft time limit's signal lands while the message with subject "Slow" is routed."""
    real_acknowledge = inbound_services._acknowledge

    def acknowledge(ticket, customer, batch):
        if ticket.subject == "Slow":
            raise SoftTimeLimitExceeded
        return real_acknowledge(ticket, customer, batch)

    monkeypatch.setattr(inbound_services, "_acknowledge", acknowledge)


def stored(mailbox, *subjects):
    messages = [
        mail(subject=s, message_id=f"<{s}@math.example>", body=POISON.decode() if s == "poison" else "It fails.")
        for s in subjects
    ]
    return inbound_store_many(mailbox=mailbox, raws=[m.as_bytes() for m in messages], via="imap", enqueue=False)


def rows(ids):
    by_pk = InboundEmail.objects.in_bulk(ids)
    return [by_pk[pk] for pk in ids]


def delivered(ids):
    """The task's delivery: what it returned, or None when it took the worker down."""
    try:
        return inbound_process_batch(inbound_ids=ids)
    except WorkerDied:
        return None


def test_a_message_that_kills_its_batch_is_routed_alone_next_time_and_the_others_commit(mailbox, poison_parse):
    ids = stored(mailbox, "One", "poison", "Two", "Three")

    # the first delivery dies parsing the batch: nothing is routed, every row is marked started
    assert delivered(ids) is None
    assert [(r.state, r.interrupted, r.started_at is not None) for r in rows(ids)] == [("new", 0, True)] * 4
    assert not Ticket.objects.exists()

    # the second: each is a suspect, routed alone in pk order; the poison dies again, alone
    assert delivered(ids) is None
    assert [(r.state, r.attempts, r.interrupted) for r in rows(ids)] == [
        ("processed", 1, 1), ("new", 0, 1), ("new", 0, 0), ("new", 0, 0),
    ]  # fmt: skip
    # the third: the ones it never reached go first (it stopped the worker fewer times), then it dies again
    assert delivered(ids) is None
    assert [(r.state, r.attempts, r.interrupted) for r in rows(ids)] == [
        ("processed", 1, 1), ("new", 0, 2), ("processed", 1, 1), ("processed", 1, 1),
    ]  # fmt: skip
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["One", "Three", "Two"]
    one = rows(ids)[0]
    assert (one.last_error, one.started_at) == ("", None)


def test_after_max_unfinished_attempts_it_is_quarantined_unread_and_a_manager_retry_resets_it(
    mailbox, poison_parse, monkeypatch, settings, api_client_for
):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_ATTEMPTS": 2}
    [poison] = stored(mailbox, "poison")
    assert delivered([poison]) is None
    assert delivered([poison]) is None  # alone, counted once: it died once before
    assert len(poison_parse) == 2

    outcomes = delivered([poison])  # two attempts did not finish: not parsed a third time

    assert len(poison_parse) == 2
    outcome = "quarantined: processing it stopped the worker 2 times; a manager can read and retry it"
    assert outcomes == {poison: outcome}
    row = InboundEmail.objects.get(pk=poison)
    assert (row.state, row.outcome, row.attempts, row.interrupted, row.started_at) == (
        "quarantined", outcome, 0, 2, None,
    )  # fmt: skip
    assert row.last_error.startswith("processing it stopped the worker 2 times (a crash, out of memory, the time")
    assert delivered([poison]) == {}  # a task delivered again does nothing
    # managers find it with the others that need them
    listed = api_client_for(ManagerFactory()).get("/api/v1/inbound-emails/", {"state": "quarantined"}).json()
    assert [(r["id"], r["interrupted"], r["outcome"]) for r in listed["results"]] == [(poison, 2, outcome)]

    # the bug is fixed; a manager's retry starts it afresh
    monkeypatch.undo()
    inbound_retry(inbound=row)
    row.refresh_from_db()
    assert (row.state, row.attempts, row.interrupted, row.started_at) == ("failed", 0, 0, None)
    assert inbound_process_batch(inbound_ids=[poison])[poison].startswith("new ticket")
    row.refresh_from_db()
    assert (row.state, row.attempts, row.interrupted, row.last_error, row.started_at) == ("processed", 1, 0, "", None)


def test_a_processed_message_counts_one_attempt_however_often_its_task_comes(mailbox):
    ids = stored(mailbox, "One", "Two")

    inbound_process_batch(inbound_ids=ids)
    inbound_process_batch(inbound_ids=ids)  # delivered twice

    assert [(r.state, r.attempts, r.interrupted, r.started_at) for r in rows(ids)] == [("processed", 1, 0, None)] * 2


def test_a_failure_counts_as_before_and_a_death_does_not_add_to_it(mailbox, monkeypatch, settings):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_ATTEMPTS": 3, "INBOUND_RETRY_BASE_SECONDS": 0}
    real_parse = inbound_services.email_parse
    fail = {"with": RuntimeError("a charset no sample had")}

    def parse(raw):
        if b"flaky" in raw:
            raise fail["with"]
        return real_parse(raw)

    monkeypatch.setattr(inbound_services, "email_parse", parse)
    [flaky] = stored(mailbox, "flaky")
    assert inbound_process_batch(inbound_ids=[flaky]) == {flaky: "failed: a charset no sample had"}
    row = InboundEmail.objects.get(pk=flaky)
    assert (row.state, row.attempts, row.interrupted, row.started_at) == ("failed", 1, 0, None)
    fail["with"] = WorkerDied()
    assert delivered([flaky]) is None
    fail["with"] = RuntimeError("a charset no sample had")

    assert inbound_process_batch(inbound_ids=[flaky]) == {flaky: "failed: a charset no sample had"}

    row.refresh_from_db()
    assert (row.state, row.attempts, row.interrupted) == ("failed", 2, 1)
    assert row.last_error == "RuntimeError: a charset no sample had"


def test_a_suspect_another_worker_counted_first_is_left_to_it(mailbox, poison_parse):
    [poison] = stored(mailbox, "poison")
    assert delivered([poison]) is None
    seen = InboundEmail.objects.get(pk=poison)  # what a second worker read
    assert delivered([poison]) is None  # the first counted it, and died on it alone

    assert inbound_services._process_suspect(seen, seen.received_at) == ({}, False)

    row = InboundEmail.objects.get(pk=poison)
    assert (row.interrupted, row.state) == (1, "new")
    assert len(poison_parse) == 2  # the second worker did not parse it


def test_a_row_another_worker_has_started_is_not_marked_again(mailbox):
    ids = stored(mailbox, "One", "Two")
    first = inbound_services._mark_started(ids)

    second = inbound_services._mark_started(ids)

    assert second != first
    assert {r.started_at for r in rows(ids)} == {first}


def test_at_the_soft_time_limit_the_message_fails_and_the_rest_of_the_batch_goes_to_a_new_task(
    mailbox, monkeypatch, settings, django_capture_on_commit_callbacks, enqueued
):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_SOFT_TIME_LIMIT_SECONDS": 120}
    slow_acknowledgment(monkeypatch)
    ids = stored(mailbox, "One", "Slow", "Two", "Three")
    one, slow, two, three = ids

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = inbound_process_batch(inbound_ids=ids)

    assert outcomes[one].startswith("new ticket")
    assert outcomes[slow] == "failed: processing took longer than 120 s (the time limit)"
    assert set(outcomes) == {one, slow}
    assert [(r.state, r.attempts, r.started_at) for r in rows(ids)] == [
        ("processed", 1, None), ("failed", 1, None), ("new", 0, None), ("new", 0, None),
    ]  # fmt: skip
    assert rows([slow])[0].last_error == "SoftTimeLimitExceeded: processing took longer than 120 s (the time limit)"
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["One"]
    assert sorted(enqueued) == [[slow], [two, three]]  # its retry (back-off), and the rest at once
    # the new task routes the rest as a batch (not suspects: they were never tried)
    outcomes = inbound_process_batch(inbound_ids=[two, three])
    assert [o.split(" #")[0] for o in outcomes.values()] == ["new ticket", "new ticket"]
    assert [(r.state, r.attempts, r.interrupted) for r in rows([two, three])] == [("processed", 1, 0)] * 2


def test_at_the_soft_time_limit_in_the_batch_s_parse_that_message_fails_and_the_rest_goes_to_a_new_task(
    mailbox, monkeypatch, settings, django_capture_on_commit_callbacks, enqueued
):
    """Small messages are parsed with their batch, before any one is routed: a parse the limit's signal
    interrupts is that message's failure, and the batch stops there (the hard limit is near)."""
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_SOFT_TIME_LIMIT_SECONDS": 120}
    real_parse = inbound_services.email_parse

    def parse(raw):
        if b"Subject: Slow" in raw:
            raise SoftTimeLimitExceeded
        return real_parse(raw)

    monkeypatch.setattr(inbound_services, "email_parse", parse)
    ids = stored(mailbox, "One", "Slow", "Two")
    one, slow, two = ids

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = inbound_process_batch(inbound_ids=ids)

    assert outcomes == {slow: "failed: processing took longer than 120 s (the time limit)"}
    assert [(r.state, r.attempts, r.started_at) for r in rows(ids)] == [
        ("new", 0, None), ("failed", 1, None), ("new", 0, None),
    ]  # fmt: skip
    assert sorted(enqueued) == [[one, two], [slow]]  # the rest at once, its retry with back-off
    assert not Ticket.objects.exists()


def test_the_tasks_have_time_limits_and_a_poll_never_outlives_its_lock(settings):
    for task in (process_inbound_emails, process_inbound_email):
        assert (task.soft_time_limit, task.time_limit) == (
            settings.HELPDESK["INBOUND_SOFT_TIME_LIMIT_SECONDS"], settings.HELPDESK["INBOUND_TIME_LIMIT_SECONDS"],
        )  # fmt: skip
        assert task.soft_time_limit < task.time_limit
    assert POLL_BUDGET_SECONDS < poll_mailboxes.time_limit <= _LOCK_SECONDS


def test_after_the_soft_time_limit_the_chunks_and_suspects_not_reached_go_to_a_new_task(
    mailbox, monkeypatch, settings, django_capture_on_commit_callbacks, enqueued
):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_PROCESS_BATCH": 2}
    slow_acknowledgment(monkeypatch)
    ids = stored(mailbox, "Slow", "Suspect", "Three", "Four")
    slow, suspect, three, four = ids
    inbound_services._mark_started([suspect])  # an attempt that never finished

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = inbound_process_batch(inbound_ids=ids)

    assert list(outcomes) == [slow]
    assert sorted(enqueued) == [[slow], [suspect], [three, four]]  # its retry, the suspect, the next chunk
    assert [(r.state, r.interrupted, r.started_at is None) for r in rows(ids)] == [
        ("failed", 0, True), ("new", 0, False), ("new", 0, True), ("new", 0, True),
    ]  # fmt: skip
