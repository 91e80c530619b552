"""One-click unsubscribe from a category, by a signed token (no sign-in)."""

from django.db import transaction

from core.exceptions import ApplicationError
from customers.models import ESSENTIAL_CATEGORIES, Category, ContactPreference, Customer
from customers.services import contact_preference_update
from outreach.services.rendering import unsubscribe_read


def unsubscribe_target(*, token: str) -> tuple[Customer, str]:
    """The customer and category a token names; ApplicationError when it is tampered with or stale."""
    parsed = unsubscribe_read(token)
    if parsed is None:
        raise ApplicationError("This unsubscribe link is not valid.", {"token": "invalid"})
    customer_id, category = parsed
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or category not in Category.values or category in ESSENTIAL_CATEGORIES:
        raise ApplicationError("This unsubscribe link is not valid.", {"token": "invalid"})
    return customer, category


@transaction.atomic
def unsubscribe_apply(*, token: str) -> tuple[Customer, str]:
    """Opt the token's customer out of the token's category. Doing it twice changes nothing."""
    customer, category = unsubscribe_target(token=token)
    preference, _ = ContactPreference.objects.select_for_update().get_or_create(customer=customer)
    if category not in preference.opted_out:
        contact_preference_update(
            customer=customer,
            opted_out=[*preference.opted_out, category],
            quiet_hours_start=preference.quiet_hours_start,
            quiet_hours_end=preference.quiet_hours_end,
        )
    return customer, category
