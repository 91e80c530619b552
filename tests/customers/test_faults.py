"""Faults with real parts: a private PostgreSQL cluster restarted under a real worker, a worker SIGKILLed."""

import subprocess
import sys
import time

import pytest

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


def test_the_worker_recovers_from_a_database_restart_mid_fanout_and_sends_everything(tmp_path, private_postgres):
    n = 3000
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        smtp.sink.delay = 0.002  # ~400 messages/s, so the restart lands mid fan-out
        worker = WorkerProcess(
            var_dir=tmp_path, email_url=smtp.url, beat=True, concurrency=2,
            extra_env={"DATABASE_URL": private_postgres.url, "HELPDESK_DELIVERY_SWEEP_INTERVAL_SECONDS": "2",
                       "HELPDESK_DELIVERY_STUCK_SENDING_SECONDS": "5"},
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
    delivered = {m["Message-ID"] for m in smtp.sink.messages}
    assert len(delivered) == n  # every one arrived; a duplicate (same Message-ID) is allowed, see README
    assert recovered_after < 60
