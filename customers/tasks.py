from celery import shared_task


@shared_task(name="customers.send_deliveries", acks_late=True, reject_on_worker_lost=True)
def send_deliveries(delivery_ids: list[int]) -> dict[str, int]:
    from customers.services import deliveries_send  # noqa: PLC0415

    return deliveries_send(delivery_ids=delivery_ids)


@shared_task(name="customers.sweep_deliveries", acks_late=True, reject_on_worker_lost=True)
def sweep_deliveries() -> dict[str, int]:
    from customers.services import deliveries_sweep  # noqa: PLC0415

    return deliveries_sweep()


@shared_task(name="customers.rollup_events", acks_late=True, reject_on_worker_lost=True)
def rollup_events() -> int:
    from customers.services import events_rollup  # noqa: PLC0415

    return events_rollup()


@shared_task(name="customers.prune_events", acks_late=True, reject_on_worker_lost=True)
def prune_events() -> int:
    from customers.services import events_prune  # noqa: PLC0415

    return events_prune()
