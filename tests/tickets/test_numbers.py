"""Ticket numbers: unique and human, handed out without a lock that makes ticket creation take turns."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.factories import CustomerFactory
from tests.tickets.factories import QueueFactory, make_ticket
from tickets.models import Ticket

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL locking")


def _in_thread(target, *args):
    """Run ``target`` on its own connection, as a second web process would; returns (thread, results)."""
    results: dict[str, object] = {}

    def run():
        try:
            results["value"] = target(*args)
        except Exception as exc:  # handed to the test to assert on
            results["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


@pytest.mark.django_db
def test_numbers_follow_each_other():
    first, second = make_ticket(), make_ticket()

    assert second.number == first.number + 1
    assert first.reference == f"#{first.number}"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_create_does_not_wait_for_another_transaction_still_creating_one():
    queue = QueueFactory()
    requester_a, requester_b = CustomerFactory(), CustomerFactory()
    a_created, a_may_commit = threading.Event(), threading.Event()

    def slow_create():
        # a create whose transaction stays open (a large attachment being received, a slow rule)
        with transaction.atomic():
            ticket = make_ticket(queue=queue, requester=requester_a, subject="Slow")
            a_created.set()
            assert a_may_commit.wait(30)
            return ticket.number

    def quick_create():
        with transaction.atomic():
            with connection.cursor() as cursor:
                # waiting on a lock held by the open transaction fails this create instead of hanging
                cursor.execute("SET LOCAL lock_timeout = '3s'")
            return make_ticket(queue=queue, requester=requester_b, subject="Quick").number

    slow, slow_result = _in_thread(slow_create)
    assert a_created.wait(30)
    quick, quick_result = _in_thread(quick_create)
    quick.join(30)
    quick_finished_while_a_open = not quick.is_alive() and "value" in quick_result
    a_may_commit.set()
    slow.join(30)

    assert quick_result.get("error") is None
    assert quick_finished_while_a_open
    assert slow_result.get("error") is None
    assert quick_result["value"] != slow_result["value"]
    assert Ticket.objects.count() == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_from_threads_get_unique_numbers():
    queue = QueueFactory()
    requesters = [CustomerFactory() for _ in range(4)]
    start = threading.Barrier(4)

    def create_five(requester):
        start.wait(10)
        return [make_ticket(queue=queue, requester=requester, subject="Race").number for _ in range(5)]

    runs = [_in_thread(create_five, requester) for requester in requesters]
    for thread, _ in runs:
        thread.join(60)

    assert [result.get("error") for _, result in runs] == [None] * 4
    numbers = [n for _, result in runs for n in result["value"]]
    assert len(set(numbers)) == 20
    assert sorted(Ticket.objects.values_list("number", flat=True)) == sorted(numbers)


BEFORE = ("tickets", "0006_merge_20261202_2128")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_the_migration_continues_after_the_numbers_in_use_and_reverses_to_the_counter():
    # given tickets up to #5000 and a counter that says so (the schema before the sequence)
    existing = make_ticket()
    executor = _migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    Counter = apps.get_model("tickets", "TicketCounter")
    assert Counter.objects.get(pk=1).last_number >= existing.number  # the reverse filled the counter
    apps.get_model("tickets", "Ticket").objects.filter(pk=existing.pk).update(number=5000)
    Counter.objects.filter(pk=1).update(last_number=4990)  # behind the tickets: the higher one wins

    # when migrating forward to the leaf nodes (the schema factories build)
    _migrate(_leaves())

    # then the next tickets continue at #5001 and numbers stay unique
    first, second = make_ticket(), make_ticket()
    assert (first.number, second.number) == (5001, 5002)

    # and going back puts the counter after every number handed out, so the old code continues too
    executor = _migrate([BEFORE])
    Counter = executor.loader.project_state([BEFORE]).apps.get_model("tickets", "TicketCounter")
    assert Counter.objects.get(pk=1).last_number == 5002
    _migrate(_leaves())
    assert make_ticket().number == 5003
