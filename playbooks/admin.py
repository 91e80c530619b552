"""Managers edit signals and playbooks here; matches, health and runs are read-only records."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from playbooks.forms import SignalForm, param_field_name
from playbooks.kinds import KIND_PARAMS
from playbooks.models import (
    CustomerHealth,
    OrganizationHealth,
    Playbook,
    PlaybookRun,
    PlaybookRunLog,
    PlaybookStep,
    Signal,
    SignalKind,
    SignalMatch,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    form = SignalForm
    list_display = ["name", "kind", "scope", "weight", "is_active", "last_evaluated_at", "last_duration_ms"]
    list_filter = ["kind", "scope", "is_active"]
    search_fields = ["name"]

    def get_fieldsets(self, request: HttpRequest, obj: Signal | None = None) -> list[tuple[str | None, dict[str, Any]]]:
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["name", "kind", "scope", "weight", "interval_seconds", "is_active", "description"]})
        ]
        current = obj.kind if obj is not None else None
        for kind, params in KIND_PARAMS.items():
            label = SignalKind(kind).label
            fieldsets.append(
                (
                    f"{label}: parameters",
                    {
                        "fields": [param_field_name(kind, name) for name in params],
                        "classes": [] if current in (None, kind) else ["collapse"],
                        "description": f"Used when the kind is “{label}”.",
                    },
                )
            )
        return fieldsets


@admin.register(SignalMatch)
class SignalMatchAdmin(ReadOnlyAdmin):
    list_display = ["signal", "customer", "organization", "evidence", "matched_at", "cleared_at"]
    list_filter = ["signal", ("cleared_at", admin.EmptyFieldListFilter)]
    list_select_related = ["signal", "customer", "organization"]
    raw_id_fields = ["customer", "organization"]
    search_fields = ["customer__email", "customer__name"]


@admin.register(CustomerHealth)
class CustomerHealthAdmin(ReadOnlyAdmin):
    list_display = ["customer", "score", "updated_at"]
    list_select_related = ["customer"]
    ordering = ["score"]
    search_fields = ["customer__email"]


@admin.register(OrganizationHealth)
class OrganizationHealthAdmin(ReadOnlyAdmin):
    list_display = ["organization", "score", "updated_at"]
    list_select_related = ["organization"]
    ordering = ["score"]


class PlaybookStepInline(admin.TabularInline):
    model = PlaybookStep
    extra = 1
    fields = [
        "position",
        "action",
        "template",
        "tag",
        "articles",
        "wait_days",
        "check_mode",
        "check_event_kind",
        "notify_user",
        "note",
    ]
    autocomplete_fields = ["articles"]
    ordering = ["position"]


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ["name", "signal", "segment", "owner_agent", "owner_queue", "cooldown_days", "is_active"]
    list_filter = ["is_active", "signal"]
    list_select_related = ["signal", "segment", "owner_agent", "owner_queue"]
    search_fields = ["name"]
    inlines = [PlaybookStepInline]
    fields = ["name", "description", "signal", "segment", "owner_agent", "owner_queue", "cooldown_days", "is_active"]


class PlaybookRunLogInline(admin.TabularInline):
    model = PlaybookRunLog
    extra = 0
    fields = ["position", "action", "outcome", "detail", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PlaybookRun)
class PlaybookRunAdmin(ReadOnlyAdmin):
    list_display = ["playbook", "customer", "state", "current_step", "next_due_at", "ticket", "started_at"]
    list_filter = ["state", "playbook"]
    list_select_related = ["playbook", "customer", "ticket"]
    raw_id_fields = ["customer", "match", "ticket"]
    inlines = [PlaybookRunLogInline]
