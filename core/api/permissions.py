"""API permission classes. Kept apart from the exception handler: DRF imports them while it loads."""

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from core.roles import is_agent


class IsAgent(permissions.BasePermission):
    message = "This endpoint is for agents."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_agent(request.user)


def Can(capability: str, *, methods: tuple[str, ...] | None = None) -> type[permissions.BasePermission]:
    """A permission class asking ``core.policies.can``: ``permission_classes = [IsAgent, Can("campaign.send")]``.

    With ``methods`` only those methods need the capability (``Can("incident.declare", methods=("POST",))``
    on a view whose GET lists incidents for every agent).
    """
    from core.policies import CAPABILITIES, can, denied_message  # noqa: PLC0415

    if capability not in CAPABILITIES:  # a typo fails at import, not at the first request
        raise KeyError(capability)

    class _Can(permissions.BasePermission):
        message = denied_message(capability)

        def has_permission(self, request: Request, view: Any) -> bool:
            if methods is not None and request.method not in methods:
                return True
            return can(request.user, capability)

    _Can.__name__ = _Can.__qualname__ = f"Can[{capability}]"
    return _Can
