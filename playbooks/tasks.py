"""Beat jobs of the playbooks app. Each calls one service; all are safe to run twice."""

from celery import shared_task


@shared_task(name="playbooks.evaluate_signals", acks_late=True, reject_on_worker_lost=True)
def evaluate_signals() -> dict[str, dict[str, int]]:
    from playbooks.services import signals_evaluate  # noqa: PLC0415

    return signals_evaluate()


@shared_task(name="playbooks.start_runs", acks_late=True, reject_on_worker_lost=True)
def start_runs() -> dict[str, int]:
    from playbooks.services import playbook_runs_start  # noqa: PLC0415

    return playbook_runs_start()


@shared_task(name="playbooks.advance_runs", acks_late=True, reject_on_worker_lost=True)
def advance_runs() -> int:
    from playbooks.services import playbook_runs_advance  # noqa: PLC0415

    return playbook_runs_advance()
