from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import check_broker, check_database
from core.roles import is_agent


def home_view(request: HttpRequest) -> HttpResponse:
    """``/``: agents to their workspace, everyone else to the help center."""
    return redirect("agent-home" if is_agent(request.user) else "help-home")


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("agent-home" if is_agent(self.request.user) else "help-home")


@never_cache
@require_GET
def healthz_view(request: HttpRequest) -> JsonResponse:
    problems = [problem for problem in (check_database(), check_broker()) if problem]
    body = {"status": "ok" if not problems else "unavailable", "problems": problems}
    return JsonResponse(body, status=503 if problems else 200)
