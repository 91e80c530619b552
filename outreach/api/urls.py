from django.urls import path

from outreach.api import views

urlpatterns = [
    path("incidents/", views.IncidentListApi.as_view(), name="api-incident-list"),
    path("incidents/<int:incident_id>/", views.IncidentDetailApi.as_view(), name="api-incident-detail"),
    path("incidents/<int:incident_id>/updates/", views.IncidentUpdateApi.as_view(), name="api-incident-update"),
    path("incidents/<int:incident_id>/resolve/", views.IncidentResolveApi.as_view(), name="api-incident-resolve"),
    path("incidents/<int:incident_id>/progress/", views.IncidentProgressApi.as_view(), name="api-incident-progress"),
    path("campaigns/", views.CampaignListApi.as_view(), name="api-campaign-list"),
    path("campaigns/<int:campaign_id>/", views.CampaignDetailApi.as_view(), name="api-campaign-detail"),
    path("campaigns/<int:campaign_id>/schedule/", views.CampaignScheduleApi.as_view(), name="api-campaign-schedule"),
    path("campaigns/<int:campaign_id>/cancel/", views.CampaignCancelApi.as_view(), name="api-campaign-cancel"),
    path("campaigns/<int:campaign_id>/progress/", views.CampaignProgressApi.as_view(), name="api-campaign-progress"),
    path("deliveries/", views.DeliveryListApi.as_view(), name="api-delivery-list"),
    path("deliveries/<int:delivery_id>/", views.DeliveryDetailApi.as_view(), name="api-delivery-detail"),
]
