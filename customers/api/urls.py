from django.urls import path

from customers.api import views

urlpatterns = [
    path("customers/", views.CustomerListApi.as_view(), name="api-customer-list"),
    path("customers/<int:customer_id>/", views.CustomerDetailApi.as_view(), name="api-customer-detail"),
    path("organizations/", views.OrganizationListApi.as_view(), name="api-organization-list"),
    path("events/", views.EventIngestApi.as_view(), name="api-event-ingest"),
]
