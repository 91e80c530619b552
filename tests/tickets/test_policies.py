"""tickets.policies: one table of who may see, reply to, solve, rate and download a ticket.

Each cell is checked three ways: the policy's answer, the visibility queryset's (for "see"), and what the
page does when that person tries (a ticket they may not see is a 404; one they see but may not act on is
left unchanged).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.services import customer_sign_up
from tests.factories import AgentFactory, CustomerFactory, CustomerUserFactory, OrganizationFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Message, Ticket
from tickets.policies import Action, Role, ticket_access, ticket_may, tickets_visible_to
from tickets.services.requests import request_submit

pytestmark = pytest.mark.django_db

Y, N = True, False
#: role -> (see, reply, solve, rate, download)
TABLE = {
    "agent": (Y, Y, Y, N, Y),
    "requester": (Y, Y, Y, Y, Y),
    "unverified requester": (Y, Y, Y, Y, Y),
    "cc": (Y, Y, N, N, Y),
    "organization member, opted in": (Y, Y, N, N, Y),
    "domain member, no opt-in": (N, N, N, N, N),
    "agent of another queue": (N, N, N, N, N),
    "stranger": (N, N, N, N, N),
}
ACTIONS = [Action.SEE, Action.REPLY, Action.SOLVE, Action.RATE, Action.DOWNLOAD]
CELLS = [(role, action, TABLE[role][n]) for role in TABLE for action in ACTIONS for n in [ACTIONS.index(action)]]


def _upload():
    return SimpleUploadedFile("shot.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")


def _setting(role, capture):
    """(the user trying, the ticket, whether they act on the agent's pages) for a role."""
    queue = QueueFactory()
    org = OrganizationFactory(shared_tickets=True, domain_members_see_tickets=role != "domain member, no opt-in")
    requester = CustomerFactory(organization=org, email="owner@acme.example")
    with capture(execute=True):  # the attachment's bytes are written on commit
        if role == "unverified requester":
            user = customer_sign_up(email="owner@acme.example", name="Owner", password="An-Unguessable-Pw-42")
            ticket, _ = request_submit(user=user, subject="Cannot log in", body="Help", attachments=[_upload()])
            Ticket.objects.filter(pk=ticket.pk).update(queue=queue)
        else:
            ticket = make_ticket(queue=queue, requester=requester, attachments=[_upload()])
    agent_pages = role.startswith("agent")
    if role == "agent":
        user = AgentFactory()
        QueueMembershipFactory(queue=queue, agent=user)
    elif role == "agent of another queue":
        user = AgentFactory()
        QueueMembershipFactory(queue=QueueFactory(), agent=user)
    elif role == "requester":
        user = CustomerUserFactory(email="person@acme.example")
        Ticket.objects.filter(pk=ticket.pk).update(requester=user.customer)
    elif role == "cc":
        user = CustomerUserFactory()
        ticket.ccs.add(user.customer)
    elif role.startswith(("organization member", "domain member")):
        user = CustomerUserFactory(customer__organization=org, customer__organization_by_domain=True)
    elif role == "stranger":
        user = CustomerUserFactory()
    return user, Ticket.objects.get(pk=ticket.pk), agent_pages


@pytest.mark.parametrize(("role", "action", "allowed"), CELLS, ids=[f"{r}-{a}" for r, a, _ in CELLS])
def test_the_table(role, action, allowed, django_capture_on_commit_callbacks):
    user, ticket, agent_pages = _setting(role, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(user)

    # the policy, and the queryset form lists use, agree with the table
    assert ticket_may(ticket=ticket, user=user, action=action) is allowed
    if action == Action.SEE:
        assert tickets_visible_to(user).filter(pk=ticket.pk).exists() is allowed

    # and so does every page that acts on it
    sees = TABLE[role][0]  # a ticket one may not see does not exist for them: a 404 whatever they try
    attachment = ticket.messages.get().attachments.get()
    if action == Action.SEE:
        url = reverse("agent-ticket-detail" if agent_pages else "help-request-detail", args=[ticket.pk])
        assert client.get(url).status_code == (200 if allowed else 404)
    elif action == Action.REPLY:
        if agent_pages:
            data = {"body": "From the table", "expected_version": ticket.version}
            response = client.post(reverse("agent-ticket-reply", args=[ticket.pk]), data)
        else:
            response = client.post(reverse("help-request-reply", args=[ticket.pk]), {"body": "From the table"})
        assert response.status_code == (302 if allowed else 404)
        assert Message.objects.filter(ticket=ticket, body="From the table").exists() is allowed
    elif action == Action.SOLVE:
        if agent_pages:
            data = {"body": "Fixed", "status": "solved", "expected_version": ticket.version}
            response = client.post(reverse("agent-ticket-reply", args=[ticket.pk]), data)
        else:
            response = client.post(reverse("help-request-solve", args=[ticket.pk]))
        assert response.status_code == (302 if sees else 404)  # seen but refused: back to the page, told why
        ticket.refresh_from_db()
        assert (ticket.status == "solved") is allowed
    elif action == Action.RATE:
        Ticket.objects.filter(pk=ticket.pk).update(status="solved", solved_at=timezone.now())
        response = client.get(reverse("help-request-rate", args=[ticket.pk]))
        assert response.status_code == (302 if allowed else 404)
        if allowed:
            assert response["Location"].startswith("/help/survey/")
    elif action == Action.DOWNLOAD:
        name = "agent-attachment" if agent_pages else "help-request-attachment"
        response = client.get(reverse(name, args=[ticket.pk, attachment.pk]))
        assert response.status_code == (200 if allowed else 404)


def test_a_customer_known_by_e_mail_or_link_gets_the_same_answers():
    org = OrganizationFactory(shared_tickets=True)
    requester, cc, colleague = (CustomerFactory(organization=org) for _ in range(3))
    ticket = make_ticket(requester=requester, ccs=[cc])
    stranger = CustomerFactory()
    roles = {c.pk: ticket_access(ticket=ticket, customer=c).role for c in (requester, cc, colleague, stranger)}
    assert roles == {
        requester.pk: Role.REQUESTER,
        cc.pk: Role.CC,
        colleague.pk: Role.ORGANIZATION,
        stranger.pk: Role.STRANGER,
    }
    assert ticket_access(ticket=ticket).role == Role.STRANGER  # nobody


def test_a_cc_sees_the_requests_they_are_copied_on_in_their_list(client):
    user = CustomerUserFactory()
    copied = make_ticket(ccs=[user.customer], subject="Copied on this")
    make_ticket(subject="Not mine")
    client.force_login(user)
    response = client.get(reverse("help-request-list"))
    assert [t.pk for t in response.context["page"].items] == [copied.pk]
    page = client.get(reverse("help-request-detail", args=[copied.pk])).content.decode()
    assert "Send reply" in page
    assert "My problem is solved" not in page  # the requester's


def test_the_customer_list_of_requests_takes_as_many_queries_for_2_or_5_with_ccs(client, django_assert_max_num_queries):
    user = CustomerUserFactory()
    make_ticket(requester=user.customer)
    make_ticket(ccs=[user.customer])
    client.force_login(user)
    client.get(reverse("help-request-list"))
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("help-request-list"))
    for _ in range(3):
        make_ticket(ccs=[user.customer, CustomerFactory()])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(reverse("help-request-list")).context["page"].items) == 5


