"""Customers submit and follow requests in the help center."""

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer
from knowledge.models import SearchLog
from tests.factories import CustomerFactory, CustomerUserFactory
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import QueueFactory, make_ticket
from tickets.models import Message, Status, Ticket
from tickets.services import ticket_reply

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_queue():
    return QueueFactory(name="Support", slug="support")


def test_a_signed_in_customer_submits_a_request_with_an_attachment(
    customer_client, customer_user, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(
            reverse("help-request-create"),
            {"subject": "Export fails", "description": "The CSV export spins forever.", "attachments": [upload]},
        )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("help-request-detail", args=[ticket.pk])
    assert ticket.requester.user_id == customer_user.pk
    assert ticket.channel == "web"
    assert ticket.messages.get().attachments.get().filename == "screen.png"
    assert mail.outbox[0].subject.startswith(f"[{ticket.reference}] We received your request")
    page = customer_client.get(response["Location"])
    assert "The CSV export spins forever." in page.content.decode()


def test_an_anonymous_request_creates_or_links_the_customer_and_mails_a_signed_link(
    client, django_capture_on_commit_callbacks
):
    existing = CustomerFactory(email="ada@client.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("help-request-create"),
            {"email": "Ada@Client.example", "name": "Ada", "subject": "Login loop", "description": "It loops."},
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("help-request-sent")  # the link goes to the mailbox only
    assert Customer.objects.count() == 1
    ticket = Ticket.objects.get()
    assert ticket.requester_id == existing.pk
    link = re.search(r"https?://[^/\s]+(/help/r/\S+/)", mail.outbox[0].body).group(1)
    page = client.get(link)
    assert page.status_code == 200
    assert "It loops." in page.content.decode()


def test_a_tampered_link_or_a_changed_id_is_a_404(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("help-request-create"), {"email": "bo@client.example", "subject": "One", "description": "x"}
        )
    link = re.search(r"(/help/r/\S+/)", mail.outbox[0].body).group(1)
    token = link.split("/")[3]
    assert client.get(reverse("help-request-link", args=[token[:-2] + "xx"])).status_code == 404
    other = make_ticket(subject="Someone else's")
    from django.core import signing

    forged = signing.TimestampSigner(salt="wrong-salt").sign_object([other.pk, other.requester_id], compress=True)
    assert client.get(reverse("help-request-link", args=[forged])).status_code == 404


def test_a_validation_error_keeps_everything_typed(client):
    response = client.post(
        reverse("help-request-create"),
        {"email": "not-an-email", "subject": "Printer on fire", "description": "Smoke everywhere"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'value="Printer on fire"' in body
    assert "Smoke everywhere" in body
    assert "Enter a valid email address." in body
    assert Ticket.objects.count() == 0


def test_my_requests_lists_only_mine_and_another_customers_request_is_a_404(customer_client, customer_user):
    mine = make_ticket(requester=customer_user.customer, subject="Mine")
    theirs = make_ticket(subject="Theirs")
    body = customer_client.get(reverse("help-request-list")).content.decode()
    assert "Mine" in body
    assert "Theirs" not in body
    assert customer_client.get(reverse("help-request-detail", args=[theirs.pk])).status_code == 404
    assert customer_client.get(reverse("help-request-detail", args=[mine.pk])).status_code == 200


def test_the_public_thread_never_shows_internal_notes(customer_client, customer_user, agent):
    ticket = make_ticket(requester=customer_user.customer)
    Message.objects.create(
        ticket=ticket,
        author_user=agent,
        by_agent=True,
        is_internal=True,
        body="secret note",
        body_html="<p>secret note</p>",
    )
    body = customer_client.get(reverse("help-request-detail", args=[ticket.pk])).content.decode()
    assert "secret note" not in body


def test_a_customer_reply_reopens_a_pending_request(customer_client, customer_user, manager):
    ticket = make_ticket(requester=customer_user.customer)
    ticket_reply(ticket=ticket, author=manager, body="Can you send a screenshot?")
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    response = customer_client.post(reverse("help-request-reply", args=[ticket.pk]), {"body": "Here it is."})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_an_empty_reply_is_a_form_error(customer_client, customer_user):
    ticket = make_ticket(requester=customer_user.customer)
    response = customer_client.post(reverse("help-request-reply", args=[ticket.pk]), {"body": ""})
    assert response.status_code == 400
    assert ticket.messages.count() == 1


def test_the_requester_marks_the_request_solved(customer_client, customer_user):
    ticket = make_ticket(requester=customer_user.customer)
    response = customer_client.post(reverse("help-request-solve", args=[ticket.pk]))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED
    assert ticket.solved_at is not None


def test_attachments_of_public_messages_download_and_others_are_404(
    customer_client, customer_user, client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("log.txt", b"error 42", content_type="text/plain")
    with django_capture_on_commit_callbacks(execute=True):  # the file is written when the ticket commits
        ticket = make_ticket(requester=customer_user.customer, attachments=[upload])
    attachment = ticket.messages.get().attachments.get()
    url = reverse("help-request-attachment", args=[ticket.pk, attachment.pk])
    response = customer_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"error 42"
    client.force_login(CustomerUserFactory())
    assert client.get(url).status_code == 404


def test_suggestions_while_typing_are_logged_and_a_submit_marks_the_search(client):
    article = ArticleFactory(title="Exporting your data to CSV", status="published")
    response = client.get(reverse("help-request-suggest"), {"subject": "export csv"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert article.title in body
    log = SearchLog.objects.get()
    assert log.source == "request"
    assert f"?s={log.pk}" in body
    client.post(
        reverse("help-request-create"),
        {"email": "bo@client.example", "subject": "export csv", "description": "still stuck", "search_log": log.pk},
    )
    log.refresh_from_db()
    assert log.ticket_id == Ticket.objects.get().pk


def test_submitting_is_rate_limited(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_SUBMIT": "2/m"}
    for _ in range(2):
        client.post(reverse("help-request-create"), {"email": "x", "subject": "", "description": ""})
    response = client.post(reverse("help-request-create"), {"email": "x", "subject": "", "description": ""})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_the_product_chosen_tags_the_request(customer_client):
    from tests.factories import ProductFactory

    product = ProductFactory(name="Billing", slug="billing")
    customer_client.post(reverse("help-request-create"), {"subject": "Invoice", "description": "Wrong VAT",
                                                          "product": product.pk})  # fmt: skip
    assert list(Ticket.objects.get().tags.values_list("name", flat=True)) == ["product-billing"]


def test_opening_a_suggested_article_without_submitting_is_a_deflection(client):
    article = ArticleFactory(title="Exporting your data to CSV", status="published")
    client.get(reverse("help-request-suggest"), {"subject": "export csv"}, headers={"HX-Request": "true"})
    log = SearchLog.objects.get()
    client.get(reverse("help-article", args=[article.slug]), {"s": log.pk})
    log.refresh_from_db()
    assert log.opened_article_id == article.pk
    assert log.ticket_id is None  # opened, no request followed: deflected
    assert SearchLog.objects.filter(source="request", opened_article__isnull=False, ticket_id__isnull=True).count() == 1
