"""Faults with real parts: a private PostgreSQL cluster restarted under a real worker, a worker SIGKILLed."""

import collections
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import transaction

from config.celery import app as celery_app
from customers.models import Customer, Delivery
from customers.services import DeliveryDraft, deliveries_plan
from tests.private_postgres import PrivatePostgres
from tests.smtp import SmtpServer
from tests.worker import ROOT, WorkerProcess, publishing_to_broker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the schema is copied from a PostgreSQL test database")
    cluster = PrivatePostgres().start()
    try:
        cluster.copy_schema_of_test_database()
        yield cluster
    finally:
        cluster.stop()


def _plan(worker: WorkerProcess, n: int, prefix: str) -> None:
    subprocess.run([sys.executable, "-m", "tests.plan_deliveries", str(n), prefix], cwd=ROOT, env=worker.env,
                   check=True, timeout=120)  # fmt: skip


def _counts(cluster: PrivatePostgres) -> dict[str, int]:
    return dict(cluster.query("SELECT status, count(*) FROM customers_delivery GROUP BY status"))


def test_the_worker_recovers_from_a_database_restart_mid_fanout_and_sends_everything_once(tmp_path, private_postgres):
    """The chunks wait for the database to mark what the server accepted, within their lease (the default
    30 s; crash recovery on a busy machine took 6 s), so nothing goes twice (before they waited, every
    restart sent one mark batch per worker process again)."""
    n = 3000
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        smtp.sink.delay = 0.002  # ~400 messages/s, so the restart lands mid fan-out
        worker = WorkerProcess(
            var_dir=tmp_path, email_url=smtp.url, beat=True, concurrency=2,
            extra_env={"DATABASE_URL": private_postgres.url, "HELPDESK_DELIVERY_SWEEP_INTERVAL_SECONDS": "2"},
        ).start()  # fmt: skip
        try:
            _plan(worker, n, "restart")
            wait_for(lambda: _counts(private_postgres).get("sent", 0) >= 300, timeout=60, worker=worker)
            private_postgres.crash_and_restart(down_seconds=2.5)
            back = time.monotonic()
            wait_for(lambda: _counts(private_postgres).get("sent", 0) == n, timeout=90, worker=worker)
            recovered_after = time.monotonic() - back
        finally:
            worker.stop()
    assert _counts(private_postgres) == {"sent": n}
    per_message_id = collections.Counter(m["Message-ID"] for m in smtp.sink.messages)
    assert len(per_message_id) == n
    assert [mid for mid, copies in per_message_id.items() if copies > 1] == []
    assert recovered_after < 60


def _plan_here(n: int, prefix: str) -> None:
    customers = Customer.objects.bulk_create(
        [Customer(name=f"{prefix} {i}", email=f"{prefix}{i}@fault.example") for i in range(n)]
    )
    with transaction.atomic():
        deliveries_plan(
            drafts=[
                DeliveryDraft(key=f"{prefix}:{c.pk}", category="announcement", subject="Notice", body="Hi", customer=c)
                for c in customers
            ]
        )


def _sent() -> int:
    return Delivery.objects.filter(status=Delivery.Status.SENT).count()


def test_a_worker_killed_mid_chunk_and_restarted_sends_everything_within_two_minutes_with_the_defaults(tmp_path):
    """Default lease (30 s), sweep interval (10 s) and grace (20 s): the rows the killed chunk held and
    the messages it had reserved in the broker are sent about 40 s after the restart."""
    n = 3000
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        smtp.sink.delay = 0.002
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, beat=True, concurrency=2).start()
        try:
            _plan_here(n, "kill")
            wait_for(lambda: _sent() >= 400, timeout=60, worker=worker)
            worker.kill()  # SIGKILL mid chunk: rows in `sending`, reserved messages unacknowledged
            assert Delivery.objects.filter(status=Delivery.Status.SENDING).exists()
            worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, beat=True, concurrency=2).start()
            back = time.monotonic()
            wait_for(lambda: _sent() == n, timeout=120, interval=0.5, worker=worker)
            recovered_after = time.monotonic() - back
        finally:
            worker.stop()
    assert recovered_after < 120
    per_message_id = collections.Counter(m["Message-ID"] for m in smtp.sink.messages)
    assert len(per_message_id) == n
    # at-least-once: what the server accepted after the last sent mark goes again, with the same
    # Message-ID; at most one mark batch (20 messages or 1 s) per killed pool process
    assert sum(c - 1 for c in per_message_id.values()) <= 2 * settings.HELPDESK["DELIVERY_MARK_BATCH"]


def test_tasks_lost_with_the_broker_are_sent_within_two_minutes_with_the_defaults(tmp_path):
    """The broker loses every message (a Redis restarted without persistence: here its database is
    flushed while no worker runs); the sweeper finds the due rows after the 20 s grace."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("flushes the broker's Redis database (this test process's own number)")
    n = 1000
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        _plan_here(n, "lost")  # published, then lost before any worker took them
        with celery_app.connection_for_write() as conn:
            conn.default_channel.client.flushdb()
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, beat=True).start()
        back = time.monotonic()
        try:
            wait_for(lambda: _sent() == n, timeout=120, interval=0.5, worker=worker)
        finally:
            worker.stop()
    assert time.monotonic() - back < 120
    assert len({m["Message-ID"] for m in smtp.sink.messages}) == n
