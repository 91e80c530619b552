"""customers 0011: the in-app channel goes; its rows still waiting are suppressed, its sent rows stay."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("customers", "0010_bounces")]


@pytest.mark.django_db(transaction=True)
def test_waiting_in_app_rows_are_suppressed_saying_why_and_the_rest_is_untouched():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    Delivery = executor.loader.project_state(BEFORE).apps.get_model("customers", "Delivery")
    now = timezone.now()
    for key, channel, status in (
        ("in-app-queued", "in_app", "queued"),
        ("in-app-sending", "in_app", "sending"),
        ("in-app-sent", "in_app", "sent"),
        ("email-queued", "email", "queued"),
    ):
        Delivery.objects.create(idempotency_key=key, recipient="ada@client.example", channel=channel, status=status,
                                category="announcement", subject="s", body="b", next_attempt_at=now)  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from customers.models import Delivery as Current

    rows = {d.idempotency_key: (d.channel, d.status, d.suppressed_reason) for d in Current.objects.all()}
    assert rows == {
        "in-app-queued": ("in_app", "suppressed", "the in-app channel was removed"),
        "in-app-sending": ("in_app", "suppressed", "the in-app channel was removed"),
        "in-app-sent": ("in_app", "sent", ""),
        "email-queued": ("email", "queued", ""),
    }
