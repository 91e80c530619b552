"""Writes of the tickets app. Other apps and the views import from here, never from the submodules."""

from tickets.services._common import UNSET
from tickets.services.attachments import attachments_validate
from tickets.services.jobs import tickets_autoclose
from tickets.services.lifecycle import (
    TRANSITIONS,
    BulkResult,
    ticket_assign,
    ticket_create,
    ticket_solve,
    ticket_update,
    tickets_bulk_update,
)
from tickets.services.macros import macro_apply, macro_context, macro_render
from tickets.services.merging import message_split, ticket_merge
from tickets.services.messages import (
    ticket_customer_reply,
    ticket_reply,
    ticket_system_reply,
)
from tickets.services.queues import (
    queue_membership_set_available,
    queue_next_assignee,
    saved_view_create,
    saved_view_delete,
    saved_view_update,
    ticket_viewing_ping,
)
from tickets.services.ratings import ticket_rate
from tickets.services.sla import sla_policy_for, sla_scan

__all__ = [
    "TRANSITIONS",
    "UNSET",
    "BulkResult",
    "attachments_validate",
    "macro_apply",
    "macro_context",
    "macro_render",
    "message_split",
    "queue_membership_set_available",
    "queue_next_assignee",
    "saved_view_create",
    "saved_view_delete",
    "saved_view_update",
    "sla_policy_for",
    "sla_scan",
    "ticket_assign",
    "ticket_create",
    "ticket_customer_reply",
    "ticket_merge",
    "ticket_rate",
    "ticket_reply",
    "ticket_solve",
    "ticket_system_reply",
    "ticket_update",
    "ticket_viewing_ping",
    "tickets_autoclose",
    "tickets_bulk_update",
]
