"""URL patterns of the outreach app, mounted by config/urls.py under /agent/ and /help/."""

from django.urls import path

from outreach import views

agent_urlpatterns = [
    path("outreach/", views.outreach_home_view, name="agent-outreach-home"),
    path("outreach/incidents/new/", views.incident_declare_view, name="agent-outreach-incident-declare"),
    path("outreach/maintenance/new/", views.maintenance_schedule_view, name="agent-outreach-maintenance-schedule"),
    path("outreach/incidents/<int:incident_id>/", views.incident_detail_view, name="agent-outreach-incident-detail"),
    path(
        "outreach/incidents/<int:incident_id>/update/",
        views.incident_update_view,
        name="agent-outreach-incident-update",
    ),
    path(
        "outreach/incidents/<int:incident_id>/resolve/",
        views.incident_resolve_view,
        name="agent-outreach-incident-resolve",
    ),
    path(
        "outreach/incidents/<int:incident_id>/start/",
        views.maintenance_start_view,
        name="agent-outreach-incident-start",
    ),
    path("outreach/incidents/<int:incident_id>/link/", views.incident_link_view, name="agent-outreach-incident-link"),
    path(
        "outreach/incidents/<int:incident_id>/link-earlier/",
        views.incident_link_earlier_view,
        name="agent-outreach-incident-link-earlier",
    ),
    path(
        "outreach/incidents/<int:incident_id>/solve-linked/",
        views.incident_solve_linked_view,
        name="agent-outreach-incident-solve-linked",
    ),
    path("outreach/campaigns/new/", views.campaign_create_view, name="agent-outreach-campaign-create"),
    path("outreach/campaigns/<int:campaign_id>/", views.campaign_detail_view, name="agent-outreach-campaign-detail"),
    path(
        "outreach/campaigns/<int:campaign_id>/schedule/",
        views.campaign_schedule_view,
        name="agent-outreach-campaign-schedule",
    ),
    path(
        "outreach/campaigns/<int:campaign_id>/cancel/",
        views.campaign_cancel_view,
        name="agent-outreach-campaign-cancel",
    ),
    path("outreach/templates/new/", views.template_edit_view, name="agent-outreach-template-create"),
    path("outreach/templates/<int:template_id>/", views.template_edit_view, name="agent-outreach-template-detail"),
    path("outreach/segments/new/", views.segment_edit_view, name="agent-outreach-segment-create"),
    path("outreach/segments/<int:segment_id>/", views.segment_edit_view, name="agent-outreach-segment-detail"),
]

help_urlpatterns = [
    path("status/", views.status_view, name="help-status"),
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="help-unsubscribe"),
    path("survey/<str:token>/", views.survey_view, name="help-survey"),
    path("requests/<int:ticket_id>/rate/", views.request_rating_view, name="help-request-rate"),
    path("r/<str:token>/rate/", views.request_rating_view, name="help-request-link-rate"),
]
urlpatterns: list = []
