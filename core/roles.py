"""Who is who. Agents and managers are users in the ``Agents``/``Managers`` groups."""

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeGuard

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from core.models import User

AGENTS = "Agents"
MANAGERS = "Managers"


def _group_names(user: Any) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_helpdesk_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._helpdesk_groups = cached
    return cached


def is_manager(user: Any) -> TypeGuard["User"]:
    return bool(getattr(user, "is_superuser", False) and user.is_active) or MANAGERS in _group_names(user)


def is_agent(user: Any) -> TypeGuard["User"]:
    """Managers are agents too: they can work the queue."""
    return is_manager(user) or AGENTS in _group_names(user)


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users are sent to sign in; signed-in non-agents get a 404 (the page does not exist for them)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if not is_agent(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
