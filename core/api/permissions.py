"""API permission classes. Kept apart from the exception handler: DRF imports them while it loads."""

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from core.roles import is_agent, is_manager


class IsAgent(permissions.BasePermission):
    message = "This endpoint is for agents."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_agent(request.user)


class IsManager(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return is_manager(request.user)
