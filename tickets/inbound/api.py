"""``POST /api/v1/inbound/``: hand one raw e-mail (``message/rfc822``) to the help desk.

For an MTA or a mail service that can POST the message as it arrived. The answer is 202 once the raw
message is committed (201 semantics would promise a ticket, which the worker decides), 200 when the
same message was stored before, 400 for an empty body, 404 for an unknown mailbox, 413 for a body over
``inbound_request_max_bytes()`` (the message size limit and half again; ``tickets.inbound.bodies`` says why
the body is read in chunks from the stream and never through ``request.body``).
"""

from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotFound
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import Can
from core.exceptions import ApplicationError
from tickets.inbound.bodies import BodyTooLarge, declared_length, inbound_request_max_bytes, read_limited
from tickets.inbound.models import InboundEmail, Mailbox
from tickets.inbound.selectors import (
    inbound_email_get,
    inbound_email_page,
    mailbox_default,
    mailbox_for_address,
    mailbox_get,
    mailbox_list,
)
from tickets.inbound.services import inbound_retry, inbound_store
from tickets.models import Queue


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


class RawEmailParser(BaseParser):
    media_type = "message/rfc822"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        try:
            return read_limited(stream, limit=inbound_request_max_bytes()) if stream is not None else b""
        except BodyTooLarge as exc:  # a body longer than its Content-Length said: read no further
            raise PayloadTooLarge(str(exc)) from exc


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
            ),
            413: inline_serializer("InboundTooLarge", {"message": serializers.CharField()}),
        },
    )
    def post(self, request: Request) -> Response:
        limit = inbound_request_max_bytes()
        if declared_length(request) > limit:  # refused before a byte of it is read
            raise PayloadTooLarge(str(BodyTooLarge(limit)))
        address = (request.query_params.get("mailbox") or "").strip().lower()
        mailbox = mailbox_for_address(address=address) if address else mailbox_default()
        if mailbox is None:
            raise NotFound("No such mailbox." if address else "No default mailbox: name one with ?mailbox=.")
        raw = request.data if isinstance(request.data, bytes) else b""
        if not raw.strip():
            raise ApplicationError("The message is empty.", {"message": "send the raw e-mail as the request body"})
        inbound, created = inbound_store(mailbox=mailbox, raw=raw, via=InboundEmail.Via.API)
        return Response({"id": inbound.pk, "state": inbound.state}, status=202 if created else 200)


# mailboxes and the inbound log -------------------------------------------------------------------------------


