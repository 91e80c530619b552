"""One exception handler for every API: ``ApplicationError`` and validation errors read alike."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import ApplicationError
from core.params import ParameterError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """``ApplicationError`` becomes ``400 {"message", "extra"}``; the rest is DRF's, with a ``message`` added.

    A ``ParameterError`` reads like a serializer's: ``400 {"message": "Validation error", "extra": {"fields":
    {"queue": ["..."]}}}``."""
    if isinstance(exc, ApplicationError):
        return Response({"message": exc.message, "extra": exc.extra}, status=400)
    if isinstance(exc, ParameterError):  # a query parameter read by hand (core.params): a field error
        exc = exceptions.ValidationError(exc.errors)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"message": "Validation error", "extra": {"fields": response.data}}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"message": str(response.data["detail"]), "extra": {}}
    return response
