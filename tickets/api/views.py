"""The tickets API: the same selectors, services and visibility as the pages."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from core.params import parse_id, to_id
from core.roles import is_agent
from customers.selectors import customer_for_user, customer_id_by_email
from customers.services import customer_get_or_create
from tickets.api.serializers import (
    MessageCreateInputSerializer,
    MessageOutputSerializer,
    TicketCreateInputSerializer,
    TicketOutputSerializer,
    TicketPageSerializer,
    TicketUpdateInputSerializer,
)
from tickets.models import Channel
from tickets.selectors import BUILTIN_VIEWS, SORTS, agent_by_email, ticket_get_for, ticket_list, ticket_thread
from tickets.services import ticket_create, ticket_customer_reply, ticket_reply, ticket_update

LIST_PARAMETERS = [
    OpenApiParameter("view", str, enum=list(BUILTIN_VIEWS), description="A built-in view (agents)."),
    OpenApiParameter("status", str, many=True),
    OpenApiParameter("priority", str, many=True),
    OpenApiParameter("queue", int, description="Queue id."),
    OpenApiParameter("assignee", str, description='An agent id, "me" or "none".'),
    OpenApiParameter("tag", str),
    OpenApiParameter("requester_email", str),
    OpenApiParameter("organization", int),
    OpenApiParameter("kind", str),
    OpenApiParameter("q", str, description="Text in the subject, or a ticket number."),
    OpenApiParameter("sort", str, enum=list(SORTS)),
    OpenApiParameter("cursor", str, description="next_cursor of the previous page."),
]


def _filters(params: Any) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for key in ("status", "priority", "tag", "kind"):
        if values := params.getlist(key):
            filters[key] = values
    for key in ("queue", "organization"):
        if (value := parse_id(params, key)) is not None:
            filters[key] = value
    if assignee := params.get("assignee"):
        filters["assignee"] = assignee if assignee in {"me", "none"} else to_id(assignee, field="assignee")
    if email := params.get("requester_email"):
        filters["requester"] = customer_id_by_email(email=email) or 0
    if q := params.get("q"):
        filters["q"] = q
    return filters


class TicketListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=LIST_PARAMETERS, responses=TicketPageSerializer, operation_id="tickets_list")
    def get(self, request: Request) -> Response:
        view = request.query_params.get("view") or None
        if view and not is_agent(request.user):
            view = None
        page = ticket_list(
            viewer=request.user,
            view=view,
            filters=_filters(request.query_params),
            sort=request.query_params.get("sort", "updated"),
            cursor=request.query_params.get("cursor"),
        )
        return Response(
            {"results": TicketOutputSerializer(page.items, many=True).data, "next_cursor": page.next_cursor}
        )

    @extend_schema(request=TicketCreateInputSerializer, responses={201: TicketOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = TicketCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if is_agent(request.user):
            if not data.get("requester_email"):
                raise ApplicationError("Name the requester.", {"requester_email": "required for agents"})
            requester, _ = customer_get_or_create(email=data["requester_email"], name=data["requester_name"])
            actor, channel = request.user, Channel.API
        else:
            requester = customer_for_user(user=request.user)
            if requester is None:
                raise PermissionDenied("This account has no customer record.")
            actor, channel = None, Channel.API
        ticket = ticket_create(
            requester=requester,
            subject=data["subject"],
            body=data["body"],
            actor=actor,
            queue=data.get("queue"),
            channel=channel,
            kind=data["kind"],
            priority=data["priority"],
            tags=data["tags"] if is_agent(request.user) else (),
        )
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket.pk)
        return Response(TicketOutputSerializer(ticket).data, status=status.HTTP_201_CREATED)


class TicketDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=TicketOutputSerializer)
    def get(self, request: Request, ticket_id: int) -> Response:
        return Response(TicketOutputSerializer(ticket_get_for(viewer=request.user, ticket_id=ticket_id)).data)

    @extend_schema(request=TicketUpdateInputSerializer, responses=TicketOutputSerializer)
    def patch(self, request: Request, ticket_id: int) -> Response:
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
        if not is_agent(request.user):
            raise PermissionDenied("Only agents change tickets.")
        serializer = TicketUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "assignee_email" in changes:
            email = changes.pop("assignee_email")
            assignee = agent_by_email(email=email) if email else None
            if email and assignee is None:
                raise ApplicationError("No such agent.", {"assignee_email": "no agent with this e-mail"})
            changes["assignee"] = assignee
        ticket_update(ticket=ticket, actor=request.user, **changes)
        return Response(TicketOutputSerializer(ticket_get_for(viewer=request.user, ticket_id=ticket_id)).data)


class TicketMessagesApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=MessageOutputSerializer(many=True))
    def get(self, request: Request, ticket_id: int) -> Response:
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
        return Response(MessageOutputSerializer(ticket_thread(ticket=ticket, viewer=request.user), many=True).data)

    @extend_schema(request=MessageCreateInputSerializer, responses={201: MessageOutputSerializer})
    def post(self, request: Request, ticket_id: int) -> Response:
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
        serializer = MessageCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if is_agent(request.user):
            message = ticket_reply(
                ticket=ticket,
                author=request.user,
                body=data["body"],
                internal=data["internal"],
                status=data.get("status"),
                expected_version=data.get("expected_version"),
            )
        else:
            if data["internal"] or data.get("status"):
                raise ApplicationError("Customers cannot add notes or set the status.", {"internal": "agents only"})
            message = ticket_customer_reply(
                ticket=ticket, body=data["body"], customer=customer_for_user(user=request.user), channel=Channel.API
            )
        return Response(MessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)
