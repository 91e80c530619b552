from celery import shared_task


@shared_task(name="tickets.sla_scan", acks_late=True, reject_on_worker_lost=True)
def sla_scan() -> dict[str, int]:
    from tickets.services import sla_scan as scan  # noqa: PLC0415

    return scan()


@shared_task(name="tickets.autoclose", acks_late=True, reject_on_worker_lost=True)
def autoclose() -> int:
    from tickets.services import tickets_autoclose  # noqa: PLC0415

    return tickets_autoclose()


@shared_task(name="tickets.process_inbound_email", acks_late=True, reject_on_worker_lost=True)
def process_inbound_email(inbound_id: int) -> str:
    """One message (the name tasks already in the broker carry; new ones are ``process_inbound_emails``)."""
    from tickets.inbound.services import inbound_process  # noqa: PLC0415

    return inbound_process(inbound_id=inbound_id)


@shared_task(name="tickets.process_inbound_emails", acks_late=True, reject_on_worker_lost=True)
def process_inbound_emails(inbound_ids: list[int]) -> dict[str, int]:
    from tickets.inbound.services import inbound_process_batch  # noqa: PLC0415

    outcomes = inbound_process_batch(inbound_ids=inbound_ids)
    return {"taken": len(outcomes), "failed": sum(o.startswith("failed:") for o in outcomes.values())}


@shared_task(name="tickets.poll_mailboxes", acks_late=True, reject_on_worker_lost=True)
def poll_mailboxes() -> dict[str, int]:
    """Fetch from every IMAP mailbox and drop folder, and re-enqueue stored messages whose task was lost."""
    from tickets.inbound.services import inbound_due_requeue  # noqa: PLC0415
    from tickets.inbound.sources import mailboxes_poll  # noqa: PLC0415

    return {**mailboxes_poll(), "requeued": inbound_due_requeue()}
