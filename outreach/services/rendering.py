"""Rendering templates for a customer from a string, with a context of plain dicts (never model instances).

The body is plain text, rendered without autoescape; its HTML alternative is that
text escaped and split into paragraphs, so customer data (and anything else) shows
as typed and is never markup. Templates are compiled once per fan-out slice and rendered per customer.
"""

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.template import Context, Engine, TemplateSyntaxError
from django.urls import reverse
from django.utils.html import linebreaks

from core.exceptions import ApplicationError
from core.tokens import TokenInvalid, token_make, token_read
from customers.models import ESSENTIAL_CATEGORIES, Customer

#: a private engine: no loaders (no {% include %}/{% extends %} of files), the default tags and filters
ENGINE = Engine(
    autoescape=True, libraries={}, builtins=["django.template.defaulttags", "django.template.defaultfilters"]
)

_LEGACY_UNSUBSCRIBE_SALT = "outreach.unsubscribe"


def template_compile(source: str) -> Any:
    try:
        return ENGINE.from_string(source or "")
    except TemplateSyntaxError as exc:
        raise ApplicationError(f"The template does not compile: {exc}", {"template": str(exc)}) from exc


def url_absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


@functools.cache
def _preferences_url(site_url: str) -> str:
    return f"{site_url}{reverse('help-preferences')}"


def unsubscribe_token(*, customer_id: int, category: str) -> str:
    """Single-purpose, valid for ``UNSUBSCRIBE_LINK_MAX_AGE_DAYS`` (at least the 60 days RFC 8058 expects)."""
    return token_make(purpose="unsubscribe", value=[customer_id, category])


def unsubscribe_read(token: str) -> tuple[int, str] | None:
    try:
        value = token_read(purpose="unsubscribe", token=token)
    except TokenInvalid:
        value = _legacy_unsubscribe(token)
    if not isinstance(value, list) or len(value) != 2:
        return None
    customer_id, category = value
    if not isinstance(customer_id, int) or not isinstance(category, str):
        return None
    return customer_id, category


def _legacy_unsubscribe(token: str) -> Any:
    """A link from mail sent before unsubscribe links carried a time: honoured, since a one-click
    unsubscribe must keep working (RFC 8058) and it can only ever opt out. Drop a release after
    ``UNSUBSCRIBE_LINK_MAX_AGE_DAYS`` has passed."""
    try:
        return signing.loads(token, salt=_LEGACY_UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None


def unsubscribe_url(*, customer_id: int, category: str) -> str:
    return url_absolute(
        reverse("help-unsubscribe", args=[unsubscribe_token(customer_id=customer_id, category=category)])
    )


def unsubscribe_headers(*, customer_id: int, category: str) -> dict[str, str]:
    """RFC 2369 + RFC 8058 headers for every non-essential message; empty for service and outage mail."""
    if category in ESSENTIAL_CATEGORIES:
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(customer_id=customer_id, category=category)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def customer_context(customer: Customer) -> dict[str, Any]:
    org = customer.organization
    return {
        "customer": {
            "id": customer.pk,
            "name": customer.name,
            "first_name": (customer.name or "").split(" ")[0],
            "email": customer.email,
            "timezone": customer.timezone,
            "language": customer.language,
            "external_id": customer.external_id,
        },
        "organization": {
            "name": org.name if org else "",
            "plan": org.plan if org else "",
            "region": org.region if org else "",
            "renewal_date": org.renewal_date if org else None,
        },
    }


def incident_context(incident: Any, update: Any = None) -> dict[str, Any]:
    return {
        "title": incident.title,
        "message": incident.message,
        "kind": incident.get_kind_display(),
        "severity": incident.get_severity_display(),
        "status": incident.get_status_display(),
        "started_at": incident.started_at,
        "scheduled_start": incident.scheduled_start,
        "scheduled_end": incident.scheduled_end,
        "resolved_at": incident.resolved_at,
        "update": update.message if update is not None else "",
        "status_url": url_absolute(reverse("help-status")),
    }


@dataclass
class Rendered:
    subject: str
    body: str
    html_body: str


class CompiledMessage:
    """Subject and body compiled once; ``render`` fills them for one customer."""

    def __init__(self, *, subject: str, body: str, html_body: str = "") -> None:
        self.subject = template_compile(subject)
        self.body = template_compile(body)
        #: our own HTML part (the survey's buttons are links), rendered with autoescape: data stays text
        self.html_body = template_compile(html_body) if html_body else None

    def render(self, context: dict[str, Any]) -> Rendered:
        text = Context(context, autoescape=False)
        subject = " ".join(self.subject.render(text).split())
        body = self.body.render(text)
        # the body is plain text: its HTML alternative is that text escaped, so both parts show the same
        # words and customer data is escaped; one render instead of two (a fan-out renders 100,000 times)
        if self.html_body is not None:
            html = self.html_body.render(Context(context, autoescape=True))
        else:
            html = linebreaks(body, autoescape=True)
        return Rendered(subject=subject, body=body, html_body=html)


def message_context(
    customer: Customer, *, category: str, extra: dict[str, Any] | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    context = customer_context(customer)
    context["preferences_url"] = _preferences_url(settings.SITE_URL)  # the same for everyone: resolved once
    context["unsubscribe_url"] = (
        "" if category in ESSENTIAL_CATEGORIES else unsubscribe_url(customer_id=customer.pk, category=category)
    )
    context.update(extra or {})
    return context
