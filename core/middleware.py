"""Middleware of the whole site."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from core.params import ParameterError


class ParameterErrorMiddleware:
    """A page given a parameter it cannot read (``core.params``) answers 400 saying which, not 500.

    The API never gets here: its exception handler answers ``ParameterError`` with the field's error.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ParameterError):
            return None
        context = {"field": exception.field, "message": exception.message}
        return HttpResponse(render_to_string("400.html", context, request=request), status=400)
