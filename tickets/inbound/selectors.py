"""Reads of the e-mail channel: mailboxes and the inbound log (views and the API read through these)."""

from email.utils import parseaddr

from django.conf import settings
from django.db.models import QuerySet

from core.pagination import Page, keyset_page
from tickets.inbound.models import InboundEmail, Mailbox


def mailbox_for_address(*, address: str) -> Mailbox | None:
    """The active mailbox of a support address (any case)."""
    return Mailbox.objects.filter(address=address.strip().lower(), is_active=True).first()


def mailbox_default() -> Mailbox | None:
    """The mailbox of the outbound From address, else the only active one."""
    active = Mailbox.objects.filter(is_active=True)
    from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].strip().lower()
    return active.filter(address=from_address).first() or (active.first() if active.count() == 1 else None)


def mailbox_list() -> QuerySet[Mailbox]:
    return Mailbox.objects.select_related("queue").order_by("address")


def mailbox_get(*, mailbox_id: int) -> Mailbox | None:
    return mailbox_list().filter(pk=mailbox_id).first()


def inbound_email_page(*, state: str | None, cursor: str | None, size: int = 50) -> Page:
    """The inbound log, newest first, without the raw bytes or the text (one keyset page)."""
    rows = InboundEmail.objects.defer("raw", "text")
    if state:
        rows = rows.filter(state=state)
    return keyset_page(
        rows, ordering=["-received_at", "-id"], cursor=cursor, size=size,
        decorate=lambda qs: qs.select_related("mailbox", "ticket").defer("raw", "text"),
    )  # fmt: skip


def inbound_email_get(*, inbound_id: int) -> InboundEmail | None:
    return InboundEmail.objects.filter(pk=inbound_id).first()
