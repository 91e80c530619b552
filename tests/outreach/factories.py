import factory

from outreach.models import Segment, Template


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Template

    name = factory.Sequence(lambda n: f"Template {n}")
    category = "announcement"
    subject = "News for {{ customer.first_name }}"
    body = "Hello {{ customer.name }} of {{ organization.name }},\n\nWe have news."


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
