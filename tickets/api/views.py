"""The tickets API: the same selectors, services and visibility as the pages."""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.throttling import RateLimitThrottle
from core.exceptions import ApplicationError
from core.roles import is_agent
from customers.selectors import customer_for_user
from tickets.api.serializers import (
    CustomerMessageOutputSerializer,
    CustomerTicketCreateInputSerializer,
    CustomerTicketOutputSerializer,
    CustomerTicketPageSerializer,
    MessageCreateInputSerializer,
    MessageOutputSerializer,
    TicketCreateInputSerializer,
    TicketMergeInputSerializer,
    TicketOutputSerializer,
    TicketPageSerializer,
    TicketUpdateInputSerializer,
)
from tickets.filters import BUILTIN_VIEWS, SORT_LABELS, TicketFilters
from tickets.models import Channel
from tickets.policies import Action, ticket_access
from tickets.selectors import agent_by_email, ticket_get_for, ticket_list, ticket_thread
from tickets.services import ticket_create, ticket_customer_reply, ticket_merge, ticket_reply, ticket_update
from tickets.services.requests import request_submit

LIST_PARAMETERS = [
    OpenApiParameter("view", str, enum=list(BUILTIN_VIEWS), description="A built-in view (agents)."),
    OpenApiParameter("status", str, many=True),
    OpenApiParameter("priority", str, many=True),
    OpenApiParameter("queue", int, many=True, description="Queue id."),
    OpenApiParameter("assignee", str, description='An agent id, "me" or "none".'),
    OpenApiParameter("tag", str, many=True),
    OpenApiParameter("requester", int, description="Customer id."),
    OpenApiParameter("requester_email", str),
    OpenApiParameter("organization", int),
    OpenApiParameter("kind", str, many=True),
    OpenApiParameter("q", str, description="Text in the subject, a ticket number, or the requester's e-mail start."),
    OpenApiParameter("sort", str, enum=list(SORT_LABELS)),
    OpenApiParameter("cursor", str, description="next_cursor of the previous page."),
]


def _ticket_out(request: Request, ticket: Any) -> dict[str, Any]:
    """An agent sees the whole ticket; a customer what the help center shows."""
    serializer = TicketOutputSerializer if is_agent(request.user) else CustomerTicketOutputSerializer
    return serializer(ticket).data


def _tickets_out(request: Request, tickets: list[Any]) -> list[Any]:
    serializer = TicketOutputSerializer if is_agent(request.user) else CustomerTicketOutputSerializer
    return serializer(tickets, many=True).data


def _message_out(request: Request, messages: Any, *, many: bool = False) -> Any:
    serializer = MessageOutputSerializer if is_agent(request.user) else CustomerMessageOutputSerializer
    return serializer(messages, many=many).data


TICKET_FOR_VIEWER = PolymorphicProxySerializer(
    component_name="TicketForViewer",
    serializers=[TicketOutputSerializer, CustomerTicketOutputSerializer],
    resource_type_field_name=None,
)
TICKET_PAGE_FOR_VIEWER = PolymorphicProxySerializer(
    component_name="TicketPageForViewer",
    serializers=[TicketPageSerializer, CustomerTicketPageSerializer],
    resource_type_field_name=None,
)
MESSAGE_FOR_VIEWER = PolymorphicProxySerializer(
    component_name="MessageForViewer",
    serializers=[MessageOutputSerializer, CustomerMessageOutputSerializer],
    resource_type_field_name=None,
)

MESSAGES_FOR_VIEWER = PolymorphicProxySerializer(
    component_name="MessageForViewer",
    serializers=[MessageOutputSerializer, CustomerMessageOutputSerializer],
    resource_type_field_name=None,
    many=True,
)


class CustomerTicketCreateThrottle(RateLimitThrottle):
    """Customers create tickets through the API as fast as through the help-center form (``RATELIMIT_SUBMIT``)."""

    rate = "RATELIMIT_SUBMIT"
    group = "tickets.customer-create"
    key = "user"

    def applies(self, request: Request, view: Any) -> bool:
        return request.method == "POST" and not is_agent(request.user)


