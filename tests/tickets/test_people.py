"""Who is this e-mail: people are resolved inside the service that needs them, in its transaction."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.exceptions import ApplicationError
from customers.models import Customer, Delivery
from tests.factories import AgentFactory, CustomerUserFactory, ManagerFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Ticket
from tickets.selectors import agent_by_email
from tickets.services import ticket_create, ticket_update

pytestmark = pytest.mark.django_db


def test_a_ticket_create_that_fails_after_finding_the_requester_leaves_no_customer():
    QueueFactory()
    # given a new requester's address and a CC the service refuses (after it has the requester)
    with pytest.raises(ApplicationError, match="valid e-mail"):
        ticket_create(requester_email="new@client.example", requester_name="New", subject="Hi", body="x",
                      ccs=["not-an-address"])  # fmt: skip
    # then neither the ticket nor the customer exists
    assert not Ticket.objects.exists()
    assert not Customer.objects.filter(email="new@client.example").exists()


def test_a_ticket_create_by_address_finds_or_creates_the_customer_and_its_ccs():
    QueueFactory()
    ticket = ticket_create(requester_email="Ada@Client.example", requester_name="Ada", subject="Hi", body="x",
                           ccs=["bob@client.example"])  # fmt: skip
    assert (ticket.requester.email, ticket.requester.name) == ("ada@client.example", "Ada")
    assert [c.email for c in ticket.ccs.all()] == ["bob@client.example"]
    again = ticket_create(requester_email="ada@client.example", subject="Again", body="y")
    assert again.requester_id == ticket.requester_id


def test_the_agent_page_failing_to_create_keeps_no_orphan_customer(client):
    agent = AgentFactory()
    queue = QueueFactory()
    QueueMembershipFactory(queue=queue, agent=agent)
    client.force_login(agent)
    disguised = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00", content_type="application/pdf")
    response = client.post(
        reverse("agent-ticket-create"),
        {"requester_email": "orphan@client.example", "subject": "Phone call", "body": "Wants a refund",
         "queue": queue.pk, "priority": "normal", "kind": "question", "attachments": [disguised]},
    )  # fmt: skip
    assert response.status_code == 200
    assert "orphan@client.example" in response.content.decode()  # the form keeps what was typed
    assert not Customer.objects.filter(email="orphan@client.example").exists()
    assert not Ticket.objects.exists()


def test_the_api_failing_to_create_keeps_no_orphan_customer(api_client_for):
    agent = ManagerFactory()  # and no queue exists to put the ticket in
    response = api_client_for(agent).post(
        "/api/v1/tickets/",
        {"subject": "Phone call", "body": "Wants a refund", "requester_email": "orphan@client.example"},
        format="json",
    )
    assert response.status_code == 400
    assert "no queue" in response.json()["message"]
    assert not Customer.objects.filter(email="orphan@client.example").exists()


def test_new_ccs_on_a_stale_change_are_not_created(client):
    agent = AgentFactory()
    queue = QueueFactory()
    QueueMembershipFactory(queue=queue, agent=agent)
    ticket = make_ticket(queue=queue)
    client.force_login(agent)
    data = {"status": "open", "priority": "normal", "kind": "question", "queue": queue.pk, "assignee": "",
            "tags": "", "ccs": "fresh@client.example", "expected_version": ticket.version - 1 or 99}  # fmt: skip
    client.post(reverse("agent-ticket-update", args=[ticket.pk]), data)
    assert not Customer.objects.filter(email="fresh@client.example").exists()
    ticket_update(ticket=ticket, actor=agent, ccs=["fresh@client.example"])
    assert [c.email for c in ticket.ccs.all()] == ["fresh@client.example"]


def test_one_lookup_of_an_agent_by_address():
    agent = AgentFactory(email="alex@support.example")
    CustomerUserFactory(email="cust@client.example")
    AgentFactory(email="gone@support.example", is_active=False)
    assert agent_by_email(email=" ALEX@support.example ") == agent
    assert agent_by_email(email="cust@client.example") is None  # a customer's account is no agent
    assert agent_by_email(email="gone@support.example") is None


def test_the_password_reset_mail_is_planned_in_the_ledger_once_per_token(client, django_capture_on_commit_callbacks):
    user = CustomerUserFactory(email="ada@client.example")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": "ada@client.example"})
    row = Delivery.objects.get(source=f"user:{user.pk}")
    assert (row.customer, row.recipient, row.category) == (user.customer, "ada@client.example", "service")
    assert row.idempotency_key.startswith(f"password-reset:{user.pk}:")
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body
