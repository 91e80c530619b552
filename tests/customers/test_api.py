import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer, CustomerEvent
from tests.factories import CustomerFactory, OrganizationDomainFactory

pytestmark = pytest.mark.django_db


def test_agents_create_customers_and_a_known_email_is_not_duplicated(api_client_for, agent):
    domain = OrganizationDomainFactory(domain="acme.example")
    api = api_client_for(agent)
    response = api.post("/api/v1/customers/", {"email": "Ada@Acme.example", "name": "Ada"}, format="json")
    assert response.status_code == 201
    assert response.json()["email"] == "ada@acme.example"
    assert response.json()["organization"] == domain.organization_id
    again = api.post("/api/v1/customers/", {"email": "ada@acme.example"}, format="json")
    assert again.status_code == 200
    assert Customer.objects.count() == 1


def test_customer_create_returns_per_field_errors(api_client_for, agent):
    response = api_client_for(agent).post("/api/v1/customers/", {"email": "nope", "timezone": "Mars/Base"},
                                          format="json")  # fmt: skip
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert set(fields) == {"email", "timezone"}
    assert Customer.objects.count() == 0


def test_customer_api_is_for_agents_only(api_client_for, customer_user, client):
    assert api_client_for(customer_user).get("/api/v1/customers/").status_code == 403
    assert client.get("/api/v1/customers/").status_code in {401, 403}


def test_customer_list_and_detail(api_client_for, agent):
    customer = CustomerFactory(name="Ada")
    api = api_client_for(agent)
    assert [c["id"] for c in api.get("/api/v1/customers/").json()["results"]] == [customer.pk]
    assert api.get(f"/api/v1/customers/{customer.pk}/").json()["name"] == "Ada"
    assert api.get(f"/api/v1/customers/{customer.pk + 99}/").status_code == 404


def test_events_are_ingested_idempotently(api_client_for, agent):
    customer = CustomerFactory(email="ada@client.example", external_id="u-1")
    events = [
        {"event_id": "e1", "kind": "login", "occurred_at": "2026-11-20T10:00:00Z",
         "customer_email": "ada@client.example"},
        {"event_id": "e2", "kind": "error", "occurred_at": "2026-11-20T10:05:00Z", "customer_external_id": "u-1",
         "properties": {"code": 500}},
    ]  # fmt: skip
    api = api_client_for(agent)
    first = api.post("/api/v1/events/", {"events": events}, format="json")
    assert first.status_code == 200
    body = first.json()
    assert (body["accepted"], body["duplicates"], body["created"]) == (2, 0, 2)
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    second = api.post("/api/v1/events/", {"events": events}, format="json")
    assert second.status_code == 200
    assert (second.json()["accepted"], second.json()["duplicates"]) == (0, 2)
    assert CustomerEvent.objects.filter(customer=customer).count() == 2
    customer.refresh_from_db()
    assert customer.last_seen_at.isoformat() == "2026-11-20T10:00:00+00:00"


def test_each_row_gets_its_own_result_and_one_bad_row_does_not_refuse_the_batch(api_client_for, agent):
    ada = CustomerFactory(email="ada@client.example", external_id="u-1")
    CustomerEvent.objects.create(event_id="old", customer=ada, kind="login", occurred_at="2026-11-01T10:00:00Z")
    at = "2026-11-20T10:00:00Z"
    events = [
        {"event_id": "e1", "kind": "login", "occurred_at": at, "customer_id": ada.pk},
        {"event_id": "e1", "kind": "login", "occurred_at": at, "customer_email": "ADA@client.example"},
        {"event_id": "old", "kind": "login", "occurred_at": at, "customer_external_id": "u-1"},
        {"event_id": "e3", "kind": "login", "occurred_at": at, "customer_email": "nobody@client.example"},
        {"event_id": "e4", "kind": "Bad Kind!", "occurred_at": "yesterday", "customer_id": ada.pk},
        {"event_id": "e5", "kind": "login", "occurred_at": at},
        "not an object",
    ]
    response = api_client_for(agent).post("/api/v1/events/", {"events": events}, format="json")
    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["unknown_customer"], body["invalid"]) == (1, 2, 1, 3)
    results = body["results"]
    assert [(r["index"], r["event_id"], r["status"]) for r in results] == [
        (0, "e1", "accepted"),
        (1, "e1", "duplicate"),
        (2, "old", "duplicate"),
        (3, "e3", "unknown_customer"),
        (4, "e4", "invalid"),
        (5, "e5", "invalid"),
        (6, "", "invalid"),
    ]
    assert results[1]["errors"] == {"event_id": ["Repeats the row at index 0."]}
    assert results[3]["errors"] == {"customer": ["No such customer."]}
    assert set(results[4]["errors"]) == {"kind", "occurred_at"}
    assert "customer" in results[5]["errors"]
    assert sorted(CustomerEvent.objects.values_list("event_id", flat=True)) == ["e1", "old"]


