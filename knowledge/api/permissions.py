from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from core.roles import is_agent


class IsAgentOrReadOnly(permissions.BasePermission):
    """Anyone may read (the selectors decide what they see); only agents write."""

    message = "Only agents may change the knowledge base."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or is_agent(request.user)
