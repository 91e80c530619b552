"""An e-mail address is proven before it grants anything: sign-up, confirmation, organization by domain."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from core.models import User
from core.tokens import token_make
from customers.models import Customer, Delivery
from customers.services import customer_get_or_create, customer_sign_up, user_email_verify
from tests.factories import (
    CustomerFactory,
    CustomerUserFactory,
    OrganizationDomainFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.tickets.factories import QueueFactory, make_ticket
from tickets.selectors import tickets_visible_to

pytestmark = pytest.mark.django_db

PASSWORD = "Analytical-Engine-1843"


@pytest.fixture(autouse=True)
def default_queue():
    return QueueFactory(name="Support", slug="support")


def _sign_up(client: Client, email: str, password: str = PASSWORD, name: str = "Mallory"):
    return client.post(
        reverse("help-sign-up"), {"name": name, "email": email, "password1": password, "password2": password}
    )


def _link(body: str, name: str = "confirm") -> str:
    return re.search(rf"https?://[^/\s]+(/help/{name}/\S+/)", body).group(1)


def _scrub(html: str) -> str:
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "CSRF", html)  # the CSRF token of the form and of htmx


# --- sign-up ---------------------------------------------------------------------------------------


def test_sign_up_with_a_victims_address_sees_none_of_their_tickets(client):
    victim = CustomerFactory(email="victim@client.example")
    make_ticket(requester=victim, subject="My invoice is wrong")
    _sign_up(client, "victim@client.example")
    stranger = User.objects.get(email="victim@client.example")
    # the stranger signs in with the password they chose
    assert client.login(username="victim@client.example", password=PASSWORD)
    page = client.get(reverse("help-request-list"))
    assert page.status_code == 200
    assert "My invoice is wrong" not in page.content.decode()
    assert tickets_visible_to(stranger).count() == 0
    victim.refresh_from_db()
    assert victim.user_id is None
    ticket = victim.tickets.get()
    assert client.get(reverse("help-request-detail", args=[ticket.pk])).status_code == 404
    assert client.post(reverse("help-request-solve", args=[ticket.pk])).status_code == 404
    assert client.post(reverse("help-request-reply", args=[ticket.pk]), {"body": "hijack"}).status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == "new"
    assert ticket.messages.count() == 1
    assert client.get(reverse("help-preferences")).status_code == 302  # nothing of the record either


def test_sign_up_mails_a_confirmation_link_through_the_ledger_on_the_transactional_queue(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _sign_up(client, "new@client.example")
    delivery = Delivery.objects.get()
    assert (delivery.recipient, delivery.category, delivery.status) == ("new@client.example", "service", "sent")
    assert delivery.subject == "Confirm your e-mail address"
    assert mail.outbox[0].to == ["new@client.example"]
    assert _link(mail.outbox[0].body).startswith("/help/confirm/")


def test_sign_up_answers_the_same_whether_or_not_the_address_has_an_account(client, django_capture_on_commit_callbacks):
    CustomerUserFactory(email="known@client.example")
    with django_capture_on_commit_callbacks(execute=True):
        known = _sign_up(client, "known@client.example")
        unknown = _sign_up(Client(), "unknown@client.example")
    assert known.status_code == unknown.status_code == 200
    assert _scrub(known.content.decode()).replace("known@", "X@") == _scrub(unknown.content.decode()).replace(
        "unknown@", "X@"
    )
    assert "exists" not in known.content.decode()
    # the next step is e-mailed either way: a confirmation link, or "sign in or reset your password"
    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert by_recipient["known@client.example"].subject == "You already have an account"
    assert "/accounts/password-reset/" in by_recipient["known@client.example"].body
    assert by_recipient["unknown@client.example"].subject == "Confirm your e-mail address"
    assert User.objects.filter(email="known@client.example").count() == 1


def test_repeated_sign_ups_for_an_existing_account_mail_it_at_most_once_an_hour():
    user = CustomerUserFactory(email="known@client.example")
    for _ in range(5):
        assert customer_sign_up(email="known@client.example", name="X", password=PASSWORD) is None
    assert Delivery.objects.filter(recipient=user.email).count() == 1
    user.refresh_from_db()
    assert user.check_password("pw-123456")  # nothing about the account changed


# --- confirmation ----------------------------------------------------------------------------------


def _signed_up_stranger_and_victim(client):
    victim = CustomerFactory(email="victim@client.example")
    make_ticket(requester=victim, subject="My invoice is wrong")
    _sign_up(client, "victim@client.example")
    delivery = Delivery.objects.get(subject="Confirm your e-mail address")
    return victim, _link(delivery.body)


def test_opening_the_link_changes_nothing_until_the_reader_confirms(client):
    _, link = _signed_up_stranger_and_victim(client)
    page = Client().get(link)  # a mail scanner, or the reader before clicking
    assert page.status_code == 200
    assert User.objects.get(email="victim@client.example").email_verified_at is None


def test_the_owner_confirms_by_choosing_a_password_and_the_strangers_password_and_session_die(client):
    victim, link = _signed_up_stranger_and_victim(client)
    stranger = Client()
    assert stranger.login(username="victim@client.example", password=PASSWORD)
    owner = Client()
    response = owner.post(
        f"{link}?new=1", {"new": "1", "new_password1": "Owners-Own-Secret-77", "new_password2": "Owners-Own-Secret-77"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("help-request-list")
    assert "My invoice is wrong" in owner.get(reverse("help-request-list")).content.decode()
    victim.refresh_from_db()
    user = User.objects.get(email="victim@client.example")
    assert victim.user_id == user.pk
    assert user.email_verified_at is not None
    assert not user.check_password(PASSWORD)
    assert stranger.get(reverse("help-request-list")).status_code == 302  # signed out: the password changed
    assert not Client().login(username="victim@client.example", password=PASSWORD)


def test_the_person_who_signed_up_confirms_with_their_password(client):
    _victim, link = _signed_up_stranger_and_victim(client)
    reader = Client()
    wrong = reader.post(link, {"password": "not-it"})
    assert wrong.status_code == 400
    assert "not the password" in wrong.content.decode()
    assert User.objects.get(email="victim@client.example").email_verified_at is None
    assert reader.post(link, {"password": PASSWORD}).status_code == 302
    assert User.objects.get(email="victim@client.example").email_verified_at is not None


def test_signed_in_as_the_account_one_click_confirms(client):
    _, link = _signed_up_stranger_and_victim(client)
    assert client.login(username="victim@client.example", password=PASSWORD)
    page = client.get(link)
    assert 'name="password"' not in page.content.decode()
    assert client.post(link).status_code == 302
    assert User.objects.get(email="victim@client.example").email_verified_at is not None


def test_a_used_link_cannot_set_the_password_again(client):
    _, link = _signed_up_stranger_and_victim(client)
    Client().post(f"{link}?new=1", {"new": "1", "new_password1": "Owners-Own-Secret-77",
                                    "new_password2": "Owners-Own-Secret-77"})  # fmt: skip
    again = Client().post(f"{link}?new=1", {"new": "1", "new_password1": "Attackers-Pick-9",
                                            "new_password2": "Attackers-Pick-9"})  # fmt: skip
    assert again.status_code == 200
    assert "confirmed already" in again.content.decode()
    assert User.objects.get(email="victim@client.example").check_password("Owners-Own-Secret-77")


def test_an_expired_link_confirms_nothing(client, travel):
    _, link = _signed_up_stranger_and_victim(client)
    travel(days=4)
    response = Client().post(f"{link}?new=1", {"new": "1", "new_password1": "Owners-Own-Secret-77",
                                               "new_password2": "Owners-Own-Secret-77"})  # fmt: skip
    assert response.status_code == 410
    user = User.objects.get(email="victim@client.example")
    assert user.email_verified_at is None
    assert user.check_password(PASSWORD)


def test_a_tampered_link_or_another_kind_of_token_is_a_404(client):
    _, link = _signed_up_stranger_and_victim(client)
    user = User.objects.get(email="victim@client.example")
    assert Client().get(link[:-3] + "xx/").status_code == 404
    survey = token_make(purpose="survey", value=[user.pk, user.email])
    request = token_make(purpose="request", value=[user.pk, user.email])
    for token in (survey, request):
        assert Client().post(reverse("help-verify-email", args=[token]), {"password": PASSWORD}).status_code == 404
    assert User.objects.get(pk=user.pk).email_verified_at is None


def test_a_link_for_an_address_the_account_no_longer_has_is_a_404():
    user = UserFactory(email="old@client.example")
    token = token_make(purpose="verify-email", value=[user.pk, "old@client.example"])
    User.objects.filter(pk=user.pk).update(email="new@client.example")
    assert Client().get(reverse("help-verify-email", args=[token])).status_code == 404


def test_a_password_reset_proves_the_address_too(client, django_capture_on_commit_callbacks):
    victim = CustomerFactory(email="victim@client.example")
    make_ticket(requester=victim, subject="My invoice is wrong")
    customer_sign_up(email="victim@client.example", name="Stranger", password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("password_reset"), {"email": "victim@client.example"})
    reset = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[-1].body).group(1)
    form = client.get(reset, follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": "Owners-Own-Secret-77",
                                             "new_password2": "Owners-Own-Secret-77"})  # fmt: skip
    user = User.objects.get(email="victim@client.example")
    assert user.email_verified_at is not None
    victim.refresh_from_db()
    assert victim.user_id == user.pk


def test_an_unconfirmed_account_can_ask_for_the_link_again_a_few_times(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_LINK_REQUEST": "2/h"}
    user = customer_sign_up(email="new@client.example", name="New", password=PASSWORD)
    client.force_login(user)
    assert client.post(reverse("help-verify-email-resend")).status_code == 302
    assert client.post(reverse("help-verify-email-resend")).status_code == 302
    assert client.post(reverse("help-verify-email-resend")).status_code == 429
    assert "Send the link again" in client.get(reverse("help-request-list")).content.decode()


# --- organizations by e-mail domain ----------------------------------------------------------------


def _shared_org(**fields):
    org = OrganizationFactory(shared_tickets=True, **fields)
    OrganizationDomainFactory(organization=org, domain="acme.example")
    colleague = CustomerFactory(email="boss@acme.example", organization=org)
    make_ticket(requester=colleague, subject="Acme contract question")
    return org


def test_a_customer_who_joined_by_domain_sees_nothing_shared_without_the_organizations_opt_in():
    org = _shared_org()
    user = customer_sign_up(email="anything@acme.example", name="Anyone", password=PASSWORD)
    assert tickets_visible_to(user).count() == 0  # unconfirmed: nothing
    customer = user_email_verify(user=user)
    assert (customer.organization_id, customer.organization_by_domain) == (org.pk, True)
    user = User.objects.get(pk=user.pk)
    assert tickets_visible_to(user).count() == 0  # confirmed, but the organization has not opted in


def test_with_the_opt_in_a_confirmed_domain_member_sees_the_shared_tickets_and_an_unconfirmed_one_does_not():
    _shared_org(domain_members_see_tickets=True)
    user = customer_sign_up(email="anything@acme.example", name="Anyone", password=PASSWORD)
    assert tickets_visible_to(user).count() == 0
    user_email_verify(user=user)
    user = User.objects.get(pk=user.pk)
    assert list(tickets_visible_to(user).values_list("subject", flat=True)) == ["Acme contract question"]


def test_a_member_an_agent_placed_in_the_organization_sees_its_shared_tickets():
    org = _shared_org()
    user = CustomerUserFactory(email="picked@acme.example", customer__organization=org)
    assert Customer.objects.get(user=user).organization_by_domain is False
    assert list(tickets_visible_to(user).values_list("subject", flat=True)) == ["Acme contract question"]


def test_a_domain_member_cannot_reply_to_the_organizations_tickets_without_the_opt_in():
    from core.exceptions import ApplicationError
    from tickets.services import ticket_customer_reply

    org = _shared_org()
    member, _ = customer_get_or_create(email="anything@acme.example")
    assert (member.organization_id, member.organization_by_domain) == (org.pk, True)
    ticket = org.tickets.get()
    with pytest.raises(ApplicationError):
        ticket_customer_reply(ticket=ticket, body="me too", customer=member, channel="web")
    assert ticket.messages.count() == 1


def test_a_manager_changing_an_accounts_address_in_the_admin_unconfirms_it(admin_client):
    user = CustomerUserFactory(email="old@client.example")
    response = admin_client.post(
        reverse("admin:core_user_change", args=[user.pk]),
        {"email": "new@client.example", "name": user.name, "is_active": "on", "date_joined_0": "2026-01-01",
         "date_joined_1": "00:00:00"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert (user.email, user.email_verified_at) == ("new@client.example", None)
    assert tickets_visible_to(user).count() == 0


def test_confirming_an_address_whose_record_another_account_holds_says_so_and_changes_nothing(client):
    holder = CustomerUserFactory(email="shared@client.example")
    User.objects.filter(pk=holder.pk).update(email="moved@client.example")  # a manager changed it
    _sign_up(client, "shared@client.example")
    link = _link(Delivery.objects.get(subject="Confirm your e-mail address").body)
    response = Client().post(link, {"password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert "belongs to another account" in response.content.decode()
    assert User.objects.get(email="shared@client.example").email_verified_at is None
    assert Customer.objects.get(email="shared@client.example").user_id == holder.pk
