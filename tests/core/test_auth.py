import re

import pytest
from django.core import mail
from django.urls import reverse

from customers.models import Delivery
from tests.factories import AgentFactory, CustomerUserFactory

pytestmark = pytest.mark.django_db


def test_an_agent_signs_in_by_email_in_any_case_and_lands_in_the_workspace(client):
    AgentFactory(email="alex@support.example")
    response = client.post(reverse("login"), {"username": "Alex@Support.Example", "password": "pw-123456"})
    assert response.status_code == 302
    assert response["Location"] == reverse("agent-home")
    assert client.get(reverse("agent-customer-list")).status_code == 200


def test_a_customer_signs_in_and_lands_in_the_help_center(client):
    CustomerUserFactory(email="casey@client.example")
    response = client.post(reverse("login"), {"username": "casey@client.example", "password": "pw-123456"})
    assert response["Location"] == reverse("help-home")


def test_a_wrong_password_keeps_the_email_and_says_why(client):
    AgentFactory(email="alex@support.example")
    response = client.post(reverse("login"), {"username": "alex@support.example", "password": "nope"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "do not match an account" in body
    assert 'value="alex@support.example"' in body
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post(agent_client):
    response = agent_client.post(reverse("logout"))
    assert response.status_code == 302
    assert agent_client.get(reverse("agent-customer-list")).status_code == 302


def test_password_reset_goes_through_the_delivery_ledger_and_the_link_works(client, django_capture_on_commit_callbacks):
    user = AgentFactory(email="alex@support.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "alex@support.example"})
    assert response.status_code == 302
    delivery = Delivery.objects.get()
    assert (delivery.category, delivery.recipient, delivery.status) == ("service", user.email, "sent")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-Much-better-pw-42", "new_password2": "a-Much-better-pw-42"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-Much-better-pw-42")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("password_reset"), {"email": "who@nowhere.example"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert Delivery.objects.count() == 0


def test_the_root_sends_agents_to_the_workspace_and_others_to_the_help_center(client, agent_client):
    assert client.get("/")["Location"] == reverse("help-home")
    assert agent_client.get("/")["Location"] == reverse("agent-home")


def test_the_agent_workspace_is_a_404_for_a_customer_and_a_sign_in_for_anonymous(client, customer_client):
    assert customer_client.get(reverse("agent-customer-list")).status_code == 404
    response = client.get(reverse("agent-customer-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_pages_carry_csrf_for_htmx_and_load_htmx_from_static(agent_client):
    body = agent_client.get(reverse("agent-customer-list")).content.decode()
    assert 'hx-headers=\'{"x-csrftoken": "' in body
    assert "/static/vendor/htmx-2.0.11.min.js" in body
    assert "unpkg" not in body
    assert "cdn" not in body.lower()


@pytest.mark.parametrize("url_name", ["password_reset", "help-sign-up"])  # sign-in: tests/core/test_sign_in_limits.py
def test_public_account_forms_are_rate_limited_per_client(client, settings, url_name):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_SIGN_IN": "3/m"}
    for _ in range(3):
        assert client.post(reverse(url_name), {"username": "x@y.example", "email": "x@y.example"}).status_code != 429
    response = client.post(reverse(url_name), {"username": "x@y.example", "email": "x@y.example"})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert client.get(reverse(url_name)).status_code == 200  # reading the form is never limited
