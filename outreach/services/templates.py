"""Templates and segments: saving (with a compile check) and previewing for a chosen customer."""

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from core.exceptions import ApplicationError
from customers.models import Category, Customer, Product, Tag
from outreach.models import Incident, Segment, Template
from outreach.services.rendering import CompiledMessage, Rendered, incident_context, message_context

TEMPLATE_FIELDS = ("name", "category", "subject", "body")
SEGMENT_FIELDS = (
    "name",
    "description",
    "plans",
    "regions",
    "created_after",
    "created_before",
    "last_seen_after",
    "last_seen_before",
    "open_tickets",
    "health_below",
)

SAMPLE_TICKET = {"id": 1234, "subject": "Example request", "status": "solved", "url": ""}
SAMPLE_ARTICLE = {"title": "Example article", "url": ""}


def _check(subject: str, body: str, category: str) -> None:
    if category not in Category.values:
        raise ApplicationError("Unknown category.", {"category": "Unknown category."})
    CompiledMessage(subject=subject, body=body)  # raises ApplicationError


@transaction.atomic
def template_save(*, template: Template | None = None, **fields: Any) -> Template:
    """Create a template, or change one; its text must compile."""
    template = Template.objects.select_for_update().get(pk=template.pk) if template else Template()
    for name in TEMPLATE_FIELDS:
        if name in fields:
            setattr(template, name, fields[name])
    _check(template.subject, template.body, template.category)
    template.save()
    return template


def template_preview(*, template: Template, customer: Customer, incident: Incident | None = None) -> Rendered:
    """The template as ``customer`` would receive it, with sample ticket/article data."""
    message = CompiledMessage(subject=template.subject, body=template.body)
    extra: dict[str, Any] = {"ticket": SAMPLE_TICKET, "article": SAMPLE_ARTICLE}
    if incident is not None:
        extra["incident"] = incident_context(incident)
    return message.render(message_context(customer, category=template.category, extra=extra))


@transaction.atomic
def segment_save(
    *,
    segment: Segment | None = None,
    products: Sequence[Product] | None = None,
    tags: Sequence[Tag] | None = None,
    **fields: Any,
) -> Segment:
    segment = Segment.objects.select_for_update().get(pk=segment.pk) if segment else Segment()
    for name in SEGMENT_FIELDS:
        if name in fields:
            setattr(segment, name, fields[name])
    segment.plans = [p for p in (segment.plans or []) if p]
    segment.regions = [r.strip() for r in (segment.regions or []) if r and r.strip()]
    segment.save()
    if products is not None:
        segment.products.set(products)
    if tags is not None:
        segment.tags.set(tags)
    return segment
