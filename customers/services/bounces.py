"""Delivery reports (RFC 3464) matched to the message they bounce: the row says so, a hard bounce stops outreach.

A report names the bounced message by its Message-ID. Ours derive from the delivery's idempotency key
(``delivery_message_id``), which nobody outside can compute, so a matching id is the proof that the report
answers our message: a forged report about an address we never mailed, or with an id we did not send,
changes nothing. The candidates are the recipient's recent rows (the (customer, created_at) index).
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from customers.models import Customer, Delivery
from customers.services.deliveries_sending import delivery_message_id

#: how far back a report is matched: its customer's latest rows (reports come back within days)
CANDIDATES = 500


@dataclass(frozen=True)
class BounceResult:
    delivery: Delivery | None
    undeliverable: bool


@transaction.atomic
def delivery_bounce(*, message_id: str, recipient: str, permanent: bool, reason: str) -> BounceResult:
    """Mark the delivery a report is about as bounced; on a permanent failure, the customer's address too."""
    wanted = f"<{message_id.strip().strip('<>')}>"
    customer = Customer.objects.filter(email=recipient.strip().lower()).first()
    if customer is None or not message_id:
        return BounceResult(delivery=None, undeliverable=False)
    candidates = Delivery.objects.filter(customer=customer).order_by("-created_at")[:CANDIDATES]
    delivery = next((d for d in candidates if delivery_message_id(d.idempotency_key) == wanted), None)
    if delivery is None:
        return BounceResult(delivery=None, undeliverable=False)
    reason = reason[:300] or "bounced"
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.BOUNCED, last_error=reason)
    delivery.status, delivery.last_error = Delivery.Status.BOUNCED, reason
    if permanent and delivery.recipient.lower() == customer.email:
        Customer.objects.filter(pk=customer.pk).update(
            bounced_email=customer.email, bounced_at=timezone.now(), bounce_reason=reason
        )
    return BounceResult(delivery=delivery, undeliverable=permanent and delivery.recipient.lower() == customer.email)
