from django.urls import path

from playbooks.api import views

urlpatterns = [
    path("signals/", views.SignalListApi.as_view(), name="api-signal-list"),
    path("signals/<int:signal_id>/", views.SignalDetailApi.as_view(), name="api-signal-detail"),
    path("playbooks/", views.PlaybookListApi.as_view(), name="api-playbook-list"),
    path("playbooks/<int:playbook_id>/", views.PlaybookDetailApi.as_view(), name="api-playbook-detail"),
    path("playbook-runs/", views.PlaybookRunListApi.as_view(), name="api-playbook-run-list"),
    path("playbook-runs/<int:run_id>/", views.PlaybookRunDetailApi.as_view(), name="api-playbook-run-detail"),
    path("playbook-runs/<int:run_id>/stop/", views.PlaybookRunStopApi.as_view(), name="api-playbook-run-stop"),
]
