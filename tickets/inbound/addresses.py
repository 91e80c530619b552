"""The reply address of a ticket: ``support+t<id>-<hmac>@example.com``.

Outbound ticket e-mail carries it as ``Reply-To``; a reply sent to it belongs to that ticket, even when
the client drops the threading headers and the subject's reference. The HMAC (keyed by SECRET_KEY, a
purpose of its own) means nobody can make the address of a ticket they were not sent; the sender is
still checked against the ticket's people, so a leaked address lets no stranger post on it.

Lower-case hex only: some mail servers lower-case the local part.
"""

import re

from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "helpdesk.inbound.reply-address"
_TAG = re.compile(r"^t(\d{1,12})-([0-9a-f]{16})$")


def _signature(ticket_id: int) -> str:
    return salted_hmac(_SALT, str(ticket_id), algorithm="sha256").hexdigest()[:16]


def reply_address(*, mailbox_address: str, ticket_id: int) -> str:
    local, _, domain = mailbox_address.partition("@")
    return f"{local}+t{ticket_id}-{_signature(ticket_id)}@{domain}"


def ticket_id_from_address(*, address: str, mailbox_address: str) -> int | None:
    """The ticket a reply address names, if it is a genuine one of this mailbox."""
    local, _, domain = address.strip().lower().partition("@")
    base_local, _, base_domain = mailbox_address.strip().lower().partition("@")
    base, plus, tag = local.partition("+")
    if not plus or base != base_local or domain != base_domain:
        return None
    match = _TAG.match(tag)
    if not match:
        return None
    ticket_id = int(match.group(1))
    return ticket_id if constant_time_compare(match.group(2), _signature(ticket_id)) else None
