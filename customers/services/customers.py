import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from customers.models import Category, ContactPreference, Customer, CustomerEvent, OrganizationDomain


def _organization_for_email(email: str) -> int | None:
    domain = email.rsplit("@", 1)[-1].lower()
    return OrganizationDomain.objects.filter(domain=domain).values_list("organization_id", flat=True).first()


@transaction.atomic
def customer_get_or_create(*, email: str, name: str = "", **fields: Any) -> tuple[Customer, bool]:
    """The customer with this e-mail (any case), created if new; never a duplicate.

    A new customer joins the organization that owns their e-mail domain unless one is given.
    """
    email = email.strip().lower()
    if not email or "@" not in email:
        raise ApplicationError("A valid e-mail address is required.", {"email": email})
    existing = Customer.objects.filter(email=email).first()
    if existing is not None:
        return existing, False
    if "organization" not in fields and "organization_id" not in fields:
        fields["organization_id"] = _organization_for_email(email)
    customer = Customer(email=email, name=name.strip() or email.split("@")[0], **fields)
    customer.full_clean(exclude=["user", "organization"], validate_unique=False, validate_constraints=False)
    external_id = customer.external_id
    if external_id and Customer.objects.filter(external_id=external_id).exists():
        raise _external_id_taken(external_id)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # a concurrent request created it first: the unique constraint decided, we read the winner
        winner = Customer.objects.filter(email=email).first()
        if winner is None:  # the race was on the external id, not the e-mail
            raise _external_id_taken(external_id) from None
        return winner, False
    return customer, True


def _external_id_taken(external_id: str) -> ApplicationError:
    message = "Another customer has this external id."
    return ApplicationError(message, {"fields": {"external_id": [message]}, "external_id": external_id})


@transaction.atomic
def customer_link_user(*, user: User) -> Customer:
    """The help-center user's customer record: the existing one with their e-mail, linked, or a new one."""
    customer, _ = customer_get_or_create(email=user.email, name=user.name)
    if customer.user_id is None:
        customer.user = user
        customer.save(update_fields=["user"])
    elif customer.user_id != user.pk:
        raise ApplicationError("This e-mail address belongs to another account.")
    return customer


def customer_touch(*, customer_id: int, at: dt.datetime | None = None) -> None:
    """Record that the customer was seen; only ever moves forward."""
    at = at or timezone.now()
    Customer.objects.filter(pk=customer_id).filter(Q(last_seen_at__lt=at) | Q(last_seen_at__isnull=True)).update(
        last_seen_at=at
    )


def customer_events_ingest(*, events: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Store product-usage events idempotently by ``event_id``. Returns (created, duplicates).

    Each event is ``{"event_id", "customer" (Customer), "kind", "occurred_at", "properties"}``.
    One ``INSERT ... ON CONFLICT DO NOTHING`` per batch; a re-sent event is counted as a duplicate.
    """
    rows = [
        CustomerEvent(
            event_id=event["event_id"],
            customer=event["customer"],
            kind=event["kind"],
            occurred_at=event["occurred_at"],
            properties=event.get("properties") or {},
        )
        for event in events
    ]
    if not rows:
        return 0, 0
    ids = [row.event_id for row in rows]
    if len(set(ids)) != len(ids):
        raise ApplicationError("The batch repeats an event_id.", {"event_id": "must be unique within a batch"})
    with transaction.atomic():
        before = CustomerEvent.objects.filter(event_id__in=ids).count()
        CustomerEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        after = CustomerEvent.objects.filter(event_id__in=ids).count()
        latest: dict[int, dt.datetime] = {}
        for row in rows:
            if row.kind == "login":
                latest[row.customer.pk] = max(latest.get(row.customer.pk, row.occurred_at), row.occurred_at)
        for customer_id, at in latest.items():
            customer_touch(customer_id=customer_id, at=at)
    created = after - before
    return created, len(rows) - created


@transaction.atomic
def contact_preference_update(
    *,
    customer: Customer,
    opted_out: list[str],
    quiet_hours_start: dt.time | None,
    quiet_hours_end: dt.time | None,
) -> ContactPreference:
    unknown = set(opted_out) - set(Category.values)
    if unknown:
        raise ApplicationError("Unknown categories.", {"opted_out": sorted(unknown)})
    if (quiet_hours_start is None) != (quiet_hours_end is None):
        raise ApplicationError("Quiet hours need both a start and an end.")
    preference, _ = ContactPreference.objects.select_for_update().get_or_create(customer=customer)
    preference.opted_out = sorted(set(opted_out))
    preference.quiet_hours_start = quiet_hours_start
    preference.quiet_hours_end = quiet_hours_end
    preference.save(update_fields=["opted_out", "quiet_hours_start", "quiet_hours_end", "updated_at"])
    return preference


@transaction.atomic
def customer_sign_up(*, email: str, name: str, password: str) -> User:
    """A help-center account. A customer record with the same e-mail is linked, never duplicated."""
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            "An account with this e-mail address exists already. Sign in, or reset your password.",
            {"email": "taken"},
        )
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, name=name.strip(), password=password)
    except IntegrityError as exc:  # a concurrent sign-up with the same address won the race
        raise ApplicationError("An account with this e-mail address exists already.", {"email": "taken"}) from exc
    customer_link_user(user=user)
    return user
