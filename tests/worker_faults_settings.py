"""A test worker's settings: production's, and ``tests.worker_faults`` imported when the worker starts."""

from config.settings.production import *  # noqa: F403

CELERY_IMPORTS = ["tests.worker_faults"]
