"""Factories of the tickets app. Tickets are made through ``ticket_create`` so they carry real SLA state."""

import factory

from tests.factories import CustomerFactory
from tickets.models import BusinessCalendar, Macro, Queue, QueueMembership, SavedView, SLAPolicy, SLATarget
from tickets.services import ticket_create


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Queue {n}")
    slug = factory.Sequence(lambda n: f"queue-{n}")


class QueueMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueMembership

    queue = factory.SubFactory(QueueFactory)
    agent = factory.SubFactory("tests.factories.AgentFactory")
    is_available = True


class BusinessCalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessCalendar

    name = factory.Sequence(lambda n: f"Office hours {n}")
    timezone = "UTC"


class SLAPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLAPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    position = 100


class SLATargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLATarget

    policy = factory.SubFactory(SLAPolicyFactory)
    priority = "normal"
    first_reply_minutes = 60
    next_reply_minutes = 120
    resolution_minutes = 480


class MacroFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Macro

    name = factory.Sequence(lambda n: f"Macro {n}")
    body = "Hello {{ customer.first_name }},\n\nthanks for writing about {{ ticket.reference }}.\n\n{{ agent.name }}"


class SavedViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedView

    owner = factory.SubFactory("tests.factories.AgentFactory")
    name = factory.Sequence(lambda n: f"View {n}")
    filters = factory.LazyFunction(dict)


def make_ticket(*, queue=None, requester=None, subject="Cannot log in", body="It says my password is wrong.", **kw):
    """A customer's new ticket, through the service."""
    return ticket_create(
        requester=requester or CustomerFactory(),
        subject=subject,
        body=body,
        queue=queue or QueueFactory(),
        **kw,
    )
