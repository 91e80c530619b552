"""Load a believable demo world. Idempotent: running it twice changes nothing.

Each app may have a ``demo`` module with ``load(out) -> None``; they run in
INSTALLED_APPS order (the import order), so an app's demo can use the rows of
the apps below it.
"""

import importlib
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

DEMO_PASSWORD = "demo"  # noqa: S105  (the published demo password)
DEMO_SIGN_INS = [
    ("manager", "manager@example.com"),
    ("agent", "agent@example.com"),
    ("customer", "customer@example.com"),
]


class Command(BaseCommand):
    help = "Load the demo organizations, customers, agents and everything later apps add. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        for config in apps.get_app_configs():
            module_name = f"{config.name}.demo"
            if config.name.startswith("django") or find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
            with transaction.atomic():
                module.load(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is loaded."))
        for role, email in DEMO_SIGN_INS:
            self.stdout.write(f"  {role:9} {email} / {DEMO_PASSWORD}")
