"""URL patterns of the tickets app, mounted by config/urls.py under /agent/ and /help/."""

from django.urls import path

from tickets import help_views, queue_views, team_views, ticket_views

agent_urlpatterns = [
    path("", queue_views.ticket_queue_view, name="agent-home"),
    path("team/", team_views.team_list_view, name="agent-team"),
    path("team/invite/", team_views.team_invite_view, name="agent-team-invite"),
    path("team/<int:user_id>/", team_views.team_member_view, name="agent-team-member"),
    path("team/<int:user_id>/resend/", team_views.team_resend_view, name="agent-team-resend"),
    path("welcome/<str:token>/", team_views.invite_accept_view, name="agent-team-welcome"),
    path("tickets/new/", ticket_views.ticket_create_view, name="agent-ticket-create"),
    path("tickets/bulk/", queue_views.ticket_bulk_view, name="agent-ticket-bulk"),
    path("tickets/views/", queue_views.saved_view_create_view, name="agent-saved-view-create"),
    path("tickets/views/<int:view_id>/rename/", queue_views.saved_view_rename_view, name="agent-saved-view-rename"),
    path("tickets/views/<int:view_id>/delete/", queue_views.saved_view_delete_view, name="agent-saved-view-delete"),
    path("availability/", queue_views.agent_availability_view, name="agent-availability"),
    path("tickets/<int:ticket_id>/", ticket_views.ticket_detail_view, name="agent-ticket-detail"),
    path("tickets/<int:ticket_id>/reply/", ticket_views.ticket_reply_view, name="agent-ticket-reply"),
    path("tickets/<int:ticket_id>/macro/", ticket_views.ticket_macro_view, name="agent-ticket-macro"),
    path("tickets/<int:ticket_id>/update/", ticket_views.ticket_update_view, name="agent-ticket-update"),
    path("tickets/<int:ticket_id>/merge/", ticket_views.ticket_merge_view, name="agent-ticket-merge"),
    path("tickets/<int:ticket_id>/presence/", ticket_views.ticket_presence_view, name="agent-ticket-presence"),
    path(
        "tickets/<int:ticket_id>/messages/<int:message_id>/split/",
        ticket_views.message_split_view,
        name="agent-message-split",
    ),
    path(
        "tickets/<int:ticket_id>/messages/<int:message_id>/original.eml",
        ticket_views.message_original_view,
        name="agent-message-original",
    ),
    path(
        "tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        ticket_views.attachment_view,
        name="agent-attachment",
    ),
]

help_urlpatterns = [
    path("requests/", help_views.request_list_view, name="help-request-list"),
    path("requests/new/", help_views.request_create_view, name="help-request-create"),
    path("requests/suggest/", help_views.request_suggest_view, name="help-request-suggest"),
    path("requests/sent/", help_views.request_sent_view, name="help-request-sent"),
    path("requests/link/", help_views.request_link_new_view, name="help-request-link-new"),
    path("requests/<int:ticket_id>/", help_views.request_detail_view, name="help-request-detail"),
    path("requests/<int:ticket_id>/reply/", help_views.request_reply_view, name="help-request-reply"),
    path("requests/<int:ticket_id>/solve/", help_views.request_solve_view, name="help-request-solve"),
    path(
        "requests/<int:ticket_id>/attachments/<int:attachment_id>/",
        help_views.request_attachment_view,
        name="help-request-attachment",
    ),
    # the signed link from the confirmation e-mail, for requesters without an account
    path("r/<str:token>/", help_views.request_detail_view, name="help-request-link"),
    path("r/<str:token>/reply/", help_views.request_reply_view, name="help-request-link-reply"),
    path("r/<str:token>/solve/", help_views.request_solve_view, name="help-request-link-solve"),
    path(
        "r/<str:token>/attachments/<int:attachment_id>/",
        help_views.request_attachment_view,
        name="help-request-link-attachment",
    ),
]