class MailboxSerializer(serializers.ModelSerializer):
    imap_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"},
        help_text="Write-only; omit to keep the stored one.",
    )  # fmt: skip
    queue = serializers.SlugRelatedField(slug_field="slug", queryset=Queue.objects.all())

    class Meta:
        model = Mailbox
        fields = [
            "id", "address", "name", "queue", "accept", "source", "is_active", "cc_recipients", "acknowledge",
            "open_tickets_for_bulk", "imap_host", "imap_port", "imap_security", "imap_user", "imap_password",
            "imap_folder", "after_import", "move_to_folder", "folder_path", "last_polled_at", "last_poll_error",
        ]  # fmt: skip
        read_only_fields = ["last_polled_at", "last_poll_error"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and not attrs.get("imap_password"):
            attrs.pop("imap_password", None)  # empty or omitted: keep the stored password
        merged = {**({f: getattr(self.instance, f) for f in self.Meta.fields if f != "id"} if self.instance else {}),
                  **attrs}  # fmt: skip
        errors = {}
        if merged.get("source") == Mailbox.Source.IMAP:
            required = ("imap_host", "imap_user", "imap_password")
            errors |= {f: "Required for IMAP polling." for f in required if not merged.get(f)}
        if merged.get("source") == Mailbox.Source.FOLDER and not merged.get("folder_path"):
            errors["folder_path"] = "Required for a drop folder."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class MailboxListApi(APIView):
    permission_classes = [Can("mailbox.edit")]

    @extend_schema(summary="List mailboxes", responses=MailboxSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(MailboxSerializer(mailbox_list(), many=True).data)

    @extend_schema(summary="Add a mailbox", request=MailboxSerializer, responses={201: MailboxSerializer})
    def post(self, request: Request) -> Response:
        serializer = MailboxSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(MailboxSerializer(serializer.save()).data, status=201)


class MailboxDetailApi(APIView):
    permission_classes = [Can("mailbox.edit")]

    def _get(self, mailbox_id: int) -> Mailbox:
        mailbox = mailbox_get(mailbox_id=mailbox_id)
        if mailbox is None:
            raise NotFound("No such mailbox.")
        return mailbox

    @extend_schema(summary="One mailbox", responses=MailboxSerializer)
    def get(self, request: Request, mailbox_id: int) -> Response:
        return Response(MailboxSerializer(self._get(mailbox_id)).data)

    @extend_schema(summary="Change a mailbox", request=MailboxSerializer, responses=MailboxSerializer)
    def patch(self, request: Request, mailbox_id: int) -> Response:
        serializer = MailboxSerializer(self._get(mailbox_id), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(MailboxSerializer(serializer.save()).data)


class InboundEmailSerializer(serializers.ModelSerializer):
    mailbox = serializers.CharField(source="mailbox.address")
    ticket = serializers.IntegerField(source="ticket.number", allow_null=True, default=None)
    raw_url = serializers.SerializerMethodField()

    class Meta:
        model = InboundEmail
        fields = [
            "id", "mailbox", "message_id", "via", "sender", "subject", "size", "state", "outcome", "attempts",
            "interrupted", "last_error", "automated", "suspicious", "ticket", "received_at", "processed_at", "raw_url",
        ]  # fmt: skip

    def get_raw_url(self, obj: InboundEmail) -> str:
        return reverse("api-inbound-email-raw", args=[obj.pk])


class InboundEmailListApi(APIView):
    """The inbound log, newest first (keyset pages); ``?state=quarantined`` lists what needs a manager."""

    permission_classes = [Can("mail.inbound")]

    @extend_schema(
        summary="List received e-mail",
        parameters=[
            OpenApiParameter("state", str, enum=InboundEmail.State.values),
            OpenApiParameter("cursor", str, description="next_cursor of the previous page."),
        ],
        responses=inline_serializer(
            "InboundEmailPage",
            {"results": InboundEmailSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)},
        ),
    )
    def get(self, request: Request) -> Response:
        state = request.query_params.get("state")
        if state and state not in InboundEmail.State.values:
            raise ApplicationError("Unknown state.", {"state": f"one of {', '.join(InboundEmail.State.values)}"})
        page = inbound_email_page(state=state, cursor=request.query_params.get("cursor"))
        return Response(
            {"results": InboundEmailSerializer(page.items, many=True).data, "next_cursor": page.next_cursor}
        )


def _inbound(inbound_id: int) -> InboundEmail:
    inbound = inbound_email_get(inbound_id=inbound_id)
    if inbound is None:
        raise NotFound("No such message.")
    return inbound


class InboundEmailRawApi(APIView):
    permission_classes = [Can("mail.inbound")]

    @extend_schema(summary="The original e-mail", responses={(200, "message/rfc822"): OpenApiTypes.BINARY})
    def get(self, request: Request, inbound_id: int) -> HttpResponse:
        inbound = _inbound(inbound_id)
        response = HttpResponse(bytes(inbound.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="message-{inbound.pk}.eml"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


class InboundEmailRetryApi(APIView):
    permission_classes = [Can("mail.inbound")]

    @extend_schema(summary="Process a failed or quarantined e-mail again", request=None, responses={202: None})
    def post(self, request: Request, inbound_id: int) -> Response:
        with transaction.atomic():
            inbound_retry(inbound=_inbound(inbound_id))
        return Response(status=202)
