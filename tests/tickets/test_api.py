import pytest

from tests.factories import AgentFactory, CustomerFactory, CustomerUserFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(agent):
    queue = QueueFactory(slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


def test_agents_list_tickets_with_filters_and_a_cursor(api_client_for, agent, queue):
    for n in range(3):
        make_ticket(queue=queue, subject=f"Invoice {n}")
    make_ticket(queue=queue, subject="Login broken", priority="urgent")
    api = api_client_for(agent)
    body = api.get("/api/v1/tickets/", {"view": "all_open", "priority": "urgent"}).json()
    assert [t["subject"] for t in body["results"]] == ["Login broken"]
    assert body["results"][0]["reference"].startswith("#")
    assert body["next_cursor"] is None
    found = api.get("/api/v1/tickets/", {"q": "invoice", "sort": "priority"}).json()
    assert len(found["results"]) == 3


def test_the_requester_filter_matches_only_that_requester_and_an_unknown_address_matches_nothing(
    api_client_for, agent, queue
):
    ada = CustomerFactory(email="ada@math.example")
    make_ticket(queue=queue, requester=ada, subject="Ada's")
    make_ticket(queue=queue, subject="Someone else's")
    api = api_client_for(agent)
    found = api.get("/api/v1/tickets/", {"view": "all_open", "requester_email": "ADA@math.example"}).json()
    assert [t["subject"] for t in found["results"]] == ["Ada's"]
    nobody = api.get("/api/v1/tickets/", {"view": "all_open", "requester_email": "nobody@nowhere.example"})
    assert nobody.status_code == 200
    assert nobody.json()["results"] == []


def test_the_list_api_query_count_does_not_grow_with_rows(api_client_for, agent, queue, django_assert_max_num_queries):
    make_ticket(queue=queue)
    api = api_client_for(agent)
    api.get("/api/v1/tickets/")
    with django_assert_max_num_queries(10) as few:
        api.get("/api/v1/tickets/")
    for n in range(20):
        make_ticket(queue=queue, subject=f"T{n}", tags=["a", f"t{n}"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/api/v1/tickets/").json()["results"]) == 21


def test_an_agent_creates_a_ticket_for_a_requester(api_client_for, agent, queue):
    response = api_client_for(agent).post(
        "/api/v1/tickets/",
        {
            "subject": "Phone call",
            "body": "Wants a refund",
            "requester_email": "bo@client.example",
            "queue": "support",
            "tags": ["refund"],
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["requester"]["email"] == "bo@client.example"
    assert body["channel"] == "api"
    assert body["tags"] == ["refund"]


def test_create_validation_errors_are_per_field(api_client_for, agent, queue):
    response = api_client_for(agent).post(
        "/api/v1/tickets/", {"subject": "", "priority": "asap", "queue": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"subject", "body", "priority", "queue"}
    assert Ticket.objects.count() == 0


def test_an_agent_without_a_requester_gets_a_400(api_client_for, agent, queue):
    response = api_client_for(agent).post("/api/v1/tickets/", {"subject": "x", "body": "y"}, format="json")
    assert response.status_code == 400
    assert response.json()["extra"] == {"requester_email": "required for agents"}


def test_patch_updates_with_optimistic_concurrency(api_client_for, agent, queue):
    ticket = make_ticket(queue=queue)
    api = api_client_for(agent)
    response = api.patch(
        f"/api/v1/tickets/{ticket.pk}/",
        {"priority": "high", "assignee_email": agent.email, "expected_version": ticket.version},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["priority"] == "high"
    assert response.json()["assignee"]["email"] == agent.email
    stale = api.patch(
        f"/api/v1/tickets/{ticket.pk}/", {"priority": "low", "expected_version": ticket.version}, format="json"
    )
    assert stale.status_code == 400
    assert stale.json()["extra"]["conflict"] is True
    ticket.refresh_from_db()
    assert ticket.priority == "high"


def test_messages_list_and_create(api_client_for, agent, queue):
    ticket = make_ticket(queue=queue)
    api = api_client_for(agent)
    created = api.post(
        f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "Looking into it", "internal": True}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["is_internal"] is True
    listed = api.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()
    assert [m["body"] for m in listed] == ["It says my password is wrong.", "Looking into it"]
    assert api.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": ""}, format="json").status_code == 400


def test_a_customer_sees_only_their_tickets_and_never_internal_notes(api_client_for, agent, queue):
    user = CustomerUserFactory()
    mine = make_ticket(queue=queue, requester=user.customer)
    other = make_ticket(queue=queue)
    api_client_for(agent).post(
        f"/api/v1/tickets/{mine.pk}/messages/", {"body": "secret", "internal": True}, format="json"
    )
    api = api_client_for(user)
    assert [t["id"] for t in api.get("/api/v1/tickets/").json()["results"]] == [mine.pk]
    assert api.get(f"/api/v1/tickets/{other.pk}/").status_code == 404
    assert api.get(f"/api/v1/tickets/{other.pk}/messages/").status_code == 404
    bodies = [m["body"] for m in api.get(f"/api/v1/tickets/{mine.pk}/messages/").json()]
    assert "secret" not in bodies
    assert api.patch(f"/api/v1/tickets/{mine.pk}/", {"priority": "urgent"}, format="json").status_code == 403
    reply = api.post(f"/api/v1/tickets/{mine.pk}/messages/", {"body": "Any news?"}, format="json")
    assert reply.status_code == 201
    assert Message.objects.filter(ticket=mine, body="Any news?", by_agent=False).exists()


def test_an_agent_outside_the_queue_gets_a_404(api_client_for, queue):
    ticket = make_ticket(queue=queue)
    api = api_client_for(AgentFactory())
    assert api.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
    assert api.get("/api/v1/tickets/").json()["results"] == []


def test_anonymous_gets_a_401_or_403(client):
    assert client.get("/api/v1/tickets/").status_code in {401, 403}


def test_the_schema_lists_the_ticket_endpoints(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"/api/v1/tickets/", "/api/v1/tickets/{ticket_id}/", "/api/v1/tickets/{ticket_id}/messages/"} <= set(paths)
