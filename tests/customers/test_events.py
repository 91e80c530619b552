"""The batch service behind POST /api/v1/events/ and import_events: resolving, duplicates, the last-seen touch."""

import datetime as dt

import pytest
from django.db import connection

from customers.models import Customer, CustomerEvent
from customers.services import customer_events_ingest
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def event(event_id, at=AT, kind="login", **customer):
    return {"event_id": event_id, "kind": kind, "occurred_at": at, "properties": {"n": 1}, **customer}


def statuses(result):
    return [r.status for r in result.results]


def test_an_id_written_as_a_number_or_as_digits_names_the_same_customer():
    ada = CustomerFactory()
    result = customer_events_ingest(events=[event("e1", customer_id=ada.pk), event("e2", customer_id=str(ada.pk))])
    assert statuses(result) == ["accepted", "accepted"]
    assert set(CustomerEvent.objects.values_list("customer_id", flat=True)) == {ada.pk}


def test_an_id_no_customer_can_have_is_an_unknown_customer_not_an_error():
    CustomerFactory()
    result = customer_events_ingest(
        events=[event("e1", customer_id=2**70), event("e2", customer_id=-3), event("e3", customer_id="abc")]
    )
    assert statuses(result) == ["unknown_customer"] * 3
    assert result.results[0].errors == {"customer": ["No such customer."]}
    assert CustomerEvent.objects.count() == 0


def test_an_address_is_matched_without_regard_to_case_as_the_unique_rule_has_it():
    ada = CustomerFactory(email="ada@client.example")
    Customer.objects.filter(pk=ada.pk).update(email="Ada@Client.example")  # stored as typed, past save()
    result = customer_events_ingest(events=[event("e1", customer_email="ADA@client.EXAMPLE")])
    assert statuses(result) == ["accepted"]
    assert CustomerEvent.objects.get().customer_id == ada.pk


def test_last_seen_moves_to_the_latest_stored_login_and_never_back():
    ada, bob = CustomerFactory(), CustomerFactory()
    Customer.objects.filter(pk=bob.pk).update(last_seen_at=AT + dt.timedelta(days=1))
    customer_events_ingest(events=[event("old", at=AT - dt.timedelta(hours=1), customer_id=ada.pk)])
    result = customer_events_ingest(
        events=[
            event("l1", at=AT, customer_id=ada.pk),
            event("l2", at=AT + dt.timedelta(minutes=5), customer_email=ada.email),
            event("e1", at=AT + dt.timedelta(hours=2), kind="error", customer_id=ada.pk),  # not a login
            # already stored: a later time on a duplicate is not a login that happened
            event("old", at=AT + dt.timedelta(hours=3), customer_id=ada.pk),
            event("l3", at=AT, customer_id=bob.pk),  # older than what bob has
        ]
    )
    assert statuses(result) == ["accepted", "accepted", "accepted", "duplicate", "accepted"]
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert ada.last_seen_at == AT + dt.timedelta(minutes=5)
    assert bob.last_seen_at == AT + dt.timedelta(days=1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes of PostgreSQL's schema")
def test_the_events_table_keeps_only_the_indexes_something_reads():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, CustomerEvent._meta.db_table)
    indexes = {
        name: c["columns"] for name, c in constraints.items() if (c["index"] or c["unique"]) and not c["primary_key"]
    }
    assert constraints["customers_event_event_id_unique"]["unique"]
    assert sorted(indexes.values()) == [
        ["customer_id", "occurred_at"],
        ["event_id"],
        ["kind", "occurred_at", "customer_id"],
        ["received_at"],
    ]


def test_each_row_keeps_its_own_properties_whatever_order_the_rows_go_in():
    ada, bob = CustomerFactory(), CustomerFactory()
    rows = [
        {**event(f"e{i}", kind="export.run", customer_id=(bob if i % 2 else ada).pk), "properties": {"i": i}}
        for i in range(6)
    ]
    rows[3]["properties"] = {}
    customer_events_ingest(events=rows)
    assert dict(CustomerEvent.objects.values_list("event_id", "properties")) == {
        "e0": {"i": 0}, "e1": {"i": 1}, "e2": {"i": 2}, "e3": {}, "e4": {"i": 4}, "e5": {"i": 5},
    }  # fmt: skip
