from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.conf import helpdesk_setting
from customers.api.event_rows import event_row_check
from customers.api.serializers import (
    CustomerInputSerializer,
    CustomerOutputSerializer,
    EventIngestResultSerializer,
    EventInputSerializer,
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
        request=inline_serializer("EventBatch", {"events": EventInputSerializer(many=True)}),
        responses={200: EventIngestResultSerializer, 207: EventIngestResultSerializer},
    )
    def post(self, request: Request) -> Response:
        """Post up to 1,000 product-usage events; each row gets its own result.

        ``accepted`` (stored now), ``duplicate`` (its ``event_id`` was stored before or repeats an earlier row
        of the batch: re-posting is harmless), ``unknown_customer`` or ``invalid`` (with per-field
        ``errors``). 200 when every row is stored (accepted or duplicate), 207 when some are not; a body
        that is not a list of 1 to 1,000 events is a 400.
        """
        events = request.data.get("events") if isinstance(request.data, dict) else None
        if not isinstance(events, list) or not 1 <= len(events) <= 1000:
            # the envelope is checked by hand too: DRF's JSONField re-serializes every element to check it
            raise serializers.ValidationError({"events": ["A list of 1 to 1,000 events."]})
        rows: list[dict[str, Any]] = []
        limit = helpdesk_setting("EVENT_PROPERTIES_MAX_BYTES")
        for index, raw in enumerate(events):
            # EventInputSerializer's rules, by hand (see event_rows)
            row, errors = event_row_check(raw, properties_limit=limit)
            if row is not None:
                row["index"] = index
                rows.append(row)
            else:
                event_id = raw.get("event_id") if isinstance(raw, dict) else None
                rows.append({"index": index, "event_id": str(event_id or "")[:128], "errors": errors})
        result = customer_events_ingest(events=rows)
        counts = result.counts
        body = {
            "accepted": counts["accepted"],
            "duplicates": counts["duplicate"],
            "unknown_customer": counts["unknown_customer"],
            "invalid": counts["invalid"],
            "created": counts["accepted"],
            "results": [
                {"index": r.index, "event_id": r.event_id, "status": r.status, "errors": r.errors}
                for r in result.results
            ],
        }
        return Response(body, status=status.HTTP_200_OK if result.all_stored else status.HTTP_207_MULTI_STATUS)
