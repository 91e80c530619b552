"""Fan-outs through a real Celery worker process and a real SMTP server on loopback."""

import collections

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from customers.models import Customer, Delivery
from customers.services import deliveries_sweep
from outreach.models import Fanout
from outreach.services import fanouts_resume, incident_declare
from outreach.tasks import plan_fanout
from tests.factories import OrganizationFactory, ProductFactory
from tests.smtp import SmtpServer
from tests.worker import WorkerProcess, publishing_to_broker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAST = {
    "HELPDESK_DELIVERY_LEASE_SECONDS": "2",
    "HELPDESK_DELIVERY_SWEEP_GRACE_SECONDS": "1",
    "HELPDESK_DELIVERY_RETRY_BASE_SECONDS": "0.2",
    "HELPDESK_DELIVERY_RETRY_MAX_SECONDS": "1",
    "HELPDESK_OUTREACH_FANOUT_STALL_SECONDS": "2",
    "HELPDESK_OUTREACH_FANOUT_SLICE": "500",
    "HELPDESK_DELIVERY_CHUNK_SIZE": "250",
}
FAST_SETTINGS = {
    **settings.HELPDESK,
    "DELIVERY_LEASE_SECONDS": 2,
    "DELIVERY_SWEEP_GRACE_SECONDS": 1,
    "OUTREACH_FANOUT_STALL_SECONDS": 2,
    "OUTREACH_FANOUT_SLICE": 500,
    "DELIVERY_CHUNK_SIZE": 250,
}


def _customers(n, *, product):
    org = OrganizationFactory(name="Big Co")
    org.products.add(product)
    Customer.objects.bulk_create(
        [Customer(name=f"Customer {i}", email=f"c{i}@big.example", organization=org) for i in range(n)],
        batch_size=1000,
    )
    return org


def _declare(product):
    with transaction.atomic():
        return incident_declare(title="API outage", message="Requests fail.", products=[product])


def _sent(incident):
    return Delivery.objects.filter(source=f"incident:{incident.pk}", status="sent").count()


@override_settings(HELPDESK=FAST_SETTINGS)
def test_killing_the_worker_mid_fan_out_loses_nothing_and_duplicates_nothing(tmp_path):
    product = ProductFactory(slug="api")
    _customers(5000, product=product)
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, extra_env=FAST, concurrency=2).start()
        try:
            incident = _declare(product)
            wait_for(lambda: _sent(incident) >= 300, timeout=120, worker=worker)
            worker.kill()  # mid fan-out: planning and sending both still under way
            killed_at = _sent(incident)
            assert killed_at < 5000
            worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, extra_env=FAST, concurrency=2).start()

            def recovered():
                # what beat would do: resume stalled planning, re-queue rows a dead worker left in `sending`
                fanouts_resume()
                deliveries_sweep()
                return _sent(incident) == 5000

            wait_for(recovered, timeout=240, interval=2, worker=worker)
        finally:
            worker.stop()
    rows = Delivery.objects.filter(source=f"incident:{incident.pk}")
    assert rows.count() == 5000
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert Fanout.objects.get().planned == 5000
    per_message_id = collections.Counter(m["Message-ID"] for m in smtp.sink.messages)
    assert len(per_message_id) == 5000  # every customer received the notice
    # claim-before-send: messages the server accepted after the last committed sent mark go again, with
    # the same Message-ID (receivers de-duplicate on it); at most one mark batch per worker process child
    assert sum(n - 1 for n in per_message_id.values()) <= 2 * settings.HELPDESK["DELIVERY_MARK_BATCH"]


@override_settings(HELPDESK=FAST_SETTINGS)
def test_a_planning_task_delivered_twice_sends_nothing_twice(tmp_path):
    product = ProductFactory(slug="api")
    _customers(700, product=product)
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, extra_env=FAST).start()
        try:
            incident = _declare(product)
            update = incident.updates.get()
            for _ in range(2):  # the broker redelivers the first slice
                plan_fanout.apply_async(args=["incident_update", update.pk, 0], queue="default")
            wait_for(lambda: _sent(incident) == 700, timeout=120, worker=worker)
            wait_for(lambda: len(smtp.sink.messages) >= 700, timeout=10)
        finally:
            worker.stop()
    assert Delivery.objects.count() == 700
    assert sorted(collections.Counter(smtp.sink.recipients()).values()) == [1] * 700


@override_settings(HELPDESK=FAST_SETTINGS)
def test_a_refusing_server_is_retried_with_back_off_and_a_permanent_failure_is_recorded(tmp_path):
    product = ProductFactory(slug="api")
    _customers(20, product=product)
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        smtp.sink.refuse_next = 3
        smtp.sink.reject = {"c7@big.example"}
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, extra_env=FAST).start()
        try:
            incident = _declare(product)
            wait_for(lambda: _sent(incident) == 19, timeout=180, worker=worker)
        finally:
            worker.stop()
    failed = Delivery.objects.get(status="failed")
    assert failed.recipient == "c7@big.example"
    assert "550" in failed.last_error
    retried = Delivery.objects.filter(status="sent", attempts__gt=1)
    assert retried.exists()
    assert "451" in retried.first().last_error or retried.first().last_error == ""
    assert sorted(smtp.sink.recipients()) == sorted(f"c{i}@big.example" for i in range(20) if i != 7)
