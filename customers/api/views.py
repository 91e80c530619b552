from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.api.serializers import (
    CustomerInputSerializer,
    CustomerOutputSerializer,
    EventBatchInputSerializer,
    OrganizationOutputSerializer,
)
from customers.selectors import customer_get_for, customer_list, organization_list
from customers.services import customer_events_ingest, customer_get_or_create

PageOf = {
    "customers": inline_serializer(
        "CustomerPage",
        {"results": CustomerOutputSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True)},
    )
}


class CustomerListApi(APIView):
    @extend_schema(responses=PageOf["customers"], operation_id="customers_list")
    def get(self, request: Request) -> Response:
        page = customer_list(
            viewer=request.user, query=request.query_params.get("q", ""), cursor=request.query_params.get("cursor")
        )
        return Response(
            {"results": CustomerOutputSerializer(page.items, many=True).data, "next_cursor": page.next_cursor}
        )

    @extend_schema(
        request=CustomerInputSerializer, responses={201: CustomerOutputSerializer, 200: CustomerOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        """Create a customer, or return the existing one with that e-mail (200)."""
        serializer = CustomerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer, created = customer_get_or_create(**serializer.validated_data)
        return Response(
            CustomerOutputSerializer(customer).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class CustomerDetailApi(APIView):
    @extend_schema(responses=CustomerOutputSerializer)
    def get(self, request: Request, customer_id: int) -> Response:
        return Response(CustomerOutputSerializer(customer_get_for(viewer=request.user, customer_id=customer_id)).data)


class OrganizationListApi(APIView):
    @extend_schema(responses=OrganizationOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(OrganizationOutputSerializer(organization_list()[:500], many=True).data)


class EventIngestApi(APIView):
    @extend_schema(
        request=EventBatchInputSerializer,
        responses=inline_serializer(
            "EventIngestResult", {"created": serializers.IntegerField(), "duplicates": serializers.IntegerField()}
        ),
    )
    def post(self, request: Request) -> Response:
        """Post product-usage events; re-posting an ``event_id`` is harmless (counted as a duplicate)."""
        serializer = EventBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created, duplicates = customer_events_ingest(events=serializer.validated_data["events"])
        return Response({"created": created, "duplicates": duplicates}, status=status.HTTP_202_ACCEPTED)
