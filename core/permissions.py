"""Granting model permissions to the Agents/Managers groups from data migrations.

Each app grants its own models' permissions in its own data migration, so the
groups grow as apps are added and no app reaches into another's migrations.
"""

from typing import Any

from django.contrib.auth.management import create_permissions


def grant(apps: Any, schema_editor: Any, *, group: str, app_label: str, codenames: list[str]) -> None:
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True  # a migration's app config is a stub; permissions need a models module
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group_obj, _ = Group.objects.get_or_create(name=group)
    perms = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    missing = set(codenames) - set(perms.values_list("codename", flat=True))
    if missing:
        raise RuntimeError(f"unknown permissions for {app_label}: {sorted(missing)}")
    group_obj.permissions.add(*perms)


def model_codenames(models: list[str], actions: tuple[str, ...] = ("view", "add", "change", "delete")) -> list[str]:
    return [f"{action}_{model}" for model in models for action in actions]


def revoke(apps: Any, schema_editor: Any, *, group: str, app_label: str, codenames: list[str]) -> None:
    """Take permissions back from a group (a later migration narrowing what a role may do)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group_obj = Group.objects.filter(name=group).first()
    if group_obj is not None:
        group_obj.permissions.remove(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
