from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import keyset_page
from playbooks import selectors
from playbooks.api.serializers import (
    PlaybookOutputSerializer,
    PlaybookRunDetailOutputSerializer,
    PlaybookRunFilterSerializer,
    PlaybookRunOutputSerializer,
    PlaybookRunStopInputSerializer,
    SignalOutputSerializer,
)
from playbooks.services import playbook_run_stop


class SignalListApi(APIView):
    @extend_schema(responses=SignalOutputSerializer(many=True), operation_id="signals_list")
    def get(self, request: Request) -> Response:
        return Response(SignalOutputSerializer(selectors.signals_with_active_matches(), many=True).data)


class SignalDetailApi(APIView):
    @extend_schema(responses=SignalOutputSerializer)
    def get(self, request: Request, signal_id: int) -> Response:
        return Response(SignalOutputSerializer(selectors.signal_get(signal_id=signal_id)).data)


class PlaybookListApi(APIView):
    @extend_schema(responses=PlaybookOutputSerializer(many=True), operation_id="playbooks_list")
    def get(self, request: Request) -> Response:
        playbooks = selectors.playbooks_with_steps()
        return Response(PlaybookOutputSerializer(playbooks, many=True).data)


class PlaybookDetailApi(APIView):
    @extend_schema(responses=PlaybookOutputSerializer)
    def get(self, request: Request, playbook_id: int) -> Response:
        playbook = selectors.playbook_get(playbook_id=playbook_id)
        return Response(PlaybookOutputSerializer(playbook).data)


class PlaybookRunListApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "PlaybookRunPage",
            {"results": PlaybookRunOutputSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)},
        ),
        operation_id="playbook_runs_list",
        parameters=[
            OpenApiParameter("playbook", int),
            OpenApiParameter("customer", int),
            OpenApiParameter("state", str),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        filters = PlaybookRunFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = dict(filters.validated_data)
        cursor = data.pop("cursor", None)
        page = keyset_page(selectors.run_list(filters=data), ordering=["-started_at", "-id"], cursor=cursor, size=50)
        return Response(
            {"results": PlaybookRunOutputSerializer(page.items, many=True).data, "next_cursor": page.next_cursor}
        )


class PlaybookRunDetailApi(APIView):
    @extend_schema(responses=PlaybookRunDetailOutputSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.run_get(run_id=run_id)
        return Response(PlaybookRunDetailOutputSerializer(run).data)


class PlaybookRunStopApi(APIView):
    @extend_schema(request=PlaybookRunStopInputSerializer, responses=PlaybookRunDetailOutputSerializer)
    def post(self, request: Request, run_id: int) -> Response:
        """Stop an active run: no further step runs. A finished run answers 400."""
        run = selectors.run_get(run_id=run_id)
        serializer = PlaybookRunStopInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = playbook_run_stop(run=run, actor=request.user, reason=serializer.validated_data["reason"])
        return Response(PlaybookRunDetailOutputSerializer(selectors.run_get(run_id=run.pk)).data)
