"""The API's own endpoints that belong to no app."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import parsers, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

from core.api.parsers import DepthLimitedJSONParser
from core.ratelimit import sign_in_limited


class TokenObtainApi(ObtainAuthToken):
    """Trade an e-mail and password for the account's API token.

    The password check is the sign-in page's (``core.auth.EmailBackend``) with the same counters: too many
    wrong passwords for an account from one address, or from one address at all, answer 429 with
    ``Retry-After``.
    """

    parser_classes = (parsers.FormParser, parsers.MultiPartParser, DepthLimitedJSONParser)

    @extend_schema(
        request=AuthTokenSerializer,
        responses=inline_serializer("Token", {"token": serializers.CharField()}),
        operation_id="auth_token_obtain",
    )
    def post(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().post(request, *args, **kwargs)


token_obtain_view = sign_in_limited(TokenObtainApi.as_view())
