"""The migration that re-holds announcements "held until it is solved" that were in fact dropped."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

OLD_REASON = "open ticket: held until it is solved"


@pytest.mark.django_db(transaction=True)
def test_recently_dropped_announcements_are_held_again_and_older_ones_say_they_were_not_sent():
    executor = MigrationExecutor(connection)
    executor.migrate([("outreach", "0006_ratings_from_follow_ups"), ("customers", "0007_email_prefix_index")])
    old_apps = executor.loader.project_state(
        [("outreach", "0006_ratings_from_follow_ups"), ("customers", "0007_email_prefix_index")]
    ).apps
    Delivery = old_apps.get_model("customers", "Delivery")
    now = timezone.now()
    recent = now - dt.timedelta(days=2)
    for key, created_at in (("recent", recent), ("old", now - dt.timedelta(days=30))):
        Delivery.objects.create(
            idempotency_key=key, recipient=f"{key}@client.example", category="announcement", subject="s", body="b",
            status="suppressed", suppressed_reason=OLD_REASON, created_at=created_at, next_attempt_at=created_at,
        )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from customers.models import Delivery as Current

    rows = {d.idempotency_key: d for d in Current.objects.all()}
    until = recent + dt.timedelta(days=14)
    assert (rows["recent"].status, rows["recent"].next_attempt_at) == ("held", until)
    assert rows["recent"].suppressed_reason.startswith("open ticket: held, sent once the customer's open tickets")
    assert (rows["old"].status, rows["old"].suppressed_reason) == (
        "suppressed",
        "open ticket: not sent (planned before held messages were kept)",
    )
