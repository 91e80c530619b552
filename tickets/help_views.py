"""The help center's request pages: submit a request, follow it signed in or by a signed link."""

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.ratelimit import hit, parse_rate, ratelimit
from core.tokens import TokenExpired
from customers.selectors import customer_for_user
from knowledge.models import SearchLog
from knowledge.search import article_search
from knowledge.services import search_log_record
from tickets.help_forms import CustomerReplyForm, RequestForm, RequestLinkForm
from tickets.policies import Action, TicketAccess, ticket_access
from tickets.selectors import (
    customer_request_list,
    request_attachment,
    request_from_link,
    ticket_get_for,
    ticket_rating,
    ticket_thread,
)
from tickets.services.messages import ticket_customer_reply
from tickets.services.requests import request_link, request_links_send, request_submit, ticket_customer_solve
from tickets.ticket_views import attachment_response


@ratelimit(key="ip", rate="RATELIMIT_SUBMIT", methods=("POST",))
def request_create_view(request: HttpRequest) -> HttpResponse:
    signed_in = request.user.is_authenticated
    form = RequestForm(request.POST or None, request.FILES or None, signed_in=signed_in)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket, _ = request_submit(
                user=request.user if signed_in else None,
                email=data.get("email", ""),
                name=data.get("name", ""),
                subject=data["subject"],
                body=data["description"],
                product=data["product"],
                attachments=data["attachments"],
                search_log_id=data["search_log"],
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            if signed_in:
                messages.success(
                    request,
                    f"Thank you. Your request {ticket.reference} is with our team; we e-mailed you a confirmation.",
                )
                return redirect("help-request-detail", ticket_id=ticket.pk)
            # the follow link goes to the mailbox only: whoever typed the address may not own it
            return redirect("help-request-sent")
    return render(request, "tickets/help_request_form.html", {"form": form}, status=400 if form.errors else 200)


@ratelimit(key="ip", rate="RATELIMIT_TYPEAHEAD")
def request_suggest_view(request: HttpRequest) -> HttpResponse:
    """Articles that may answer the request while its subject is typed (htmx). Each search is logged, so an
    article opened from here without a request following it counts as a deflection."""
    subject = request.GET.get("subject", "").strip()
    results: list[Any] = []
    log = None
    # any word may match: a subject is a description of a problem, not a search phrase
    words = [word for word in re.findall(r"[\w'-]+", subject.lower()) if len(word) >= 3][:8]
    if words:
        found = article_search(
            query=" or ".join(words), viewer=request.user, limit=5, published_only=True, snippets=False
        )
        results = found.hits
        log = search_log_record(
            query=subject, results_count=len(results), source=SearchLog.Source.REQUEST, user=request.user
        )
    return render(request, "tickets/help_request_form.html#suggestions", {"results": results, "search_log": log})


def request_list_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    page = customer_request_list(viewer=request.user, cursor=request.GET.get("cursor"))
    template = "tickets/help_request_list.html" + ("#rows" if request.headers.get("HX-Request") else "")
    return render(request, template, {"page": page, "customer": customer_for_user(user=request.user)})


def request_sent_view(request: HttpRequest) -> HttpResponse:
    """After an anonymous request: the link to follow it is in the requester's mailbox, not here."""
    return render(request, "tickets/help_request_sent.html")


@ratelimit(key="ip", rate="RATELIMIT_LINK_REQUEST", methods=("POST",))
def request_link_new_view(request: HttpRequest) -> HttpResponse:
    """Ask for new follow links by e-mail. The answer never says whether the address has requests."""
    form = RequestLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        # per address too, so that one mailbox cannot be flooded from many clients
        if hit(group="request-links:address", client=email, rate=parse_rate("RATELIMIT_LINK_REQUEST")).allowed:
            request_links_send(email=email)
        return render(request, "tickets/help_request_link_new.html", {"sent": True, "email": email})
    status = 400 if form.errors else 200
    return render(request, "tickets/help_request_link_new.html", {"form": form}, status=status)


def _link_expired(request: HttpRequest) -> HttpResponse:
    context = {"form": RequestLinkForm(), "expired": True}
    return render(request, "tickets/help_request_link_new.html", context, status=410)


def _resolve(
    request: HttpRequest, ticket_id: int | None, token: str, action: Action = Action.SEE
) -> tuple[Any, TicketAccess]:
    """(ticket, what the person may do on it and as which customer) when they may do ``action`` on it
    (``tickets.policies``), else a 404.

    The holder of a signed link acts as the requester; so does an account whose address is not confirmed on a
    request it filed itself. Anyone else acts as themselves (requester, CC, colleague); an agent has no
    customer record to act as here and answers from the agent workspace."""
    if token:
        ticket = request_from_link(token=token)
        access = ticket_access(ticket=ticket, customer=ticket.requester)
    else:
        if not request.user.is_authenticated or ticket_id is None:
            raise Http404
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
        access = ticket_access(ticket=ticket, user=request.user)
    if not access.may(action) or (action != Action.SEE and access.customer is None):
        raise Http404("No such request.")
    return ticket, access


def _page(
    request: HttpRequest,
    ticket: Any,
    token: str,
    access: TicketAccess,
    form: CustomerReplyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    # an unconfirmed account sees what it filed, not the name we hold for the address it typed
    unconfirmed = not token and not request.user.email_verified  # type: ignore[union-attr]
    context = {
        "ticket": ticket,
        "thread": ticket_thread(ticket=ticket, viewer=None),
        "token": token,
        "hide_customer_names": unconfirmed,
        "form": form or CustomerReplyForm(),
        "rating": ticket_rating(ticket=ticket),
        # a CC or a colleague follows and replies; solving and rating are the requester's
        "may": {action.value: access.may(action) and access.customer is not None for action in Action},
    }
    return render(request, "tickets/help_request_detail.html", context, status=status)


def _back(ticket: Any, token: str) -> HttpResponse:
    return redirect(request_link(ticket=ticket)) if token else redirect("help-request-detail", ticket_id=ticket.pk)


def _expired_link_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An expired follow link, whatever it was used for, shows the page that sends a new one."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except TokenExpired:
            return _link_expired(request)

    return wrapper


@_expired_link_page
def request_detail_view(request: HttpRequest, ticket_id: int | None = None, token: str = "") -> HttpResponse:
    if not token and not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    ticket, access = _resolve(request, ticket_id, token)
    return _page(request, ticket, token, access)


@require_POST
@ratelimit(key="ip", rate="RATELIMIT_SUBMIT")
@_expired_link_page
def request_reply_view(request: HttpRequest, ticket_id: int | None = None, token: str = "") -> HttpResponse:
    ticket, access = _resolve(request, ticket_id, token, Action.REPLY)
    form = CustomerReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            message = ticket_customer_reply(
                ticket=ticket,
                body=form.cleaned_data["body"],
                customer=access.customer,
                attachments=form.cleaned_data["attachments"],
                channel="web",
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            if message.ticket_id != ticket.pk:  # the request was closed: the reply opened a follow-up
                messages.success(request, f"That request was closed, so we opened {message.ticket.reference}.")
                return _back(message.ticket, token)
            messages.success(request, "Your reply is added.")
            return _back(ticket, token)
    return _page(request, ticket, token, access, form=form, status=400)


@require_POST
@_expired_link_page
def request_solve_view(request: HttpRequest, ticket_id: int | None = None, token: str = "") -> HttpResponse:
    ticket, access = _resolve(request, ticket_id, token)  # the service says who may solve, and why not
    try:
        ticket_customer_solve(ticket=ticket, customer=access.customer)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Glad it is sorted: your request is marked as solved.")
    return _back(ticket, token)


@_expired_link_page
def request_attachment_view(
    request: HttpRequest, attachment_id: int, ticket_id: int | None = None, token: str = ""
) -> HttpResponse:
    ticket, _ = _resolve(request, ticket_id, token, Action.DOWNLOAD)
    return attachment_response(request_attachment(ticket=ticket, attachment_id=attachment_id))
