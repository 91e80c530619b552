from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.policies import CapabilityAdminMixin
from customers.models import (
    ContactPreference,
    Customer,
    CustomerEvent,
    Delivery,
    Organization,
    OrganizationDomain,
    Product,
    Tag,
)
from customers.services import deliveries_retry


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class OrganizationDomainInline(admin.TabularInline):
    model = OrganizationDomain
    extra = 1


@admin.register(Organization)
class OrganizationAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    capability = "organization.edit"
    list_display = [
        "name",
        "plan",
        "region",
        "renewal_date",
        "shared_tickets",
        "domain_members_see_tickets",
        "created_at",
    ]
    list_filter = ["plan", "region", "products", "shared_tickets", "domain_members_see_tickets"]
    search_fields = ["name", "domains__domain"]
    filter_horizontal = ["products", "tags"]
    inlines = [OrganizationDomainInline]
    date_hierarchy = "renewal_date"


class ContactPreferenceInline(admin.StackedInline):
    model = ContactPreference
    can_delete = False


@admin.register(Customer)
class CustomerAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    capability = "customer.edit"
    list_display = ["name", "email", "organization", "timezone", "language", "created_at", "last_seen_at"]
    list_filter = ["organization__plan", "language", "tags"]
    search_fields = ["name", "email", "external_id", "organization__name"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization", "user"]
    filter_horizontal = ["tags"]
    readonly_fields = ["created_at", "last_seen_at", "organization_by_domain"]
    inlines = [ContactPreferenceInline]
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        if "organization" in form.changed_data:  # a manager's choice, not the e-mail domain's
            obj.organization_by_domain = False
        super().save_model(request, obj, form, change)


@admin.register(CustomerEvent)
class CustomerEventAdmin(admin.ModelAdmin):
    list_display = ["kind", "customer", "occurred_at", "event_id"]
    list_filter = ["kind"]
    search_fields = ["event_id", "customer__email"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["subject", "recipient", "category", "channel", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "category", "channel"]
    search_fields = ["recipient", "subject", "idempotency_key", "source"]
    raw_id_fields = ["customer"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    show_full_result_count = False
    actions = ["requeue"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again (failed rows)")
    def requeue(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = deliveries_retry(delivery_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"{count} failed deliveries queued again.")
