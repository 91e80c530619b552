from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import Can, IsAgent
from core.params import parse_choice, parse_id
from customers.api.serializers import DeliveryOutputSerializer
from customers.models import Delivery
from outreach import selectors
from outreach.api.serializers import (
    CampaignInputSerializer,
    CampaignOutputSerializer,
    CampaignSummaryOutputSerializer,
    IncidentDeclareInputSerializer,
    IncidentMessageInputSerializer,
    IncidentOutputSerializer,
    IncidentResolveInputSerializer,
    IncidentUpdateOutputSerializer,
    ProgressOutputSerializer,
)
from outreach.models import Campaign, Incident
from outreach.services import (
    campaign_cancel,
    campaign_create,
    campaign_schedule,
    incident_declare,
    incident_resolve,
    incident_update_post,
    maintenance_schedule,
)


def _page(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(name, {"results": item, "next_cursor": serializers.CharField(allow_null=True)})


class IncidentListApi(APIView):
    permission_classes = [IsAgent, Can("incident.declare", methods=("POST",))]

    @extend_schema(
        responses=_page("IncidentPage", IncidentOutputSerializer(many=True)),
        operation_id="incidents_list",
        parameters=[OpenApiParameter("status", str), OpenApiParameter("cursor", str)],
    )
    def get(self, request: Request) -> Response:
        page = selectors.incident_list(
            status=parse_choice(request.query_params, "status", choices=Incident.Status.values),
            cursor=request.query_params.get("cursor"),
        )
        return Response(
            {"results": IncidentOutputSerializer(page.items, many=True).data, "next_cursor": page.next_cursor}
        )

    @extend_schema(
        request=IncidentDeclareInputSerializer,
        responses={201: IncidentOutputSerializer},
        operation_id="incidents_declare",
    )
    def post(self, request: Request) -> Response:
        """Declare an outage (notifies every affected customer), or announce maintenance with scheduled times."""
        serializer = IncidentDeclareInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        start, end = data.pop("scheduled_start"), data.pop("scheduled_end")
        if start is not None:
            data.pop("started_at")
            incident = maintenance_schedule(**data, scheduled_start=start, scheduled_end=end, actor=request.user)
        else:
            incident = incident_declare(**data, actor=request.user)
        return Response(IncidentOutputSerializer(incident).data, status=status.HTTP_201_CREATED)


class IncidentDetailApi(APIView):
    @extend_schema(responses=IncidentOutputSerializer)
    def get(self, request: Request, incident_id: int) -> Response:
        return Response(IncidentOutputSerializer(selectors.incident_get(incident_id=incident_id)).data)


class IncidentUpdateApi(APIView):
    permission_classes = [IsAgent, Can("incident.declare")]

    @extend_schema(request=IncidentMessageInputSerializer, responses={201: IncidentUpdateOutputSerializer})
    def post(self, request: Request, incident_id: int) -> Response:
        """Post an update; the same customers are notified again."""
        incident = selectors.incident_get(incident_id=incident_id)
        serializer = IncidentMessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        update = incident_update_post(incident=incident, actor=request.user, **serializer.validated_data)
        return Response(IncidentUpdateOutputSerializer(update).data, status=status.HTTP_201_CREATED)


class IncidentResolveApi(APIView):
    permission_classes = [IsAgent, Can("incident.declare")]

    @extend_schema(request=IncidentResolveInputSerializer, responses=IncidentOutputSerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        incident = selectors.incident_get(incident_id=incident_id)
        serializer = IncidentResolveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = incident_resolve(incident=incident, actor=request.user, **serializer.validated_data)
        return Response(IncidentOutputSerializer(selectors.incident_get(incident_id=incident.pk)).data)


class IncidentProgressApi(APIView):
    @extend_schema(responses=ProgressOutputSerializer)
    def get(self, request: Request, incident_id: int) -> Response:
        incident = selectors.incident_get(incident_id=incident_id)
        return Response(ProgressOutputSerializer(selectors.incident_progress(incident=incident)).data)


class CampaignListApi(APIView):
    permission_classes = [IsAgent, Can("campaign.draft", methods=("POST",))]

    @extend_schema(
        responses=_page("CampaignPage", CampaignOutputSerializer(many=True)),
        operation_id="campaigns_list",
        parameters=[OpenApiParameter("status", str), OpenApiParameter("cursor", str)],
    )
    def get(self, request: Request) -> Response:
        page = selectors.campaign_list(
            status=parse_choice(request.query_params, "status", choices=Campaign.Status.values),
            cursor=request.query_params.get("cursor"),
        )
        summaries = selectors.campaign_summaries(campaigns=list(page.items))
        data = CampaignOutputSerializer(page.items, many=True, context={"summaries": summaries}).data
        return Response({"results": data, "next_cursor": page.next_cursor})

    @extend_schema(
        request=CampaignInputSerializer, responses={201: CampaignOutputSerializer}, operation_id="campaigns_create"
    )
    def post(self, request: Request) -> Response:
        """Create a draft campaign; schedule it with ``/campaigns/{id}/schedule/``."""
        serializer = CampaignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(**serializer.validated_data, actor=request.user)
        return Response(CampaignOutputSerializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    @extend_schema(responses=CampaignOutputSerializer)
    def get(self, request: Request, campaign_id: int) -> Response:
        return Response(CampaignOutputSerializer(selectors.campaign_get(campaign_id=campaign_id)).data)


class CampaignScheduleApi(APIView):
    permission_classes = [IsAgent, Can("campaign.send")]

    @extend_schema(request=None, responses=CampaignOutputSerializer)
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = campaign_schedule(campaign=selectors.campaign_get(campaign_id=campaign_id), actor=request.user)
        return Response(CampaignOutputSerializer(selectors.campaign_get(campaign_id=campaign.pk)).data)


class CampaignCancelApi(APIView):
    permission_classes = [IsAgent, Can("campaign.send")]

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "CampaignCancelled", {"campaign": CampaignOutputSerializer(), "not_sent": serializers.IntegerField()}
        ),
    )
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = selectors.campaign_get(campaign_id=campaign_id)
        stopped = campaign_cancel(campaign=campaign, actor=request.user)
        return Response(
            {
                "campaign": CampaignOutputSerializer(selectors.campaign_get(campaign_id=campaign.pk)).data,
                "not_sent": stopped,
            }
        )


class CampaignProgressApi(APIView):
    @extend_schema(responses=CampaignSummaryOutputSerializer)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = selectors.campaign_get(campaign_id=campaign_id)
        return Response(CampaignSummaryOutputSerializer(selectors.campaign_summary(campaign=campaign)).data)


class DeliveryListApi(APIView):
    @extend_schema(
        responses=_page("DeliveryPage", DeliveryOutputSerializer(many=True)),
        operation_id="deliveries_list",
        parameters=[
            OpenApiParameter("source", str, description="e.g. incident:12, campaign:3"),
            OpenApiParameter("customer", int),
            OpenApiParameter("status", str),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        page = selectors.delivery_list(
            source=params.get("source", ""),
            status=parse_choice(params, "status", choices=Delivery.Status.values),
            customer_id=parse_id(params, "customer"),
            cursor=params.get("cursor"),
        )
        return Response(
            {"results": DeliveryOutputSerializer(page.items, many=True).data, "next_cursor": page.next_cursor}
        )


class DeliveryDetailApi(APIView):
    @extend_schema(responses=DeliveryOutputSerializer)
    def get(self, request: Request, delivery_id: int) -> Response:
        return Response(DeliveryOutputSerializer(selectors.delivery_get(delivery_id=delivery_id)).data)