def test_the_api_asks_the_same_policy(api_client_for):
    cc, stranger = CustomerUserFactory(), CustomerUserFactory()
    ticket = make_ticket(ccs=[cc.customer])
    url = f"/api/v1/tickets/{ticket.pk}/messages/"
    assert api_client_for(cc).post(url, {"body": "Copied, and adding this"}, format="json").status_code == 201
    assert api_client_for(stranger).post(url, {"body": "Let me in"}, format="json").status_code == 404
    assert api_client_for(stranger).get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
    assert [m.author_customer_id for m in ticket.messages.order_by("id")][1:] == [cc.customer.pk]


def test_the_services_refuse_a_cc_solving_or_rating_and_change_nothing():
    from core.exceptions import ApplicationError
    from tickets.services import ticket_rate
    from tickets.services.requests import ticket_customer_solve

    cc = CustomerFactory()
    ticket = make_ticket(ccs=[cc])
    with pytest.raises(ApplicationError, match="Only the requester"):
        ticket_customer_solve(ticket=ticket, customer=cc)
    Ticket.objects.filter(pk=ticket.pk).update(status="solved", solved_at=timezone.now())
    with pytest.raises(ApplicationError, match="Only the requester"):
        ticket_rate(ticket=ticket, score="good", customer=cc)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.events.filter(kind="rated").exists()) == ("solved", False)


def test_an_agent_cannot_reply_in_the_help_center_as_the_requester(client):
    agent = AgentFactory()
    queue = QueueFactory()
    QueueMembershipFactory(queue=queue, agent=agent)
    ticket = make_ticket(queue=queue)
    client.force_login(agent)
    assert client.get(reverse("help-request-detail", args=[ticket.pk])).status_code == 200  # they see it
    response = client.post(reverse("help-request-reply", args=[ticket.pk]), {"body": "Posing as the customer"})
    assert response.status_code == 404
    assert not Message.objects.filter(body="Posing as the customer").exists()
