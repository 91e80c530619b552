from django.contrib import admin

from core.policies import CapabilityAdminMixin
from outreach.forms import SegmentAdminForm
from outreach.models import Campaign, Fanout, Incident, IncidentUpdate, ReminderRule, Segment, Template


@admin.register(Template)
class TemplateAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    capability = "template.edit"
    list_display = ["name", "category", "subject", "updated_at"]
    list_filter = ["category"]
    search_fields = ["name", "subject", "body"]


@admin.register(Segment)
class SegmentAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    capability = "segment.edit"
    form = SegmentAdminForm
    list_display = ["name", "open_tickets", "updated_at"]
    list_filter = ["open_tickets"]
    search_fields = ["name", "description"]
    filter_horizontal = ["products", "tags"]


class IncidentUpdateInline(admin.TabularInline):
    model = IncidentUpdate
    extra = 0
    readonly_fields = ["number", "kind", "message", "notify", "author", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # updates notify customers: post them from the workspace or the API


@admin.register(Incident)
class IncidentAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    capability = "incident.declare"
    list_display = ["title", "kind", "severity", "status", "started_at", "resolved_at"]
    list_filter = ["kind", "severity", "status"]
    search_fields = ["title", "message"]
    date_hierarchy = "started_at"
    filter_horizontal = ["products", "organizations"]
    inlines = [IncidentUpdateInline]
    readonly_fields = ["reminded_at", "declared_by", "created_at"]


@admin.register(IncidentUpdate)
class IncidentUpdateAdmin(admin.ModelAdmin):
    list_display = ["incident", "number", "kind", "notify", "created_at"]
    list_filter = ["kind", "notify"]
    search_fields = ["incident__title", "message"]
    raw_id_fields = ["incident"]


@admin.register(Campaign)
class CampaignAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    capability = "campaign.send"  # changing a scheduled campaign changes what is sent
    list_display = ["name", "template", "segment", "schedule", "status", "send_at", "started_at", "finished_at"]
    list_filter = ["status", "schedule"]
    search_fields = ["name", "template__name", "segment__name"]
    readonly_fields = ["status", "started_at", "finished_at", "cancelled_at", "created_by", "created_at"]


@admin.register(ReminderRule)
class ReminderRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "template", "anchor", "offset_days", "segment", "active"]
    list_filter = ["anchor", "active"]
    search_fields = ["name", "template__name"]


@admin.register(Fanout)
class FanoutAdmin(admin.ModelAdmin):
    list_display = ["kind", "object_id", "cursor", "planned", "done", "cancelled", "started_at", "finished_at"]
    list_filter = ["kind", "done", "cancelled"]
    search_fields = ["object_id"]
    readonly_fields = [
        "kind",
        "object_id",
        "cursor",
        "planned",
        "done",
        "cancelled",
        "started_at",
        "updated_at",
        "finished_at",
    ]
