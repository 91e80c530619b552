from celery import shared_task


@shared_task(name="tickets.sla_scan", acks_late=True, reject_on_worker_lost=True)
def sla_scan() -> dict[str, int]:
    from tickets.services import sla_scan as scan  # noqa: PLC0415

    return scan()


@shared_task(name="tickets.autoclose", acks_late=True, reject_on_worker_lost=True)
def autoclose() -> int:
    from tickets.services import tickets_autoclose  # noqa: PLC0415

    return tickets_autoclose()
