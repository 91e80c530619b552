import io
import json

import pytest
from django.core.management import CommandError, call_command

from customers.models import CustomerEvent
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_events", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_csv_import_is_idempotent_and_reports_bad_rows(tmp_path):
    ada = CustomerFactory(external_id="usr_1")
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,customer,kind,occurred_at,properties\n"
        "e1,usr_1,login,2026-11-01T10:00:00Z,\n"
        'e2,usr_1,order_shipped,2026-11-02T10:00:00+01:00,"{""carrier"": ""dhl""}"\n'
        "e3,usr_404,login,2026-11-02T10:00:00Z,\n"
        "e4,usr_1,login,yesterday,\n"
    )
    out, err = run(path, "--batch-size", "2")
    assert "4 rows: 2 events created, 0 already there, 2 skipped" in out
    assert "line 4: no customer with external_id 'usr_404'" in err
    assert "line 5: occurred_at 'yesterday' is not an ISO date-time" in err
    shipped = CustomerEvent.objects.get(event_id="e2")
    assert (shipped.customer, shipped.properties) == (ada, {"carrier": "dhl"})
    assert shipped.occurred_at.isoformat() == "2026-11-02T09:00:00+00:00"
    assert "100%" in err  # the progress bar reached the end

    out, _ = run(path)
    assert "0 events created, 2 already there" in out
    assert CustomerEvent.objects.count() == 2


def test_json_lines_by_email(tmp_path):
    CustomerFactory(email="ada@math.example")
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps(
            {"event_id": "j1", "customer": "ADA@math.example", "kind": "login", "occurred_at": "2026-11-01T10:00:00Z"}
        ),
        "not json",
        json.dumps(
            {"event_id": "j1", "customer": "ada@math.example", "kind": "login", "occurred_at": "2026-11-01T10:00:00Z"}
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    out, err = run(path, "--customer-key", "email", "--no-progress")
    assert "3 rows: 1 events created, 1 already there, 1 skipped" in out
    assert "line 2: not JSON" in err


def test_a_csv_without_the_columns_is_refused(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("id,who\n1,2\n")
    with pytest.raises(CommandError, match="lacks: customer, event_id, kind, occurred_at"):
        run(path)
    assert CustomerEvent.objects.count() == 0


def test_a_repeated_event_id_inside_a_batch_is_a_duplicate_and_unknown_ids_are_reported(tmp_path):
    ada = CustomerFactory()
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,customer,kind,occurred_at,properties\n"
        f"e1,{ada.pk},login,2026-11-01T10:00:00Z,\n"
        f"e1,{ada.pk},login,2026-11-01T10:00:00Z,\n"
        "e2,abc,login,2026-11-01T10:00:00Z,\n"
        "e3,999999,login,2026-11-01T10:00:00Z,\n"
    )
    out, err = run(path, "--customer-key", "id", "--no-progress")
    assert "4 rows: 1 events created, 1 already there, 2 skipped" in out
    assert "line 4: no customer with id 'abc'" in err  # as typed
    assert "line 5: no customer with id '999999'" in err
    assert list(CustomerEvent.objects.values_list("event_id", "customer_id")) == [("e1", ada.pk)]


def test_the_bench_refuses_a_database_not_named_for_benchmarks():
    with pytest.raises(CommandError, match="bench"):
        call_command("bench_events", "--batches", "1", stdout=io.StringIO())
