from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.ratelimit import ratelimit
from core.roles import agent_required
from core.tokens import TokenExpired, TokenInvalid
from core.types import AuthedRequest
from customers.forms import OPTIONAL_CATEGORIES, ConfirmWithPasswordForm, ContactPreferenceForm, SignUpForm
from customers.selectors import (
    contact_preference_for,
    customer_deliveries,
    customer_for_user,
    customer_get_for,
    customer_list,
    customer_recent_events,
)
from customers.services import (
    contact_preference_update,
    customer_sign_up,
    user_email_verify,
    user_verification_read,
    user_verification_send,
)


@agent_required
def customer_list_view(request: AuthedRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    page = customer_list(viewer=request.user, query=query, cursor=request.GET.get("cursor"))
    template = "customers/customer_list.html" + ("#rows" if request.htmx and request.GET.get("cursor") else "")
    if request.htmx and not request.GET.get("cursor") and request.htmx.target == "customer-table":
        template = "customers/customer_list.html#table"
    return render(request, template, {"page": page, "query": query})


@agent_required
def customer_detail_view(request: AuthedRequest, customer_id: int) -> HttpResponse:
    customer = customer_get_for(viewer=request.user, customer_id=customer_id)
    context = {
        "customer": customer,
        "events": customer_recent_events(customer=customer),
        "deliveries": customer_deliveries(customer=customer),
    }
    return render(request, "customers/customer_detail.html", context)


@login_required
def preferences_view(request: AuthedRequest) -> HttpResponse:
    """The help-center page where a customer chooses what we may send and when."""
    customer = customer_for_user(user=request.user)
    if customer is None and not request.user.email_verified:
        messages.info(request, "Confirm your e-mail address first: the link is in the e-mail we sent you.")
        return redirect("help-request-list")
    if customer is None:
        raise Http404("No customer record for this account.")
    preference = contact_preference_for(customer=customer)
    opted_out = set(preference.opted_out) if preference else set()
    initial = {
        "receive": [value for value, _ in OPTIONAL_CATEGORIES if value not in opted_out],
        "quiet_hours_start": preference.quiet_hours_start if preference else None,
        "quiet_hours_end": preference.quiet_hours_end if preference else None,
    }
    form = ContactPreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            contact_preference_update(
                customer=customer,
                opted_out=form.opted_out(),
                quiet_hours_start=form.cleaned_data["quiet_hours_start"],
                quiet_hours_end=form.cleaned_data["quiet_hours_end"],
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "Your contact preferences are saved.")
            return redirect("help-preferences")
    return render(request, "customers/preferences.html", {"form": form, "customer": customer})


@ratelimit(key="ip", rate="RATELIMIT_SIGN_IN", methods=("POST",), group="accounts")
def sign_up_view(request: HttpRequest) -> HttpResponse:
    """A customer opens a help-center account. Whether the address has one or not, the answer is the same:
    "we sent you an e-mail"; the e-mail says what comes next (confirm the address, or sign in)."""
    if request.user.is_authenticated:
        return redirect("help-home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer_sign_up(
            email=form.cleaned_data["email"], name=form.cleaned_data["name"], password=form.cleaned_data["password1"]
        )
        return render(request, "customers/sign_up_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "customers/sign_up.html", {"form": form}, status=400 if form.errors else 200)


@ratelimit(key="ip", rate="RATELIMIT_SIGN_IN", methods=("POST",), group="accounts")
def verify_email_view(request: HttpRequest, token: str) -> HttpResponse:
    """The confirmation link. Opening it changes nothing (mail scanners open links); the reader confirms with
    the account's password, or, not knowing it (someone else may have opened the account with this address),
    chooses a new one, which signs every other session out. Either way they are signed in."""
    try:
        user = user_verification_read(token=token)
    except TokenExpired:
        return render(request, "customers/verify_email.html", {"expired": True}, status=410)
    except TokenInvalid as exc:
        raise Http404("No such link.") from exc
    if user.email_verified:
        return render(request, "customers/verify_email.html", {"done": True, "account": user})
    same_person = request.user.is_authenticated and request.user.pk == user.pk
    choose = not same_person and (request.GET.get("new") == "1" or request.POST.get("new") == "1")
    form: forms.Form | None = None
    if choose:
        form = SetPasswordForm(user, request.POST or None)
    elif not same_person:
        form = ConfirmWithPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and (form is None or form.is_valid()):
        password = form.cleaned_data["new_password1"] if choose and form is not None else None
        try:
            user_email_verify(user=user, password=password)
        except ApplicationError as exc:  # the address's record belongs to another account: a manager must look
            messages.error(request, exc.message)
        else:
            login(request, user, backend="core.auth.EmailBackend")
            messages.success(request, "Thank you: your e-mail address is confirmed.")
            return redirect("help-request-list")
    context = {"form": form, "account": user, "choose": choose, "token": token}
    return render(request, "customers/verify_email.html", context, status=400 if form and form.errors else 200)


@require_POST
@login_required
@ratelimit(key="user", rate="RATELIMIT_LINK_REQUEST")
def verification_resend_view(request: AuthedRequest) -> HttpResponse:
    user_verification_send(user=request.user)
    if not request.user.email_verified:
        messages.success(request, f"We sent the confirmation link again to {request.user.email}.")
    return redirect("help-request-list")