def test_a_batch_costs_a_constant_number_of_queries(api_client_for, agent, django_assert_num_queries):
    customers = [CustomerFactory(external_id=f"u-{i}") for i in range(40)]
    api = api_client_for(agent)

    def batch(prefix, n):
        refs = [
            lambda c: {"customer_id": c.pk},
            lambda c: {"customer_email": c.email.upper()},
            lambda c: {"customer_external_id": c.external_id},
        ]
        return [
            {"event_id": f"{prefix}{i}", "kind": ["login", "error"][i // 40 % 2],
             "occurred_at": f"2026-11-20T{10 + i // 60 % 10}:{i % 60:02d}:00Z",
             **refs[i % 3](customers[i % len(customers)])}
            for i in range(n)
        ]  # fmt: skip

    api.post("/api/v1/events/", {"events": batch("warm", 1)}, format="json")  # the token's first look-ups
    # auth (token + user) 2, savepoint and release 2, serial plans 1, customers resolved 1, the insert with
    # the last-seen touch 1; the generic path (SQLite) looks up stored ids first and touches apart, and splits a large
    # insert by SQLite's limit on parameters, so only its small batch has a fixed count
    postgres = connection.vendor == "postgresql"
    with django_assert_num_queries(7 if postgres else 8):
        small = api.post("/api/v1/events/", {"events": batch("a", 5)}, format="json")
    large_batch = batch("b", 1000)
    large_batch[999] = dict(large_batch[0])  # a repeat inside the batch
    with django_assert_num_queries(7) if postgres else CaptureQueriesContext(connection) as captured:
        large = api.post("/api/v1/events/", {"events": large_batch}, format="json")
    assert (small.json()["accepted"], large.json()["accepted"], large.json()["duplicates"]) == (5, 999, 1)
    assert large.json()["results"][999]["errors"] == {"event_id": ["Repeats the row at index 0."]}
    assert CustomerEvent.objects.filter(event_id__startswith="b").count() == 999
    if postgres:
        assert sum("INSERT" in q["sql"] for q in captured.captured_queries) == 1
    # the touch: each customer's last seen is their latest login stored (rows i = k + 40m, m even, i < 999)
    for k, customer in enumerate(customers):
        latest = max((10 + i // 60 % 10, i % 60) for i in range(k, 999, 40) if i // 40 % 2 == 0)
        customer.refresh_from_db()
        assert customer.last_seen_at == dt.datetime(2026, 11, 20, *latest, tzinfo=dt.UTC)


def test_a_body_that_is_not_a_batch_is_a_400(api_client_for, agent):
    api = api_client_for(agent)
    assert api.post("/api/v1/events/", {"events": []}, format="json").status_code == 400
    assert api.post("/api/v1/events/", {"events": "x"}, format="json").status_code == 400
    too_many = [{"event_id": str(i)} for i in range(1001)]
    assert api.post("/api/v1/events/", {"events": too_many}, format="json").status_code == 400
    assert CustomerEvent.objects.count() == 0


def test_the_openapi_schema_lists_the_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/customers/", "/api/v1/events/", "/api/v1/organizations/"} <= set(paths)


def test_an_agent_gets_an_api_token_with_email_and_password(client, agent):
    response = client.post("/api/v1/auth/token/", {"username": agent.email, "password": "pw-123456"})
    assert response.status_code == 200
    token = response.json()["token"]
    listing = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listing.status_code == 200


def test_a_wrong_password_gets_no_token(client, agent):
    response = client.post("/api/v1/auth/token/", {"username": agent.email, "password": "wrong"})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["extra"]["fields"]
