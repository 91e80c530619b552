"""What a customer may do and see through the tickets API: what the help center lets them, nothing more."""

import pytest

from customers.models import Delivery
from tests.factories import AgentFactory, CustomerUserFactory, ProductFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Channel, Priority, Ticket

pytestmark = pytest.mark.django_db

#: fields only agents see: the help center shows none of them to the requester
INTERNAL_TICKET_FIELDS = {
    "priority", "kind", "channel", "queue", "assignee", "tags", "custom_fields", "version", "first_agent_reply_at",
    "reopen_count", "first_reply_due_at", "next_reply_due_at", "resolution_due_at", "next_sla_due_at", "merged_into",
}  # fmt: skip


@pytest.fixture
def customer_user():
    return CustomerUserFactory(name="Ann Lee")


@pytest.fixture
def worked_ticket(customer_user, agent):
    """The customer's ticket after an agent worked it: assigned, tagged churn-risk, an internal field set."""
    queue = QueueFactory(slug="billing")
    QueueMembershipFactory(queue=queue, agent=agent)
    ticket = make_ticket(queue=queue, requester=customer_user.customer, tags=["churn-risk"])
    Ticket.objects.filter(pk=ticket.pk).update(
        assignee=agent, custom_fields={"contract_value": 48000}, priority=Priority.URGENT
    )
    return ticket


def test_a_customer_reads_their_ticket_without_internal_data(api_client_for, customer_user, worked_ticket, agent):
    api = api_client_for(customer_user)
    for body in (
        api.get(f"/api/v1/tickets/{worked_ticket.pk}/").json(),
        api.get("/api/v1/tickets/").json()["results"][0],
    ):
        assert set(body) == {"id", "number", "reference", "subject", "status", "status_label", "requester",
                             "created_at", "updated_at", "solved_at", "closed_at"}  # fmt: skip
        assert not INTERNAL_TICKET_FIELDS & set(body)
        assert body["status"] == "open"
        assert body["status_label"] == "Open"
        assert body["requester"] == {"name": "Ann Lee"}
        text = str(body)
        assert "churn-risk" not in text
        assert "48000" not in text
        assert agent.email not in text


def test_an_agent_still_reads_the_whole_ticket(api_client_for, worked_ticket, agent):
    body = api_client_for(agent).get(f"/api/v1/tickets/{worked_ticket.pk}/").json()
    assert body["tags"] == ["churn-risk"]
    assert body["custom_fields"] == {"contract_value": 48000}
    assert body["assignee"]["email"] == agent.email
    assert body["priority"] == "urgent"


def test_a_customer_reads_messages_with_the_agent_by_first_name_only(api_client_for, customer_user, worked_ticket):
    agent = AgentFactory(name="Sam Rivers", email="sam.rivers@support.example")
    QueueMembershipFactory(queue=worked_ticket.queue, agent=agent)
    api_client_for(agent).post(f"/api/v1/tickets/{worked_ticket.pk}/messages/", {"body": "On it."}, format="json")
    api_client_for(agent).post(
        f"/api/v1/tickets/{worked_ticket.pk}/messages/", {"body": "VIP, be nice", "internal": True}, format="json"
    )
    messages = api_client_for(customer_user).get(f"/api/v1/tickets/{worked_ticket.pk}/messages/").json()
    assert [(m["author"], m["body"]) for m in messages] == [
        ("Ann Lee", "It says my password is wrong."),
        ("Sam (support)", "On it."),
    ]
    assert set(messages[0]) == {"id", "author", "by_agent", "body", "body_html", "attachments", "created_at"}
    assert "sam.rivers@support.example" not in str(messages)


def test_a_customer_creates_a_ticket_like_the_help_center_form(api_client_for, customer_user):
    QueueFactory(slug="support")
    product = ProductFactory(slug="mobile-app")
    api = api_client_for(customer_user)
    response = api.post(
        "/api/v1/tickets/", {"subject": "App crashes", "body": "On start.", "product": "mobile-app"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["status"] == "open"
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert ticket.requester == customer_user.customer
    assert ticket.channel == Channel.API
    assert ticket.priority == Priority.NORMAL
    assert sorted(t.name for t in ticket.tags.all()) == [f"product-{product.slug}"]
    # the confirmation the help center sends, through the ledger
    assert Delivery.objects.filter(source=f"ticket:{ticket.pk}", customer=customer_user.customer).count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "urgent"),
        ("queue", "billing"),
        ("kind", "incident"),
        ("tags", ["vip"]),
        ("assignee_email", "agent0@support.example"),
        ("custom_fields", {"contract_value": 1}),
        ("requester_email", "someone-else@client.example"),
        ("status", "solved"),
    ],
)
def test_a_customer_cannot_set_what_agents_decide(api_client_for, customer_user, field, value):
    QueueFactory(slug="billing")
    api = api_client_for(customer_user)
    response = api.post("/api/v1/tickets/", {"subject": "Help", "body": "Please", field: value}, format="json")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]
    assert Ticket.objects.count() == 0


def test_customers_create_tickets_through_the_api_as_fast_as_through_the_form(api_client_for, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_SUBMIT": "3/m"}
    QueueFactory(slug="support")
    user = CustomerUserFactory()
    api = api_client_for(user)
    answers = [
        api.post("/api/v1/tickets/", {"subject": f"S{n}", "body": "B"}, format="json").status_code for n in range(4)
    ]
    assert answers == [201, 201, 201, 429]
    throttled = api.post("/api/v1/tickets/", {"subject": "S", "body": "B"}, format="json")
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert Ticket.objects.count() == 3
    # reading is not limited, nor is another customer
    assert api.get("/api/v1/tickets/").status_code == 200
    other = api_client_for(CustomerUserFactory())
    assert other.post("/api/v1/tickets/", {"subject": "S", "body": "B"}, format="json").status_code == 201


def test_agents_are_not_limited_by_the_customer_limit(api_client_for, agent, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_SUBMIT": "1/m"}
    QueueMembershipFactory(queue=QueueFactory(slug="support"), agent=agent)
    api = api_client_for(agent)
    for n in range(3):
        body = {"subject": f"S{n}", "body": "B", "requester_email": "c@client.example", "queue": "support"}
        assert api.post("/api/v1/tickets/", body, format="json").status_code == 201
