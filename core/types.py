from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from core.models import User


class AuthedRequest(HttpRequest):
    """A request whose user is signed in, as the views that require it see it."""

    user: User
    htmx: HtmxDetails


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


# Who reads through a selector: a signed-in user, or nobody (the public help center and API reads);
# ``request.user`` is one of the two
Viewer = User | AnonymousUser
