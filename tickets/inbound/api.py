"""``POST /api/v1/inbound/``: hand one raw e-mail (``message/rfc822``) to the help desk.

For an MTA or a mail service that can POST the message as it arrived. The answer is 202 once the raw
message is committed (201 semantics would promise a ticket, which the worker decides), 200 when the
same message was stored before, 400 for an empty body, 404 for an unknown mailbox.
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import Can
from core.exceptions import ApplicationError
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.services import inbound_store, mailbox_default


class RawEmailParser(BaseParser):
    media_type = "message/rfc822"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        return stream.read() if stream is not None else b""


class OctetStreamParser(RawEmailParser):
    media_type = "application/octet-stream"


class InboundEmailApi(APIView):
    permission_classes = [Can("mail.inbound")]
    parser_classes = [RawEmailParser, OctetStreamParser]

    @extend_schema(
        summary="Hand one raw e-mail to the help desk",
        request={"message/rfc822": OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("mailbox", str, description="The support address (default: the From one).")],
        responses={
            202: inline_serializer(
                "InboundStored", {"id": serializers.IntegerField(), "state": serializers.CharField()}
            )
        },
    )
    def post(self, request: Request) -> Response:
        address = (request.query_params.get("mailbox") or "").strip().lower()
        mailbox = Mailbox.objects.filter(address=address, is_active=True).first() if address else mailbox_default()
        if mailbox is None:
            raise NotFound("No such mailbox." if address else "No default mailbox: name one with ?mailbox=.")
        raw = request.data if isinstance(request.data, bytes) else b""
        if not raw.strip():
            raise ApplicationError("The message is empty.", {"message": "send the raw e-mail as the request body"})
        inbound, created = inbound_store(mailbox=mailbox, raw=raw, via=InboundEmail.Via.API)
        return Response({"id": inbound.pk, "state": inbound.state}, status=202 if created else 200)
