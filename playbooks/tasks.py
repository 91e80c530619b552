"""Beat jobs of the playbooks app. Each calls one service; all are safe to run twice."""

from celery import shared_task


@shared_task(name="playbooks.evaluate_signals", acks_late=True, reject_on_worker_lost=True)
def evaluate_signals() -> dict[str, dict[str, int]]:
    """Due signals; when any has new matches, their runs start and take their first steps at once, so an
    'event happened' playbook answers within one beat of the event arriving."""
    from playbooks.services import playbook_runs_advance, playbook_runs_start, signals_evaluate  # noqa: PLC0415

    results = signals_evaluate()
    if any(result["new"] for result in results.values()):
        playbook_runs_start()
        playbook_runs_advance()
    return results


@shared_task(name="playbooks.start_runs", acks_late=True, reject_on_worker_lost=True)
def start_runs() -> dict[str, int]:
    from playbooks.services import playbook_runs_start  # noqa: PLC0415

    return playbook_runs_start()


@shared_task(name="playbooks.advance_runs", acks_late=True, reject_on_worker_lost=True)
def advance_runs() -> int:
    from playbooks.services import playbook_runs_advance  # noqa: PLC0415

    return playbook_runs_advance()
