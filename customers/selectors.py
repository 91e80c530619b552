"""Reads of the customers app. Agents see every customer; a customer sees only themself."""

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from core.pagination import Page, keyset_page
from core.roles import is_agent
from core.types import Viewer
from customers.models import ContactPreference, Customer, CustomerEvent, Delivery, Organization


def customers_visible_to(*, viewer: Viewer) -> QuerySet[Customer]:
    if is_agent(viewer):
        return Customer.objects.all()
    if viewer.is_authenticated:
        return Customer.objects.filter(user=viewer)
    return Customer.objects.none()


def customer_get_for(*, viewer: Viewer, customer_id: int) -> Customer:
    customer = customers_visible_to(viewer=viewer).select_related("organization", "user").filter(pk=customer_id).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


#: a search term matches the requesters whose address starts with it; more than this many is a term too
#: short to mean someone (``bench-1`` matches 11,111 of 50,000), so the first ones by address stand for it
EMAIL_PREFIX_MATCHES = 50


def customer_ids_by_email_prefix(*, prefix: str, limit: int = EMAIL_PREFIX_MATCHES) -> list[int]:
    """Customers whose e-mail starts with ``prefix`` (addresses are stored lower-case), on the
    ``customers_email_prefix`` pattern index: one index range scan, never a scan of every customer."""
    prefix = prefix.strip().lower()
    if len(prefix) < 3 or any(ch.isspace() for ch in prefix):
        return []
    matches = Customer.objects.filter(email__startswith=prefix).order_by("email")
    return list(matches.values_list("pk", flat=True)[:limit])


def customer_email_by_id(*, customer_id: int) -> str | None:
    return Customer.objects.filter(pk=customer_id).values_list("email", flat=True).first()


def customer_for_user(*, user: Any) -> Customer | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Customer.objects.select_related("organization").filter(user=user).first()


def customer_list(
    *, viewer: Viewer, query: str = "", organization_id: int | None = None, cursor: str | None = None, size: int = 50
) -> Page:
    """Customers by name, keyset-paginated; ``query`` matches name, e-mail prefix or external id."""
    qs = customers_visible_to(viewer=viewer).select_related("organization")
    if query:
        query = query.strip()
        qs = qs.filter(Q(name__icontains=query) | Q(email__startswith=query.lower()) | Q(external_id=query))
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    return keyset_page(qs, ordering=["name", "id"], cursor=cursor, size=size)


def contact_preference_for(*, customer: Customer) -> ContactPreference | None:
    return ContactPreference.objects.filter(customer=customer).first()


def customer_recent_events(*, customer: Customer, limit: int = 20) -> QuerySet[CustomerEvent]:
    return CustomerEvent.objects.filter(customer=customer).order_by("-occurred_at", "-id")[:limit]


def customer_deliveries(*, customer: Customer, limit: int = 50) -> QuerySet[Delivery]:
    return Delivery.objects.filter(customer=customer).order_by("-created_at", "-id")[:limit]


def organization_list() -> QuerySet[Organization]:
    return Organization.objects.prefetch_related("domains", "products")


def delivery_counts(*, source: str) -> dict[str, int]:
    """Status counts of the rows one cause produced (progress bars, incident pages)."""
    rows = Delivery.objects.filter(source=source).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(Delivery.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts
