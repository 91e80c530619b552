"""The hand-written row check of the events API accepts and refuses exactly what its serializer describes."""

import pytest

from customers.api.event_rows import event_row_check
from customers.api.serializers import EventInputSerializer

GOOD = {"event_id": "e1", "kind": "login", "occurred_at": "2026-12-01T10:00:00Z", "customer_id": 7}

ROWS = [
    GOOD,
    {**GOOD, "properties": {"carrier": "dhl", "n": 3}},
    {**GOOD, "customer_id": None, "customer_email": "Ada@Math.example"},
    {**GOOD, "customer_id": None, "customer_external_id": "u-42"},
    {**GOOD, "customer_id": "12"},
    {**GOOD, "occurred_at": "2026-12-01T10:00:00"},
    {**GOOD, "occurred_at": "2026-12-01T10:00:00+02:00"},
    # refused
    {**GOOD, "event_id": ""},
    {k: v for k, v in GOOD.items() if k != "event_id"},
    {**GOOD, "event_id": "x" * 129},
    {**GOOD, "kind": "Log In"},
    {**GOOD, "kind": "k" * 65},
    {k: v for k, v in GOOD.items() if k != "kind"},
    {**GOOD, "occurred_at": "2026-13-45T00:00:00"},
    {**GOOD, "occurred_at": "yesterday"},
    {**GOOD, "occurred_at": 1700000000},
    {k: v for k, v in GOOD.items() if k != "occurred_at"},
    {**GOOD, "properties": ["not", "a", "dict"]},
    {**GOOD, "customer_id": "abc"},
    {**GOOD, "customer_id": "²"},
    {**GOOD, "customer_id": True},
    {**GOOD, "customer_id": None},
    {**GOOD, "customer_email": "ada@math.example"},
    {**GOOD, "customer_id": None, "customer_email": "not-an-address"},
    "not a dict",
    None,
]


@pytest.mark.parametrize("raw", ROWS, ids=[str(i) for i in range(len(ROWS))])
def test_the_row_check_agrees_with_the_serializer(raw):
    serializer = EventInputSerializer(data=raw) if isinstance(raw, dict) else None
    expected_ok = serializer.is_valid() if serializer is not None else False
    row, errors = event_row_check(raw)
    assert (row is not None) == expected_ok, (errors, serializer.errors if serializer else None)
    if expected_ok:
        data = serializer.validated_data
        assert row["event_id"] == data["event_id"]
        assert row["kind"] == data["kind"]
        assert row["occurred_at"] == data["occurred_at"]
        assert row["properties"] == data.get("properties", {})
    else:
        assert errors
        if serializer is not None:  # the same fields are named (the serializer names "customer" as such too)
            assert set(errors) == set(serializer.errors)


def test_oversized_properties_are_an_error_of_that_row(settings):
    settings.HELPDESK = {**settings.HELPDESK, "EVENT_PROPERTIES_MAX_BYTES": 100}
    row, errors = event_row_check({**GOOD, "properties": {"blob": "x" * 200}})
    assert row is None
    assert errors["properties"][0].startswith("At most 100 bytes of properties")
