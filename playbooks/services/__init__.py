"""Writes of the playbooks app. Tasks, the admin and the API import from here, never from the submodules."""

from playbooks.services.health import health_recompute
from playbooks.services.signals import EVALUATORS, Hit, signal_evaluate, signals_evaluate

__all__ = ["EVALUATORS", "Hit", "health_recompute", "signal_evaluate", "signals_evaluate"]
