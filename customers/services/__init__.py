"""Writes of the customers app. Other apps import from here, never from the submodules."""

from customers.services.bounces import delivery_bounce
from customers.services.customers import (
    contact_preference_update,
    customer_get_or_create,
    customer_insert,
    customer_link_user,
    customer_sign_up,
    customer_touch,
    organizations_by_domain,
    user_email_verify,
    user_password_reset_send,
    user_verification_read,
    user_verification_send,
)
from customers.services.deliveries_planning import (
    DeliveryDraft,
    deliveries_enqueue,
    deliveries_plan,
    delivery_plan,
    delivery_queue_for,
)
from customers.services.deliveries_sending import (
    deliveries_retry,
    deliveries_send,
    deliveries_sweep,
    delivery_message_id,
)
from customers.services.events import EventIngestResult, EventResult, customer_events_ingest
from customers.services.holds import deliveries_expire_held, deliveries_release
from customers.services.rollup import events_prune, events_rollup

__all__ = [
    "DeliveryDraft",
    "EventIngestResult",
    "EventResult",
    "contact_preference_update",
    "customer_events_ingest",
    "customer_get_or_create",
    "customer_insert",
    "customer_link_user",
    "customer_sign_up",
    "customer_touch",
    "deliveries_enqueue",
    "deliveries_expire_held",
    "deliveries_plan",
    "deliveries_release",
    "deliveries_retry",
    "deliveries_send",
    "deliveries_sweep",
    "delivery_bounce",
    "delivery_message_id",
    "delivery_plan",
    "delivery_queue_for",
    "events_prune",
    "events_rollup",
    "organizations_by_domain",
    "user_email_verify",
    "user_password_reset_send",
    "user_verification_read",
    "user_verification_send",
]
