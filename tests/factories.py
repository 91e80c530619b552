"""Factories shared by every app's tests. App-specific ones live in tests/<app>/factories.py."""

import datetime as dt

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from core.models import User
from core.roles import AGENTS, MANAGERS
from customers.models import Customer, CustomerEvent, Organization, OrganizationDomain, Product, Tag


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.django.Password("pw-123456")


class AgentFactory(UserFactory):
    email = factory.Sequence(lambda n: f"agent{n}@support.example")

    @factory.post_generation
    def groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.groups.add(Group.objects.get_or_create(name=AGENTS)[0])


class ManagerFactory(UserFactory):
    email = factory.Sequence(lambda n: f"manager{n}@support.example")
    is_staff = True

    @factory.post_generation
    def groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.groups.add(Group.objects.get_or_create(name=MANAGERS)[0])


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    plan = Organization.Plan.BUSINESS
    region = "eu-west"


class OrganizationDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationDomain

    organization = factory.SubFactory(OrganizationFactory)
    domain = factory.Sequence(lambda n: f"org{n}.example")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@client.example")
    organization = factory.SubFactory(OrganizationFactory)
    timezone = "UTC"


class CustomerUserFactory(UserFactory):
    """A help-center user with their customer record."""

    email = factory.Sequence(lambda n: f"person{n}@client.example")
    email_verified_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def customer(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            CustomerFactory(email=self.email, name=self.name, user=self, **kwargs)


class CustomerEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerEvent

    customer = factory.SubFactory(CustomerFactory)
    kind = "login"
    occurred_at = factory.Faker("date_time_this_month", tzinfo=dt.UTC)
    event_id = factory.Sequence(lambda n: f"evt-{n}")
