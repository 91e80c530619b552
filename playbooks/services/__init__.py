"""Writes of the playbooks app. Tasks, the admin and the API import from here, never from the submodules."""

from playbooks.services.health import health_recompute
from playbooks.services.runs import (
    playbook_candidates,
    playbook_run_advance,
    playbook_run_stop,
    playbook_runs_advance,
    playbook_runs_create,
    playbook_runs_start,
    playbook_runs_stop,
    playbook_set_active,
)
from playbooks.services.signals import EVALUATORS, Hit, signal_evaluate, signals_evaluate

__all__ = [
    "EVALUATORS",
    "Hit",
    "health_recompute",
    "playbook_candidates",
    "playbook_run_advance",
    "playbook_run_stop",
    "playbook_runs_advance",
    "playbook_runs_create",
    "playbook_runs_start",
    "playbook_runs_stop",
    "playbook_set_active",
    "signal_evaluate",
    "signals_evaluate",
]
