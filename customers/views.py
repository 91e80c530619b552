from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import ApplicationError
from core.ratelimit import ratelimit
from core.roles import agent_required
from core.types import AuthedRequest
from customers.forms import OPTIONAL_CATEGORIES, ContactPreferenceForm, SignUpForm
from customers.selectors import (
    contact_preference_for,
    customer_deliveries,
    customer_for_user,
    customer_get_for,
    customer_list,
    customer_recent_events,
)
from customers.services import contact_preference_update, customer_sign_up


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
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Your contact preferences are saved.")
            return redirect("help-preferences")
    return render(request, "customers/preferences.html", {"form": form, "customer": customer})


@ratelimit(key="ip", rate="RATELIMIT_SIGN_IN", methods=("POST",), group="accounts")
def sign_up_view(request: HttpRequest) -> HttpResponse:
    """A customer opens a help-center account; their existing customer record is linked to it."""
    if request.user.is_authenticated:
        return redirect("help-home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = customer_sign_up(
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
            )
        except ApplicationError as exc:
            form.add_error("email" if exc.extra.get("email") else None, exc.message)
        else:
            login(request, user, backend="core.auth.EmailBackend")
            messages.success(request, "Welcome! Your account is ready.")
            return redirect("help-home")
    return render(request, "customers/sign_up.html", {"form": form})
