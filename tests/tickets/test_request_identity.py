"""A request in someone's name grants nothing without their mailbox: links by mail only, expiring, renewable."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from customers.models import Delivery
from customers.services import customer_sign_up, user_email_verify
from tests.factories import AgentFactory, CustomerFactory, CustomerUserFactory
from tests.tickets.factories import QueueFactory, make_ticket
from tickets.models import Ticket
from tickets.services import ticket_reply

pytestmark = pytest.mark.django_db

PASSWORD = "Analytical-Engine-1843"


@pytest.fixture(autouse=True)
def default_queue():
    return QueueFactory(name="Support", slug="support")


def _file(client, email, subject="Refund please", capture=None):
    data = {"email": email, "name": "Mallory", "subject": subject, "description": "Send it to me."}
    if capture is None:
        return client.post(reverse("help-request-create"), data)
    with capture(execute=True):
        return client.post(reverse("help-request-create"), data)


def _links(body: str) -> list[str]:
    return re.findall(r"https?://[^/\s]+(/help/r/[^/\s]+/)", body)


# --- anonymous requests in someone's name --------------------------------------------------------------


def test_an_anonymous_request_in_a_registered_customers_name_shows_no_link_and_is_marked_unverified(
    client, django_capture_on_commit_callbacks
):
    owner = CustomerUserFactory(email="owner@client.example")
    response = _file(client, "owner@client.example", capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == reverse("help-request-sent")
    page = client.get(response["Location"])
    body = page.content.decode()
    assert "We've sent you a link" in body
    assert "/help/r/" not in body
    ticket = Ticket.objects.get()
    assert ticket.requester.user_id == owner.pk
    assert ticket.requester_unverified is True
    assert ticket.submitted_by_id is None
    # the filer sees nothing of the agent's answer
    ticket_reply(ticket=ticket, author=AgentFactory(), body="Your account number is 4711.")
    for path in (reverse("help-request-list"), reverse("help-request-detail", args=[ticket.pk])):
        assert "4711" not in client.get(path).content.decode()
    # the link is in the owner's mailbox, and works there
    (link,) = _links(next(m.body for m in mail.outbox if "We received your request" in m.subject))
    assert mail.outbox[0].to == ["owner@client.example"]
    assert "4711" in Client().get(link).content.decode()


def test_an_anonymous_request_from_an_address_without_an_account_is_not_marked(client):
    _file(client, "someone@client.example")
    assert Ticket.objects.get().requester_unverified is False


def test_the_agent_sees_the_unverified_badge_on_the_ticket_and_in_the_queue(client, django_assert_max_num_queries):
    CustomerUserFactory(email="owner@client.example")
    _file(client, "owner@client.example")
    ticket = Ticket.objects.get()
    make_ticket(subject="A normal one")
    from tests.factories import ManagerFactory

    agent = Client()
    agent.force_login(ManagerFactory())
    detail = agent.get(reverse("agent-ticket-detail", args=[ticket.pk])).content.decode()
    assert "unverified requester" in detail
    queue = agent.get(reverse("agent-home") + "?view=all_open").content.decode()
    assert queue.count('class="tag unverified"') == 1


# --- unconfirmed accounts ---------------------------------------------------------------------------


def test_an_unconfirmed_account_files_follows_replies_and_solves_only_its_own_requests(
    django_capture_on_commit_callbacks,
):
    victim = CustomerFactory(email="victim@client.example")
    theirs = make_ticket(requester=victim, subject="Victim's own")
    user = customer_sign_up(email="victim@client.example", name="Stranger", password=PASSWORD)
    client = Client()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("help-request-create"), {"subject": "Mine", "description": "Filed by me."})
    mine = Ticket.objects.get(subject="Mine")
    assert response["Location"] == reverse("help-request-detail", args=[mine.pk])
    assert (mine.requester_id, mine.submitted_by_id, mine.requester_unverified) == (victim.pk, user.pk, True)
    listing = client.get(reverse("help-request-list")).content.decode()
    assert "Mine" in listing
    assert "Victim&#x27;s own" not in listing
    assert "Victim's own" not in listing
    assert client.get(reverse("help-request-detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("help-request-reply", args=[mine.pk]), {"body": "More detail"}).status_code == 302
    assert client.post(reverse("help-request-solve", args=[mine.pk])).status_code == 302
    mine.refresh_from_db()
    assert mine.status == "solved"
    assert mine.messages.filter(body="More detail").exists()
    theirs.refresh_from_db()
    assert theirs.status == "new"
    # once the address is proven, the whole record is theirs
    user_email_verify(user=user)
    client.force_login(user)
    assert "Victim" in client.get(reverse("help-request-list")).content.decode()


def test_a_request_moved_to_another_requester_leaves_the_unconfirmed_account_that_filed_it(client):
    user = customer_sign_up(email="new@client.example", name="New", password=PASSWORD)
    client.force_login(user)
    client.post(reverse("help-request-create"), {"subject": "Mine", "description": "x"})
    ticket = Ticket.objects.get()
    Ticket.objects.filter(pk=ticket.pk).update(requester=CustomerFactory())
    assert client.get(reverse("help-request-detail", args=[ticket.pk])).status_code == 404


def test_the_request_list_of_an_unconfirmed_account_takes_the_same_queries_for_1_or_5_requests(
    django_assert_num_queries, django_assert_max_num_queries
):
    user = customer_sign_up(email="new@client.example", name="New", password=PASSWORD)
    client = Client()
    client.force_login(user)
    client.post(reverse("help-request-create"), {"subject": "Mine 0", "description": "x"})
    client.get(reverse("help-request-list"))
    with django_assert_max_num_queries(12) as one:
        client.get(reverse("help-request-list"))
    count = len(one.captured_queries)
    for n in range(1, 5):
        client.post(reverse("help-request-create"), {"subject": f"Mine {n}", "description": "x"})
    with django_assert_num_queries(count):
        page = client.get(reverse("help-request-list"))
    assert page.content.decode().count("Mine ") == 5


# --- request links expire, and a new one comes by e-mail --------------------------------------------


def test_a_request_link_expires_after_its_setting_and_then_offers_a_new_one(
    client, travel, django_capture_on_commit_callbacks
):
    _file(client, "someone@client.example", capture=django_capture_on_commit_callbacks)
    (link,) = _links(mail.outbox[0].body)
    assert "works for 30 days" in mail.outbox[0].body
    travel(days=29)
    assert client.get(link).status_code == 200
    travel(days=31)
    expired = client.get(link)
    assert expired.status_code == 410
    assert "This link has expired" in expired.content.decode()
    assert client.post(f"{link}reply/", {"body": "late"}).status_code == 410
    assert client.post(f"{link}solve/").status_code == 410
    ticket = Ticket.objects.get()
    assert ticket.status == "new"
    assert ticket.messages.count() == 1


def test_a_new_link_is_sent_only_to_the_mailbox_and_the_answer_is_the_same_either_way(
    client, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(email="owner@client.example")
    ticket = make_ticket(requester=customer, subject="Still waiting")
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("help-request-link-new"), {"email": "Owner@client.example"})
        unknown = client.post(reverse("help-request-link-new"), {"email": "nobody@client.example"})
    assert known.status_code == unknown.status_code == 200
    assert "If owner@client.example has requests with us" in known.content.decode()
    assert "If nobody@client.example has requests with us" in unknown.content.decode()
    for response in (known, unknown):
        assert "/help/r/" not in response.content.decode()
    assert [m.to for m in mail.outbox] == [["owner@client.example"]]
    (link,) = _links(mail.outbox[0].body)
    assert "Still waiting" in Client().get(link).content.decode()
    assert f"/help/requests/{ticket.pk}/" not in mail.outbox[0].body


def test_asking_for_new_links_is_rate_limited_per_address_and_per_client(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_LINK_REQUEST": "1/h"}
    make_ticket(requester=CustomerFactory(email="owner@client.example"))
    links = Delivery.objects.filter(recipient="owner@client.example", subject__startswith="Your links")
    assert Client(REMOTE_ADDR="10.0.0.1").post(reverse("help-request-link-new"), {"email": "owner@client.example"})
    assert links.count() == 1
    links.delete()  # so that only the limit, not the ledger's per-minute key, can hold the next one back
    again = Client(REMOTE_ADDR="10.0.0.2").post(reverse("help-request-link-new"), {"email": "owner@client.example"})
    assert again.status_code == 200  # the same answer
    assert "If owner@client.example has requests with us" in again.content.decode()
    assert links.count() == 0  # but nothing sent: one mailbox is not flooded from many clients
    assert client.post(reverse("help-request-link-new"), {"email": "a@client.example"}).status_code == 200
    assert client.post(reverse("help-request-link-new"), {"email": "b@client.example"}).status_code == 429


def test_the_new_link_form_keeps_a_bad_address_and_says_why(client):
    response = client.post(reverse("help-request-link-new"), {"email": "not-an-address"})
    assert response.status_code == 400
    assert 'value="not-an-address"' in response.content.decode()


def test_an_unconfirmed_account_does_not_learn_the_name_held_for_the_address(client):
    CustomerFactory(email="victim@client.example", name="Victoria Secretname")
    user = customer_sign_up(email="victim@client.example", name="Stranger", password=PASSWORD)
    client.force_login(user)
    client.post(reverse("help-request-create"), {"subject": "Mine", "description": "x"})
    ticket = Ticket.objects.get()
    for path in (reverse("help-request-list"), reverse("help-request-detail", args=[ticket.pk])):
        assert "Secretname" not in client.get(path).content.decode()


def test_a_link_from_mail_sent_before_links_expired_offers_a_new_one(client):
    from django.core import signing

    ticket = make_ticket(subject="Old one")
    legacy = signing.dumps({"t": ticket.pk, "c": ticket.requester_id}, salt="tickets.request-link", compress=True)
    response = client.get(reverse("help-request-link", args=[legacy]))
    assert response.status_code == 410
    assert "Old one" not in response.content.decode()
    assert "This link has expired" in response.content.decode()
