import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from customers.models import Customer
from customers.services import customer_get_or_create, customer_link_user
from tests.factories import OrganizationDomainFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_emails_are_unique_whatever_their_case():
    first, created = customer_get_or_create(email="Ada@Example.com", name="Ada")
    second, created_again = customer_get_or_create(email="ada@example.COM")
    assert (created, created_again) == (True, False)
    assert first.pk == second.pk
    assert Customer.objects.count() == 1


def test_a_new_customer_joins_the_organization_of_their_domain():
    domain = OrganizationDomainFactory(domain="acme.example")
    customer, _ = customer_get_or_create(email="bo@acme.example")
    assert customer.organization_id == domain.organization_id


def test_a_confirmed_user_is_linked_to_their_existing_customer_record_not_duplicated():
    existing, _ = customer_get_or_create(email="ada@example.com", name="Ada")
    user = UserFactory(email="ada@example.com", email_verified_at=timezone.now())
    linked = customer_link_user(user=user)
    assert linked.pk == existing.pk
    assert linked.user_id == user.pk
    assert Customer.objects.count() == 1


def test_an_unconfirmed_user_is_never_linked_to_a_customer_record():
    existing, _ = customer_get_or_create(email="ada@example.com", name="Ada")
    user = UserFactory(email="ada@example.com")
    with pytest.raises(ApplicationError, match="Confirm your e-mail address"):
        customer_link_user(user=user)
    existing.refresh_from_db()
    assert existing.user_id is None


def test_a_customer_record_already_linked_to_another_user_is_refused():
    user = UserFactory(email="ada@example.com", email_verified_at=timezone.now())
    customer_link_user(user=user)
    Customer.objects.update(user=UserFactory(email="other@example.com"))
    with pytest.raises(ApplicationError):
        customer_link_user(user=user)


def test_an_invalid_email_is_refused():
    with pytest.raises(ApplicationError):
        customer_get_or_create(email="not-an-email")
    assert Customer.objects.count() == 0
