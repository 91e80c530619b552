"""Scheduled jobs on tickets (run by Celery beat): closing solved tickets after ``TICKET_AUTOCLOSE_DAYS``."""

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.conf import helpdesk_setting
from tickets.models import (
    Status,
    Ticket,
    TicketEvent,
)


def tickets_autoclose(*, now: dt.datetime | None = None, batch_size: int = 1000) -> int:
    """Beat job: close tickets solved more than ``TICKET_AUTOCLOSE_DAYS`` ago. Set-based, in batches.

    Rows another transaction holds are skipped (``skip_locked``) and closed on the next run.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=helpdesk_setting("TICKET_AUTOCLOSE_DAYS"))
    closed = 0
    while True:
        with transaction.atomic():
            ids = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(status=Status.SOLVED, solved_at__lte=cutoff)
                .order_by("solved_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return closed
            Ticket.objects.filter(pk__in=ids, status=Status.SOLVED).update(
                status=Status.CLOSED,
                closed_at=now,
                updated_at=now,
                version=F("version") + 1,
                first_reply_due_at=None,
                next_reply_due_at=None,
                resolution_due_at=None,
                next_sla_due_at=None,
                sla_scan_at=None,
                sla_paused_at=None,
                sla_paused_remaining={},
            )
            TicketEvent.objects.bulk_create(
                [
                    TicketEvent(
                        ticket_id=pk,
                        kind=TicketEvent.Kind.AUTO_CLOSED,
                        field="status",
                        old_value=Status.SOLVED.value,
                        new_value=Status.CLOSED.value,
                        created_at=now,
                    )
                    for pk in ids
                ]
            )
            closed += len(ids)
