"""E-mail pushed by a mail service's inbound webhook (Mailgun, Postmark, SendGrid, SES, ... via django-anymail).

anymail's views (mounted at ``/inbound/anymail/``) check each post before anything here runs: HTTP basic
auth with ``ANYMAIL_WEBHOOK_SECRET`` and, for a service that signs its posts, the signature (Mailgun's
HMAC-SHA256 of timestamp and token with the webhook signing key). A post that fails is a 400 and reaches
no code of ours. A good one sends anymail's ``inbound`` signal with the parsed message; the receiver
hands it to ``inbound_webhook_receive``, which stores the raw message with ``inbound_store`` like every
other source: committed before anymail answers 200, stored once per Message-ID and mailbox (a service
that retries, or posts the same message twice, adds nothing), processed by the worker.

The mailbox is the one whose address the message was delivered to: the envelope recipient the service
reports, else ``Delivered-To``/``X-Original-To``, else ``To``/``Cc``; a ticket's reply address
(``support+t42-...@``) is its mailbox's. Only active mailboxes set to arrive by webhook take it.

The views are anymail's, each wrapped (``anymail_urlpatterns``): while ``ANYMAIL_WEBHOOK_SECRET`` is unset,
or a service's own key is (Mailgun's signing key), its URL is a 404 and nothing is stored, since for
Postmark, SendGrid and SES basic auth is the only proof that a post came from them; a post is read with
the mail endpoints' own size limit, not Django's form limit (``tickets.inbound.bodies``), a 413 over it;
a message for no webhook mailbox is a 503, so that the service keeps it and retries (nothing is lost to a
mailbox not set up yet). Mailgun's signature carries a timestamp that anymail does not bound, so a signed
post can be replayed: it stores nothing new, being the same Message-ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.message import Message
from email.utils import getaddresses
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern

from tickets.inbound.bodies import BodyTooLarge, request_body_load
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.services import inbound_store

log = logging.getLogger(__name__)

#: the headers that name where a message was delivered, most telling first (after the envelope)
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")


class UnknownRecipient(Exception):
    """The message was delivered to no active webhook mailbox (the service keeps it and retries)."""


def anymail_urlpatterns() -> tuple[list[URLPattern], str]:
    """anymail's webhook URLs (its namespace too), each view reading the post within our own size limit."""
    from anymail import urls  # noqa: PLC0415  (its views read settings when the URLconf loads)

    return [
        URLPattern(p.pattern, _inbound_webhook(p.callback), p.default_args, p.name)
        for p in urls.urlpatterns
        if isinstance(p, URLPattern)
    ], urls.app_name


def _inbound_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """anymail's view, behind the answers that are ours: 404 while webhooks (or this service) are not
    configured, 413 over the size limit, 503 for a message to no webhook mailbox (the service retries)."""

    @wraps(view)  # keeps anymail's csrf_exempt and login_not_required marks
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return _error("Inbound e-mail webhooks are not configured here.", 404)
        if request.method == "POST":
            try:
                request_body_load(request)
            except BodyTooLarge as exc:
                return _error(str(exc), 413)
        try:
            return view(request, *args, **kwargs)
        except ImproperlyConfigured:  # e.g. Mailgun's signing key unset: anymail refuses to check its posts
            log.exception("an inbound webhook is not configured: %s", request.path)
            return _error("This e-mail service's webhook is not configured here.", 404)
        except UnknownRecipient as exc:
            log.warning("%s", exc)
            return _error("The message is for no mailbox here.", 503)

    return wrapper


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"message": message, "extra": {}}, status=status)


def anymail_inbound_received(sender: object, event: Any, esp_name: str, **kwargs: object) -> None:
    """anymail's ``inbound`` signal. DESIGN.md has no Django signals for domain logic: this is the library's
    documented integration point, so the receiver only calls the service, which holds the rules."""
    inbound_webhook_receive(message=event.message, esp_name=esp_name, esp_event=event.esp_event)


def inbound_webhook_receive(*, message: Message, esp_name: str, esp_event: Any) -> tuple[InboundEmail, bool]:
    """Store one webhook message (committed when this returns); (the row, whether it was new)."""
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        # for Postmark, SendGrid and SES basic auth is the only proof that the post came from them
        raise ImproperlyConfigured("ANYMAIL_WEBHOOK_SECRET is not set: inbound webhook mail is refused.")
    mailbox = _mailbox(message)
    if mailbox is None:
        raise UnknownRecipient(f"{esp_name} posted a message for no active webhook mailbox: {_recipients(message)}")
    return inbound_store(mailbox=mailbox, raw=_raw(message, esp_name, esp_event), via=InboundEmail.Via.WEBHOOK)


def _raw(message: Message, esp_name: str, esp_event: Any) -> bytes:
    """The message as the service received it, where it posts that (Mailgun's ``body-mime``, Postmark's
    ``RawEmail``, SendGrid's raw ``email``); else anymail's message serialized again."""
    raw: Any = None
    if esp_name == "Mailgun":
        raw = esp_event.POST.get("body-mime")
    elif esp_name == "SendGrid":
        raw = esp_event.POST.get("email")
    elif esp_name == "Postmark" and isinstance(esp_event, dict):
        raw = esp_event.get("RawEmail")
    if isinstance(raw, str) and raw.strip():
        return raw.encode("utf-8")  # the service posts it as text; anymail parses it as UTF-8 too
    return message.as_bytes()


def _recipients(message: Message) -> list[str]:
    found = [getattr(message, "envelope_recipient", None) or ""]
    for name in _RECIPIENT_HEADERS:
        found += [address for _, address in getaddresses([str(v) for v in message.get_all(name) or []])]
    seen: dict[str, None] = {}
    for address in found:
        local, at, domain = address.strip().lower().partition("@")
        if at and local and domain:
            seen.setdefault(f"{local.split('+', 1)[0]}@{domain}", None)  # a reply address is its mailbox's
    return list(seen)


def _mailbox(message: Message) -> Mailbox | None:
    """The first recipient that is an active webhook mailbox (one query)."""
    candidates = _recipients(message)
    mailboxes = {
        m.address: m
        for m in Mailbox.objects.filter(address__in=candidates, is_active=True, source=Mailbox.Source.WEBHOOK)
    }
    return next((mailboxes[address] for address in candidates if address in mailboxes), None)
