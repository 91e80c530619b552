from django.urls import path

from tickets.api import views
from tickets.inbound.api import InboundEmailApi

urlpatterns = [
    path("tickets/", views.TicketListApi.as_view(), name="api-ticket-list"),
    path("tickets/<int:ticket_id>/", views.TicketDetailApi.as_view(), name="api-ticket-detail"),
    path("tickets/<int:ticket_id>/messages/", views.TicketMessagesApi.as_view(), name="api-ticket-messages"),
    path("tickets/<int:ticket_id>/merge/", views.TicketMergeApi.as_view(), name="api-ticket-merge"),
    path("inbound/", InboundEmailApi.as_view(), name="api-inbound"),
]
