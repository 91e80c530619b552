"""Managers set up mailboxes and look after the inbound log (failed and quarantined messages, raw sources)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.exceptions import ApplicationError
from core.policies import CapabilityAdminMixin, can
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.services import inbound_retry
from tickets.inbound.sources import imap_test_connection, mailbox_poll


class MailboxForm(forms.ModelForm):
    imap_password = forms.CharField(
        label="IMAP password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: leave empty to keep the one stored.",
    )

    class Meta:
        model = Mailbox
        fields = [
            "address", "name", "queue", "accept", "is_active", "cc_recipients", "open_tickets_for_bulk", "source",
            "folder_path", "imap_host", "imap_port", "imap_security", "imap_user", "imap_password", "imap_folder",
            "after_import", "move_to_folder",
        ]  # fmt: skip

    def clean_imap_password(self) -> str:
        return self.cleaned_data["imap_password"] or (self.instance.imap_password if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source = data.get("source")
        if source == Mailbox.Source.IMAP:
            for name in ("imap_host", "imap_user", "imap_password"):
                if not data.get(name):
                    self.add_error(name, "Required for IMAP polling.")
        if source == Mailbox.Source.FOLDER and not data.get("folder_path"):
            self.add_error("folder_path", "Required for a drop folder.")
        if data.get("after_import") == Mailbox.AfterImport.MOVE and not data.get("move_to_folder"):
            self.add_error("move_to_folder", "Name the folder to move imported messages to.")
        return data


@admin.register(Mailbox)
class MailboxAdmin(CapabilityAdminMixin, admin.ModelAdmin):
    capability = "mailbox.edit"
    form = MailboxForm
    list_display = ["address", "name", "queue", "source", "accept", "is_active", "last_polled_at", "poll_status"]
    list_filter = ["source", "accept", "is_active"]
    search_fields = ["address", "name"]
    readonly_fields = ["last_polled_at", "last_poll_error"]
    actions = ["test_connection", "poll_now"]
    fieldsets = [
        (
            None,
            {"fields": ["address", "name", "queue", "accept", "is_active", "cc_recipients", "open_tickets_for_bulk"]},
        ),
        ("How mail arrives", {"fields": ["source", "folder_path"]}),
        (
            "IMAP",
            {
                "fields": [
                    "imap_host",
                    "imap_port",
                    "imap_security",
                    "imap_user",
                    "imap_password",
                    "imap_folder",
                    "after_import",
                    "move_to_folder",
                ]
            },
        ),
        ("Last poll", {"fields": ["last_polled_at", "last_poll_error"]}),
    ]

    @admin.display(description="poll")
    def poll_status(self, obj: Mailbox) -> str:
        return "error" if obj.last_poll_error else ("ok" if obj.last_polled_at else "—")

    @admin.action(description="Test the connection (log in and count the messages)")
    def test_connection(self, request: HttpRequest, queryset: Any) -> None:
        for mailbox in queryset:
            if mailbox.source != Mailbox.Source.IMAP:
                self.message_user(request, f"{mailbox}: not an IMAP mailbox.", messages.WARNING)
                continue
            try:
                self.message_user(request, f"{mailbox}: {imap_test_connection(mailbox)}", messages.SUCCESS)
            except Exception as exc:
                self.message_user(request, f"{mailbox}: {type(exc).__name__}: {exc}", messages.ERROR)

    @admin.action(description="Fetch new mail now")
    def poll_now(self, request: HttpRequest, queryset: Any) -> None:
        for mailbox in queryset.exclude(source=Mailbox.Source.PUSH):
            stored = mailbox_poll(mailbox)
            mailbox.refresh_from_db()
            if mailbox.last_poll_error:
                self.message_user(request, f"{mailbox}: {mailbox.last_poll_error}", messages.ERROR)
            else:
                self.message_user(request, f"{mailbox}: {stored} new message(s) stored.", messages.SUCCESS)


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = [
        "received_at", "mailbox", "sender", "subject", "state", "outcome", "ticket", "attempts", "interrupted",
    ]  # fmt: skip
    list_filter = ["state", "mailbox", "via"]
    search_fields = ["sender", "subject", "=message_id"]
    list_select_related = ["mailbox", "ticket"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ["retry"]
    exclude = ["raw"]
    readonly_fields = [
        "mailbox", "message_id", "body_hash", "size", "via", "sender", "subject", "state", "outcome", "attempts",
        "interrupted", "started_at", "last_error", "next_attempt_at", "ticket", "ticket_message", "automated",
        "suspicious", "received_at", "processed_at", "raw_source",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        raw = path("<int:pk>/raw/", self.admin_site.admin_view(self.raw_view), name="tickets_inboundemail_raw")
        return [raw, *super().get_urls()]

    @admin.display(description="raw source")
    def raw_source(self, obj: InboundEmail) -> str:
        url = reverse("admin:tickets_inboundemail_raw", args=[obj.pk])
        return format_html('<a href="{}">Download the original ({} bytes)</a>', url, obj.size)

    def raw_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        inbound = get_object_or_404(InboundEmail, pk=pk)
        response = HttpResponse(bytes(inbound.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="message-{inbound.pk}.eml"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.action(description="Retry processing")
    def retry(self, request: HttpRequest, queryset: Any) -> None:
        if not can(request.user, "mail.inbound"):
            self.message_user(request, "Only managers may retry inbound e-mail.", messages.ERROR)
            return
        retried = 0
        for inbound in queryset:
            try:
                with transaction.atomic():
                    inbound_retry(inbound=inbound)
                retried += 1
            except ApplicationError as exc:
                self.message_user(request, f"{inbound}: {exc.message}", messages.WARNING)
        if retried:
            self.message_user(request, f"{retried} message(s) will be processed again.", messages.SUCCESS)
