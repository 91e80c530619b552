"""Managers edit signals and playbooks here; matches, health and runs are read-only records."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.exceptions import ApplicationError
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
from playbooks.selectors import playbook_dry_run, playbook_outcomes, playbook_recent_runs
from playbooks.services import playbook_run_stop, playbook_runs_stop, playbook_set_active


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
    actions = ["activate", "pause", "stop_runs"]
    change_form_template = "admin/playbooks/playbook/change_form.html"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:playbook_id>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="playbooks_playbook_dry_run",
            ),
            *super().get_urls(),
        ]

    def dry_run_view(self, request: HttpRequest, playbook_id: int) -> HttpResponse:
        """Who matches now (count and a sample with evidence); POST activates the playbook."""
        playbook = get_object_or_404(Playbook.objects.select_related("signal", "segment"), pk=playbook_id)
        if not self.has_view_permission(request, playbook):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_change_permission(request, playbook):
                raise PermissionDenied
            playbook_set_active(playbook=playbook, active=True)
            self.message_user(request, f"“{playbook}” is active: runs start on the next beat.", messages.SUCCESS)
            return redirect(reverse("admin:playbooks_playbook_change", args=[playbook.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dry run of “{playbook}”",
            "opts": self.model._meta,
            "original": playbook,
            "playbook": playbook,
            "result": playbook_dry_run(playbook=playbook),
            "can_activate": self.has_change_permission(request, playbook) and not playbook.is_active,
        }
        return TemplateResponse(request, "admin/playbooks/playbook/dry_run.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        playbook = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if playbook is not None:
            extra["outcomes"] = playbook_outcomes(playbook=playbook)
            extra["recent_runs"] = playbook_recent_runs(playbook=playbook)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.action(description="Activate the selected playbooks", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Playbook]) -> None:
        for playbook in queryset:
            playbook_set_active(playbook=playbook, active=True)
        self.message_user(request, f"{len(queryset)} activated.", messages.SUCCESS)

    @admin.action(description="Pause the selected playbooks (nothing starts or advances)", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Playbook]) -> None:
        for playbook in queryset:
            playbook_set_active(playbook=playbook, active=False)
        self.message_user(request, f"{len(queryset)} paused.", messages.SUCCESS)

    @admin.action(description="Stop every active run of the selected playbooks", permissions=["change"])
    def stop_runs(self, request: HttpRequest, queryset: QuerySet[Playbook]) -> None:
        stopped = sum(playbook_runs_stop(playbook=playbook, actor=request.user) for playbook in queryset)
        self.message_user(request, f"{stopped} runs stopped.", messages.SUCCESS)


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
    actions = ["stop"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # read-only pages; the stop action checks its own permission below

    def has_stop_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("playbooks.change_playbookrun")

    @admin.action(description="Stop the selected runs", permissions=["stop"])
    def stop(self, request: HttpRequest, queryset: QuerySet[PlaybookRun]) -> None:
        stopped = 0
        for run in queryset:
            try:
                playbook_run_stop(run=run, actor=request.user)
            except ApplicationError:
                continue
            stopped += 1
        self.message_user(request, f"{stopped} runs stopped.", messages.SUCCESS)
