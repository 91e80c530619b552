"""Managers edit queues, SLA policies, calendars, macros and custom fields here.

Tickets, messages and the audit trail are read-only in the admin: changes to a ticket go through the
services (audit, version, SLA), which the agent pages call.
"""

from django.contrib import admin
from django.http import HttpRequest

from tickets.admin_forms import (
    BusinessCalendarAdminForm,
    CustomFieldAdminForm,
    SLAPolicyAdminForm,
    SLATargetAdminForm,
)
from tickets.models import (
    Attachment,
    BusinessCalendar,
    CustomField,
    Holiday,
    Macro,
    Message,
    Queue,
    QueueMembership,
    SatisfactionRating,
    SavedView,
    SLAEvent,
    SLAPolicy,
    SLATarget,
    Ticket,
    TicketEvent,
    TicketViewer,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarAdminForm
    list_display = ["name", "timezone"]
    search_fields = ["name", "timezone"]
    inlines = [HolidayInline]


class SLATargetInline(admin.TabularInline):
    model = SLATarget
    form = SLATargetAdminForm
    extra = 0
    min_num = 1


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    form = SLAPolicyAdminForm
    list_display = ["name", "position", "is_active", "calendar", "priorities", "plans", "raise_priority_on_breach"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "calendar", "raise_priority_on_breach"]
    search_fields = ["name"]
    filter_horizontal = ["queues"]
    inlines = [SLATargetInline]


class QueueMembershipInline(admin.TabularInline):
    model = QueueMembership
    extra = 1
    autocomplete_fields = ["agent"]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "assignment_mode", "default_sla_policy", "is_active"]
    list_filter = ["assignment_mode", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [QueueMembershipInline]


@admin.register(QueueMembership)
class QueueMembershipAdmin(admin.ModelAdmin):
    list_display = ["queue", "agent", "is_available"]
    list_filter = ["queue", "is_available"]
    list_editable = ["is_available"]
    search_fields = ["agent__email", "agent__name", "queue__name"]
    list_select_related = ["queue", "agent"]
    autocomplete_fields = ["agent", "queue"]


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    form = CustomFieldAdminForm
    list_display = ["label", "key", "type", "required", "position", "is_active"]
    list_filter = ["type", "required", "is_active"]
    search_fields = ["label", "key"]
    prepopulated_fields = {"key": ["label"]}


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "is_internal",
        "set_status",
        "set_priority",
        "set_queue",
        "set_assignee",
        "owner",
        "is_active",
    ]
    list_filter = ["is_active", "is_internal", "set_status", "set_priority", "set_queue"]
    search_fields = ["name", "body"]
    filter_horizontal = ["add_tags", "remove_tags"]
    autocomplete_fields = ["set_assignee", "owner"]


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "is_shared", "updated_at"]
    list_filter = ["is_shared"]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]


class MessageInline(admin.StackedInline):
    model = Message
    fk_name = "ticket"
    extra = 0
    fields = ["created_at", "author_user", "author_customer", "is_internal", "channel", "body"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ["number", "subject", "status", "priority", "kind", "queue", "assignee", "requester", "updated_at"]
    list_filter = ["status", "priority", "kind", "channel", "queue"]
    search_fields = ["=number", "subject", "requester__email", "requester__name"]
    list_select_related = ["queue", "assignee", "requester"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [MessageInline]

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("tickets.view_ticket")


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "ticket", "is_internal", "by_agent", "channel", "created_at"]
    list_filter = ["is_internal", "by_agent", "channel"]
    search_fields = ["=ticket__number", "body"]
    list_select_related = ["ticket"]
    show_full_result_count = False


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["filename", "content_type", "size", "message", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["filename", "=message__ticket__number"]
    show_full_result_count = False


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "kind", "field", "old_value", "new_value", "actor", "created_at"]
    list_filter = ["kind", "field"]
    search_fields = ["=ticket__number", "actor__email"]
    list_select_related = ["ticket", "actor"]
    show_full_result_count = False


@admin.register(SLAEvent)
class SLAEventAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "target", "kind", "due_at", "created_at", "met_at", "overdue_minutes"]
    list_filter = ["kind", "target"]
    search_fields = ["=ticket__number"]
    list_select_related = ["ticket"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(SatisfactionRating)
class SatisfactionRatingAdmin(ReadOnlyAdmin):
    """Written only by ``ticket_rate`` (the requester's survey answer)."""

    list_display = ["ticket", "score", "reason", "customer", "assignee", "created_at"]
    list_filter = ["score", "reason"]
    search_fields = ["=ticket__number", "customer__email"]
    list_select_related = ["ticket", "customer", "assignee"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(TicketViewer)
class TicketViewerAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "agent", "last_seen_at"]
    search_fields = ["=ticket__number", "agent__email"]
    list_select_related = ["ticket", "agent"]


# the e-mail channel's admin pages (mailboxes, the inbound log)
import tickets.inbound.admin  # noqa: E402, F401
