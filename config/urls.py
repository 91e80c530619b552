from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from config.api_docs import ApiDocsView
from core import views as core_views
from core.api.views import token_obtain_view
from core.ratelimit import ratelimit, sign_in_limited
from customers import urls as customers_urls
from customers.forms import LedgerPasswordResetForm, VerifyingSetPasswordForm
from knowledge import urls as knowledge_urls
from knowledge import views as knowledge_views
from outreach import urls as outreach_urls
from playbooks import urls as playbooks_urls
from tickets import urls as tickets_urls
from tickets.inbound.webhooks import anymail_urlpatterns

# every app contributes its pages under /agent/ and /help/, in import order
APPS = [customers_urls, knowledge_urls, tickets_urls, outreach_urls, playbooks_urls]

admin.site.site_header = "Helpdesk administration"
admin.site.site_title = "Helpdesk admin"

# password reset and sign-up are public forms: a client gets RATELIMIT_SIGN_IN posts a window, then a 429;
# every password check (sign-in, API token, admin) counts wrong passwords per account and address instead
limited = ratelimit(key="ip", rate="RATELIMIT_SIGN_IN", methods=("POST",), group="accounts")
admin.site.login = sign_in_limited(admin.site.login)  # type: ignore[method-assign]

accounts = [
    path("login/", sign_in_limited(core_views.LoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        limited(auth_views.PasswordResetView.as_view(form_class=LedgerPasswordResetForm)),
        name="password_reset",
    ),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    # a reset proves the address: its link came by e-mail
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(form_class=VerifyingSetPasswordForm),
        name="password_reset_confirm",
    ),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

agent = [
    *[pattern for module in APPS for pattern in module.agent_urlpatterns],
]

help_center = [
    path("", knowledge_views.help_home_view, name="help-home"),
    *[pattern for module in APPS for pattern in module.help_urlpatterns],
]

api_v1 = [
    path("auth/token/", token_obtain_view, name="api-token"),
    path("", include("customers.api.urls")),
    path("", include("knowledge.api.urls")),
    path("", include("tickets.api.urls")),
    path("", include("outreach.api.urls")),
    path("", include("playbooks.api.urls")),
]

urlpatterns = [
    path("", core_views.home_view, name="home"),
    path("healthz", core_views.healthz_view, name="healthz"),
    path("accounts/", include(accounts)),
    path("agent/", include(agent)),
    path("help/", include(help_center)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # e-mail services' inbound webhooks (django-anymail checks them; tickets.inbound.webhooks stores)
    path("inbound/anymail/", include(anymail_urlpatterns())),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedirectView.as_view(pattern_name="api-docs", permanent=True)),  # see config.api_docs
]
