"""Merging across requesters: confirmed first, and nothing one customer wrote reaches the other (#9, item 14)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from core.exceptions import ApplicationError
from customers.models import Delivery
from tests.factories import CustomerUserFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Attachment, Message, Status, Ticket
from tickets.services import ticket_customer_reply, ticket_merge, ticket_reply
from tickets.services.requests import request_link

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def queue(agent):
    queue = QueueFactory()
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


@pytest.fixture
def xavier():
    return CustomerUserFactory(name="Xavier Source").customer


@pytest.fixture
def yvonne():
    return CustomerUserFactory(name="Yvonne Target").customer


@pytest.fixture
def pair(queue, xavier, yvonne):
    """#A from Xavier (with a secret and an attachment), #B from Yvonne."""
    source = make_ticket(
        queue=queue,
        requester=xavier,
        subject="My invoice",
        body="My card number is 4111 secret-of-xavier",
        attachments=[SimpleUploadedFile("card.png", PNG, content_type="image/png")],
    )
    target = make_ticket(queue=queue, requester=yvonne, subject="Billing question", body="Yvonne asks")
    return source, target


def _help_client(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


# --- the service --------------------------------------------------------------------------------------


def test_merging_across_requesters_needs_confirmation_and_changes_nothing_without_it(agent, pair):
    source, target = pair
    with pytest.raises(ApplicationError) as raised:
        ticket_merge(source=source, target=target, actor=agent)
    extra = raised.value.extra
    assert extra["confirm_required"] is True
    assert (extra["source_requester"]["name"], extra["target_requester"]["name"]) == ("Xavier Source", "Yvonne Target")
    assert "Xavier Source" in raised.value.message
    assert "Yvonne Target" in raised.value.message
    source.refresh_from_db()
    assert (source.status, source.merged_into_id) == (Status.NEW, None)
    assert Message.objects.filter(ticket=target).count() == 1


def test_a_confirmed_merge_across_requesters_gives_the_target_internal_notes_only(agent, pair, xavier, yvonne):
    source, target = pair
    merged = ticket_merge(source=source, target=target, actor=agent, confirm=True)
    public = merged.messages.filter(is_internal=False)
    assert list(public.values_list("body", flat=True)) == ["Yvonne asks"]
    notes = merged.messages.filter(is_internal=True, moved_from=source)
    assert notes.count() == 1
    note = notes.get()
    assert "secret-of-xavier" in note.body
    assert "Xavier Source" in note.body
    assert note.attachments.get().filename == "card.png"
    # Xavier keeps his own conversation, and is not copied on Yvonne's ticket
    assert list(source.messages.values_list("body", flat=True)) == ["My card number is 4111 secret-of-xavier"]
    assert not merged.ccs.filter(pk=xavier.pk).exists()
    assert merged.requester == yvonne
    source.refresh_from_db()
    assert (source.status, source.merged_into_id) == (Status.CLOSED, target.pk)


def test_after_a_merge_across_requesters_neither_customer_gets_the_other_ones_mail(agent, pair, xavier, yvonne):
    source, target = pair
    ticket_merge(source=source, target=target, actor=agent, confirm=True)
    ticket_reply(ticket=target, author=agent, body="Answer for Yvonne")
    recipients = set(Delivery.objects.filter(source=f"ticket:{target.pk}").values_list("recipient", flat=True))
    assert recipients == {yvonne.email}
    # Xavier's reply to his merged ticket opens a follow-up of his own, not a message on Yvonne's
    message = ticket_customer_reply(ticket=source, body="Xavier again: secret-2", customer=xavier)
    assert message.ticket_id not in (source.pk, target.pk)
    assert message.ticket.requester == xavier
    assert message.ticket.follow_up_of_id == source.pk
    assert not Message.objects.filter(ticket=target, body__contains="secret-2").exists()


def test_a_merge_with_one_requester_still_moves_the_messages_without_asking(agent, queue, xavier):
    source = make_ticket(queue=queue, requester=xavier, subject="Again")
    target = make_ticket(queue=queue, requester=xavier, subject="First")
    merged = ticket_merge(source=source, target=target, actor=agent)
    assert merged.messages.filter(moved_from=source, is_internal=False).count() == 1
    assert ticket_customer_reply(ticket=source, body="Hello?").ticket_id == target.pk


# --- the help center --------------------------------------------------------------------------------------


def test_the_target_requester_sees_none_of_the_source_in_the_help_center(agent, pair, xavier, yvonne):
    source, target = pair
    ticket_merge(source=source, target=target, actor=agent, confirm=True)
    attachment = Attachment.objects.filter(message__ticket=target).get()
    for url in (reverse("help-request-detail", args=[target.pk]), request_link(ticket=target)):
        page = _help_client(yvonne).get(url).content.decode()
        assert "Yvonne asks" in page
        assert "secret-of-xavier" not in page
        assert "card.png" not in page
    assert (
        _help_client(yvonne).get(reverse("help-request-attachment", args=[target.pk, attachment.pk])).status_code == 404
    )
    # and Xavier cannot reach Yvonne's ticket by any route
    assert _help_client(xavier).get(reverse("help-request-detail", args=[target.pk])).status_code == 404
    own = _help_client(xavier).get(reverse("help-request-detail", args=[source.pk])).content.decode()
    assert "secret-of-xavier" in own
    assert "Yvonne asks" not in own


# --- the page -------------------------------------------------------------------------------------------


def test_the_page_asks_naming_both_customers_then_merges_on_confirm(agent_client, pair):
    source, target = pair
    url = reverse("agent-ticket-merge", args=[source.pk])
    asked = agent_client.post(url, {"into": target.reference, "expected_version": source.version})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert 'id="merge-confirm"' in page
    assert "Xavier Source" in page
    assert "Yvonne Target" in page
    assert f'name="confirm" value="{target.number}"' in page
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None
    done = agent_client.post(
        url, {"into": target.reference, "expected_version": source.version, "confirm": target.number}
    )
    assert done.status_code == 302
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk
    assert Message.objects.filter(ticket=target, is_internal=False).count() == 1


def test_a_confirmation_given_for_one_target_does_not_merge_into_another(agent_client, pair, queue):
    source, target = pair
    other = make_ticket(queue=queue, subject="Someone else")
    response = agent_client.post(
        reverse("agent-ticket-merge", args=[source.pk]),
        {"into": other.reference, "expected_version": source.version, "confirm": target.number},
    )
    assert response.status_code == 200
    assert 'id="merge-confirm"' in response.content.decode()
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None


# --- the API --------------------------------------------------------------------------------------------


def test_the_api_answers_400_naming_both_customers_until_confirmed(agent, api_client_for, pair):
    source, target = pair
    api = api_client_for(agent)
    url = reverse("api-ticket-merge", args=[source.pk])
    response = api.post(url, {"into": target.pk}, format="json")
    assert response.status_code == 400
    extra = response.json()["extra"]
    assert extra["confirm_required"] is True
    assert extra["target_requester"]["name"] == "Yvonne Target"
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None
    response = api.post(url, {"into": target.pk, "confirm": True}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == target.pk
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk


def test_the_api_merge_validates_and_hides_what_the_agent_cannot_see(agent, api_client_for, pair, customer_user):
    source, target = pair
    url = reverse("api-ticket-merge", args=[source.pk])
    assert api_client_for(agent).post(url, {"into": "x"}, format="json").status_code == 400
    hidden = make_ticket(subject="Another queue")  # a queue the agent is not in
    assert api_client_for(agent).post(url, {"into": hidden.pk, "confirm": True}, format="json").status_code == 404
    assert api_client_for(customer_user).post(url, {"into": target.pk}, format="json").status_code == 403
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None
