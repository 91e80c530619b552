from celery import shared_task

from core.conf import helpdesk_setting

#: a poll's hard time limit: the embedded default's poll lock (``tickets.inbound.sources._LOCK_SECONDS``)
#: expires after this long, so the process that took it is gone by then (each mailbox polls for at most
#: ``POLL_BUDGET_SECONDS`` plus a listing; a poll killed mid-way loses nothing, and beat polls again)
POLL_TIME_LIMIT_SECONDS = 300


@shared_task(name="tickets.sla_scan", acks_late=True, reject_on_worker_lost=True)
def sla_scan() -> dict[str, int]:
    from tickets.services import sla_scan as scan  # noqa: PLC0415

    return scan()


@shared_task(name="tickets.autoclose", acks_late=True, reject_on_worker_lost=True)
def autoclose() -> int:
    from tickets.services import tickets_autoclose  # noqa: PLC0415

    return tickets_autoclose()


# the inbound tasks' time limits: Celery puts the sender's into the message, so ``inbound_enqueue`` sends the
# configured ones with every task; these, read at import, are for any other sender
_INBOUND_LIMITS = {
    "soft_time_limit": helpdesk_setting("INBOUND_SOFT_TIME_LIMIT_SECONDS"),
    "time_limit": helpdesk_setting("INBOUND_TIME_LIMIT_SECONDS"),
}


@shared_task(name="tickets.process_inbound_email", acks_late=True, reject_on_worker_lost=True, **_INBOUND_LIMITS)
def process_inbound_email(inbound_id: int) -> str:
    """One message (the name tasks already in the broker carry; new ones are ``process_inbound_emails``)."""
    from tickets.inbound.services import inbound_process  # noqa: PLC0415

    return inbound_process(inbound_id=inbound_id)


@shared_task(name="tickets.process_inbound_emails", acks_late=True, reject_on_worker_lost=True, **_INBOUND_LIMITS)
def process_inbound_emails(inbound_ids: list[int]) -> dict[str, int]:
    from tickets.inbound.services import inbound_process_batch  # noqa: PLC0415

    outcomes = inbound_process_batch(inbound_ids=inbound_ids)
    return {"taken": len(outcomes), "failed": sum(o.startswith("failed:") for o in outcomes.values())}


@shared_task(
    name="tickets.poll_mailboxes", acks_late=True, reject_on_worker_lost=True, time_limit=POLL_TIME_LIMIT_SECONDS
)
def poll_mailboxes() -> dict[str, int]:
    """Fetch from every IMAP mailbox and drop folder, and re-enqueue stored messages whose task was lost."""
    from tickets.inbound.services import inbound_due_requeue  # noqa: PLC0415
    from tickets.inbound.sources import mailboxes_poll  # noqa: PLC0415

    return {**mailboxes_poll(), "requeued": inbound_due_requeue()}
