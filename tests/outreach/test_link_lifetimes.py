"""Survey and unsubscribe links expire, each after its own window, and neither is any other kind of link."""

import pytest
from django.core import signing
from django.urls import reverse

from core.tokens import token_make
from customers.models import ContactPreference
from outreach.models import FollowUp
from outreach.services.followups import survey_token
from outreach.services.rendering import unsubscribe_token
from tests.factories import CustomerFactory
from tests.tickets.factories import QueueFactory, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def follow_up():
    ticket = make_ticket(requester=CustomerFactory(), subject="Printer on fire", queue=QueueFactory())
    return FollowUp.objects.create(ticket=ticket, customer=ticket.requester)


def test_a_survey_link_works_within_its_window_and_not_after(client, follow_up, travel):
    url = reverse("help-survey", args=[survey_token(follow_up.pk)])
    travel(days=29)
    assert client.get(url).status_code == 200
    travel(days=31)
    response = client.post(url, {"rating": "bad", "comment": "late"})
    assert response.status_code == 404
    assert "time to answer has passed" in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.answered_at is None


def test_a_request_link_token_is_not_a_survey_token(client, follow_up):
    # the same value, signed for following a request, opens no survey
    token = token_make(purpose="request", value=follow_up.pk)
    assert client.post(reverse("help-survey", args=[token]), {"rating": "bad"}).status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.answered_at is None


def test_a_survey_token_is_not_a_request_link(client, follow_up):
    token = token_make(purpose="survey", value=[follow_up.ticket_id, follow_up.customer_id])
    assert client.get(reverse("help-request-link", args=[token])).status_code == 404
    assert client.post(reverse("help-request-link-solve", args=[token])).status_code == 404
    follow_up.ticket.refresh_from_db()
    assert follow_up.ticket.status == "new"


def test_an_unsubscribe_link_still_works_after_60_days_and_expires_after_its_setting(client, travel):
    customer = CustomerFactory()
    url = reverse("help-unsubscribe", args=[unsubscribe_token(customer_id=customer.pk, category="announcement")])
    travel(days=181)
    assert client.post(url).status_code == 404
    assert not ContactPreference.objects.filter(customer=customer).exists()
    travel(days=61)
    assert client.post(url).status_code == 200
    assert ContactPreference.objects.get(customer=customer).opted_out == ["announcement"]


def test_an_unsubscribe_link_from_mail_sent_before_links_expired_still_opts_out(client):
    customer = CustomerFactory()
    legacy = signing.dumps([customer.pk, "announcement"], salt="outreach.unsubscribe", compress=True)
    assert client.post(reverse("help-unsubscribe", args=[legacy])).status_code == 200
    assert ContactPreference.objects.get(customer=customer).opted_out == ["announcement"]


def test_a_survey_token_is_not_an_unsubscribe_token(client):
    customer = CustomerFactory()
    token = token_make(purpose="survey", value=[customer.pk, "announcement"])
    assert client.post(reverse("help-unsubscribe", args=[token])).status_code == 404
    assert not ContactPreference.objects.filter(customer=customer).exists()


def test_rating_through_an_expired_request_link_offers_a_new_link_and_opens_no_survey(client, travel):
    from tickets.services.requests import request_link

    ticket = make_ticket(requester=CustomerFactory(), queue=QueueFactory())
    token = request_link(ticket=ticket).rstrip("/").rsplit("/", 1)[-1]
    travel(days=31)
    response = client.get(reverse("help-request-link-rate", args=[token]))
    assert response.status_code == 302
    assert response["Location"] == reverse("help-request-link-new")
    assert not FollowUp.objects.filter(ticket=ticket).exists()
