import datetime as dt

import pytest
from django.urls import reverse

from core.models import User
from customers.models import ContactPreference, Customer
from tests.factories import CustomerEventFactory, CustomerFactory, CustomerUserFactory

pytestmark = pytest.mark.django_db


def test_customer_list_searches_and_pages_by_keyset(agent_client):
    for index in range(55):
        CustomerFactory(name=f"Zed {index:02}")
    CustomerFactory(name="Ada Lovelace", email="ada@math.example")
    page = agent_client.get(reverse("agent-customer-list"))
    assert page.status_code == 200
    assert page.context["page"].next_cursor is not None
    assert [c.name for c in page.context["page"].items][:1] == ["Ada Lovelace"]
    second = agent_client.get(reverse("agent-customer-list"), {"cursor": page.context["page"].next_cursor})
    assert [c.name for c in second.context["page"].items] == [
        "Zed 49",
        "Zed 50",
        "Zed 51",
        "Zed 52",
        "Zed 53",
        "Zed 54",
    ]
    found = agent_client.get(reverse("agent-customer-list"), {"q": "ada@"})
    assert [c.name for c in found.context["page"].items] == ["Ada Lovelace"]


def test_customer_list_htmx_returns_only_the_table(agent_client, htmx_headers):
    CustomerFactory(name="Ada Lovelace")
    response = agent_client.get(reverse("agent-customer-list"), {"q": "Ada"},
                                headers={**htmx_headers, "HX-Target": "customer-table"})  # fmt: skip
    body = response.content.decode()
    assert "Ada Lovelace" in body
    assert "<html" not in body
    assert 'id="customer-table"' in body


def test_customer_list_query_count_does_not_grow_with_rows(agent_client, django_assert_max_num_queries):
    CustomerFactory.create_batch(5)
    with django_assert_max_num_queries(6) as few:
        agent_client.get(reverse("agent-customer-list"))
    CustomerFactory.create_batch(40)
    with django_assert_max_num_queries(len(few.captured_queries)):
        agent_client.get(reverse("agent-customer-list"))


def test_customer_page_shows_events_and_messages_sent(agent_client):
    customer = CustomerFactory(name="Ada Lovelace")
    CustomerEventFactory(customer=customer, kind="export.run", occurred_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    customer.deliveries.create(idempotency_key="x", recipient=customer.email, category="outage", subject="We are down",
                               body="...", status="sent")  # fmt: skip
    body = agent_client.get(reverse("agent-customer-detail", args=[customer.pk])).content.decode()
    assert "export.run" in body
    assert "We are down" in body
    assert "Sent" in body


def test_customer_page_is_a_404_for_customers_and_unknown_ids(agent_client, customer_client):
    customer = CustomerFactory()
    assert customer_client.get(reverse("agent-customer-detail", args=[customer.pk])).status_code == 404
    assert agent_client.get(reverse("agent-customer-detail", args=[customer.pk + 1000])).status_code == 404


def test_customer_text_is_escaped(agent_client):
    customer = CustomerFactory(name="<script>alert(1)</script>")
    body = agent_client.get(reverse("agent-customer-detail", args=[customer.pk])).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_a_customer_chooses_what_we_may_send_and_when(customer_client, customer_user):
    response = customer_client.post(
        reverse("help-preferences"),
        {"receive": ["reminder", "follow_up"], "quiet_hours_start": "22:00", "quiet_hours_end": "07:00"},
    )
    assert response.status_code == 302
    preference = ContactPreference.objects.get(customer__user=customer_user)
    assert preference.opted_out == ["announcement", "maintenance", "onboarding"]
    assert preference.quiet_hours_start == dt.time(22)


def test_half_quiet_hours_are_refused_and_the_form_keeps_what_was_typed(customer_client, customer_user):
    response = customer_client.post(
        reverse("help-preferences"), {"receive": ["reminder"], "quiet_hours_start": "22:00"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Give both a start and an end" in body
    assert 'value="22:00"' in body
    assert not ContactPreference.objects.filter(customer__user=customer_user).exists()


def test_preferences_need_a_sign_in(client):
    response = client.get(reverse("help-preferences"))
    assert response.status_code == 302


def test_sign_up_with_an_existing_customer_address_grants_nothing_until_confirmed(client):
    existing = CustomerFactory(email="ada@client.example", name="Ada")
    response = client.post(
        reverse("help-sign-up"),
        {"name": "Ada L.", "email": "Ada@Client.example", "password1": "Analytical-Engine-1843",
         "password2": "Analytical-Engine-1843"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "We sent an e-mail to" in response.content.decode()
    assert "_auth_user_id" not in client.session  # not signed in: the same answer as for an existing account
    existing.refresh_from_db()
    assert existing.user is None  # the record is not theirs until the address is proven
    user = User.objects.get(email="ada@client.example")
    assert user.email_verified_at is None
    assert Customer.objects.count() == 1


def test_sign_up_with_a_taken_email_or_a_weak_password_keeps_what_was_typed(client):
    CustomerUserFactory(email="ada@client.example")
    response = client.post(
        reverse("help-sign-up"), {"name": "Ada", "email": "ada@client.example", "password1": "x", "password2": "x"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "too short" in body
    assert 'value="ada@client.example"' in body
    response = client.post(
        reverse("help-sign-up"),
        {"name": "Ada", "email": "ada@client.example", "password1": "Analytical-Engine-1843",
         "password2": "Analytical-Engine-1843"},
    )  # fmt: skip
    assert "exists already" not in response.content.decode()
    assert "We sent an e-mail to" in response.content.decode()
    assert User.objects.filter(email="ada@client.example").count() == 1
