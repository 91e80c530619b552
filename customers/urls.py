from django.urls import path

from customers import views

agent_urlpatterns = [
    path("customers/", views.customer_list_view, name="agent-customer-list"),
    path("customers/<int:customer_id>/", views.customer_detail_view, name="agent-customer-detail"),
]

help_urlpatterns = [
    path("preferences/", views.preferences_view, name="help-preferences"),
    path("sign-up/", views.sign_up_view, name="help-sign-up"),
    path("confirm/<str:token>/", views.verify_email_view, name="help-verify-email"),
    path("confirm-again/", views.verification_resend_view, name="help-verify-email-resend"),
]
