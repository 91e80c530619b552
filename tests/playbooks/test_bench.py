import io

import pytest
from django.core.management import call_command
from django.db import connection

from customers.models import CustomerEvent

pytestmark = pytest.mark.django_db


def test_bench_signals_loads_and_times_every_kind_on_a_small_scale():
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark loads with PostgreSQL's generate_series")
    out = io.StringIO()
    call_command("bench_signals", customers=60, events=3000, tickets=60, runs=2, stdout=out)
    report = out.getvalue()
    assert "rows: customers 60, events 3,000, tickets 60, messages 60" in report
    for kind in ("usage_drop", "usage_spike", "repeated_tickets", "negative_sentiment", "date_ahead",
                 "service_pain", "event_happened", "milestone_missing"):  # fmt: skip
        assert kind in report
    # the indexes it dropped for the load are back: a duplicate event_id is refused
    assert CustomerEvent.objects.filter(event_id="bench-1").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'customers_customerevent'")
        assert cursor.fetchone()[0] >= 5