class TicketListApi(APIView):
    """Agents get whole tickets; customers (their own, and their organization's where it shares) only what the
    help center shows them."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [CustomerTicketCreateThrottle]

    @extend_schema(parameters=LIST_PARAMETERS, responses=TICKET_PAGE_FOR_VIEWER, operation_id="tickets_list")
    def get(self, request: Request) -> Response:
        filters = TicketFilters.from_query(request.query_params)  # a bad value: 400 naming each field
        view = filters.view if is_agent(request.user) else ""  # the built-in views are the agent's queue
        page = ticket_list(
            viewer=request.user,
            view=view or None,
            filters=filters,
            sort=filters.sort,
            cursor=request.query_params.get("cursor"),
        )
        return Response({"results": _tickets_out(request, page.items), "next_cursor": page.next_cursor})

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="TicketCreateForViewer",
            serializers=[TicketCreateInputSerializer, CustomerTicketCreateInputSerializer],
            resource_type_field_name=None,
        ),
        responses={201: TICKET_FOR_VIEWER},
    )
    def post(self, request: Request) -> Response:
        """Agents file for a requester and may set queue, priority, kind and tags. A customer gives a subject,
        a body and optionally a product, as in the help center (and as often: ``RATELIMIT_SUBMIT``)."""
        if not is_agent(request.user):
            return self._customer_create(request)
        serializer = TicketCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not data.get("requester_email"):
            raise ApplicationError("Name the requester.", {"requester_email": "required for agents"})
        ticket = ticket_create(  # the requester's record is found or created with the ticket, or not at all
            requester_email=data["requester_email"],
            requester_name=data["requester_name"],
            subject=data["subject"],
            body=data["body"],
            actor=request.user,
            queue=data.get("queue"),
            channel=Channel.API,
            kind=data["kind"],
            priority=data["priority"],
            tags=data["tags"],
        )
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket.pk)
        return Response(TicketOutputSerializer(ticket).data, status=status.HTTP_201_CREATED)

    def _customer_create(self, request: Request) -> Response:
        if customer_for_user(user=request.user) is None:
            raise PermissionDenied("This account has no customer record.")
        serializer = CustomerTicketCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ticket, _ = request_submit(
            user=request.user,
            subject=data["subject"],
            body=data["body"],
            product=data.get("product"),
            channel=Channel.API,
        )
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket.pk)
        return Response(CustomerTicketOutputSerializer(ticket).data, status=status.HTTP_201_CREATED)


class TicketDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=TICKET_FOR_VIEWER)
    def get(self, request: Request, ticket_id: int) -> Response:
        return Response(_ticket_out(request, ticket_get_for(viewer=request.user, ticket_id=ticket_id)))

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

    @extend_schema(responses=MESSAGES_FOR_VIEWER)
    def get(self, request: Request, ticket_id: int) -> Response:
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
        return Response(_message_out(request, ticket_thread(ticket=ticket, viewer=request.user), many=True))

    @extend_schema(request=MessageCreateInputSerializer, responses={201: MESSAGE_FOR_VIEWER})
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
            # as whom: themselves (requester, CC, colleague), or the requester for an unconfirmed account's own
            access = ticket_access(ticket=ticket, user=request.user)
            if not access.may(Action.REPLY) or access.customer is None:
                raise Http404("No such ticket.")
            message = ticket_customer_reply(
                ticket=ticket, body=data["body"], customer=access.customer, channel=Channel.API
            )
        return Response(_message_out(request, message), status=status.HTTP_201_CREATED)


class TicketMergeApi(APIView):
    """Merge this ticket into another (agents). Across two requesters it answers 400 with
    ``extra.confirm_required`` and both customers until ``confirm`` is true."""

    @extend_schema(request=TicketMergeInputSerializer, responses=TicketOutputSerializer)
    def post(self, request: Request, ticket_id: int) -> Response:
        source = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
        serializer = TicketMergeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        target = ticket_get_for(viewer=request.user, ticket_id=data["into"])
        target = ticket_merge(
            source=source,
            target=target,
            actor=request.user,
            expected_version=data.get("expected_version"),
            confirm=data["confirm"],
        )
        return Response(TicketOutputSerializer(ticket_get_for(viewer=request.user, ticket_id=target.pk)).data)
