from django.urls import path

from tickets.api import views
from tickets.inbound import api as inbound

urlpatterns = [
    path("tickets/", views.TicketListApi.as_view(), name="api-ticket-list"),
    path("tickets/<int:ticket_id>/", views.TicketDetailApi.as_view(), name="api-ticket-detail"),
    path("tickets/<int:ticket_id>/messages/", views.TicketMessagesApi.as_view(), name="api-ticket-messages"),
    path("tickets/<int:ticket_id>/merge/", views.TicketMergeApi.as_view(), name="api-ticket-merge"),
    path("inbound/", inbound.InboundEmailApi.as_view(), name="api-inbound"),
    path("mailboxes/", inbound.MailboxListApi.as_view(), name="api-mailbox-list"),
    path("mailboxes/<int:mailbox_id>/", inbound.MailboxDetailApi.as_view(), name="api-mailbox-detail"),
    path("inbound-emails/", inbound.InboundEmailListApi.as_view(), name="api-inbound-email-list"),
    path("inbound-emails/<int:inbound_id>/raw/", inbound.InboundEmailRawApi.as_view(), name="api-inbound-email-raw"),
    path(
        "inbound-emails/<int:inbound_id>/retry/", inbound.InboundEmailRetryApi.as_view(), name="api-inbound-email-retry"
    ),
]
