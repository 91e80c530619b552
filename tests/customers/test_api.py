import pytest

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
    assert first.status_code == 202
    assert first.json() == {"created": 2, "duplicates": 0}
    second = api.post("/api/v1/events/", {"events": events}, format="json")
    assert second.json() == {"created": 0, "duplicates": 2}
    assert CustomerEvent.objects.filter(customer=customer).count() == 2
    customer.refresh_from_db()
    assert customer.last_seen_at.isoformat() == "2026-11-20T10:00:00+00:00"


def test_events_with_an_unknown_customer_are_a_400_and_store_nothing(api_client_for, agent):
    events = [
        {"event_id": "e1", "kind": "login", "occurred_at": "2026-11-20T10:00:00Z", "customer_email": "x@y.example"}
    ]
    response = api_client_for(agent).post("/api/v1/events/", {"events": events}, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["events"] == {"0": {"customer": ["No such customer."]}}
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
