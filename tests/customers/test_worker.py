"""A real Celery worker process sends a queued delivery over a real SMTP server."""

import pytest
from django.db import transaction

from customers.models import Delivery
from customers.services import delivery_plan
from tests.factories import CustomerFactory
from tests.smtp import SmtpServer
from tests.worker import WorkerProcess, publishing_to_broker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_sends_a_delivery_enqueued_on_commit(tmp_path):
    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url).start()
        try:
            customer = CustomerFactory(email="grace@client.example")
            with transaction.atomic():
                delivery = delivery_plan(key="welcome:1", category="service", subject="Welcome", body="Hi",
                                   customer=customer)  # fmt: skip
            wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT, worker=worker)
            wait_for(lambda: smtp.sink.recipients() == ["grace@client.example"], timeout=5)
        finally:
            worker.stop()
    assert smtp.sink.messages[0]["Subject"] == "Welcome"
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1
