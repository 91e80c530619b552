from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import Organization, Product
from outreach.models import Campaign, Incident, IncidentUpdate, Segment, Template
from outreach.selectors import campaign_summary


class IncidentUpdateOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentUpdate
        fields = ["number", "kind", "message", "notify", "created_at"]


class IncidentOutputSerializer(serializers.ModelSerializer):
    products = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    organizations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    updates = IncidentUpdateOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "kind",
            "title",
            "message",
            "severity",
            "status",
            "products",
            "regions",
            "organizations",
            "started_at",
            "scheduled_start",
            "scheduled_end",
            "resolved_at",
            "updates",
        ]


class IncidentDeclareInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, default=Incident.Severity.MAJOR)
    products = serializers.SlugRelatedField(
        many=True, slug_field="slug", queryset=Product.objects.all(), required=False, default=list
    )
    regions = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    organizations = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Organization.objects.all(), required=False, default=list
    )
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    scheduled_start = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Give it (and scheduled_end) to announce maintenance."
    )
    scheduled_end = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict) -> dict:
        if not (attrs["products"] or attrs["regions"] or attrs["organizations"]):
            raise serializers.ValidationError({"products": "Give at least one product, region or organization."})
        if (attrs["scheduled_start"] is None) != (attrs["scheduled_end"] is None):
            raise serializers.ValidationError({"scheduled_end": "Give both scheduled_start and scheduled_end."})
        return attrs


class IncidentMessageInputSerializer(serializers.Serializer):
    message = serializers.CharField()


class IncidentResolveInputSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, default="")


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    template = serializers.PrimaryKeyRelatedField(queryset=Template.objects.all())
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all())
    schedule = serializers.ChoiceField(choices=Campaign.Schedule.choices, default=Campaign.Schedule.NOW)
    send_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    local_hour = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=23)
    throttle_per_minute = serializers.IntegerField(required=False, default=1000, min_value=1)
    hold_days = serializers.IntegerField(required=False, default=14, min_value=0, max_value=90)


class ProgressOutputSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    sending = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    held = serializers.IntegerField(help_text="Waiting for the customer's open tickets to be solved.")
    planned = serializers.IntegerField()
    planning_done = serializers.BooleanField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()


class CampaignSummaryOutputSerializer(ProgressOutputSerializer):
    """``outreach.selectors.campaign_summary``: what the page shows, field for field."""

    state = serializers.ChoiceField(choices=Campaign.Status.choices)
    state_label = serializers.CharField()
    audience = serializers.IntegerField(allow_null=True, help_text="Customers addressed; null before planning.")
    audience_final = serializers.BooleanField()
    can_cancel = serializers.BooleanField()


class CampaignOutputSerializer(serializers.ModelSerializer):
    """``status`` is the derived state of ``campaign_summary`` (the same the page shows), and ``summary`` its counts.

    A list passes ``context={"summaries": campaign_summaries(...)}`` so that it costs two queries, not two a row.
    """

    status = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "template",
            "segment",
            "schedule",
            "send_at",
            "local_hour",
            "throttle_per_minute",
            "hold_days",
            "status",
            "summary",
            "created_at",
            "started_at",
            "finished_at",
            "cancelled_at",
        ]

    def _summary(self, campaign: Campaign) -> dict[str, Any]:
        summaries = self.context.setdefault("summaries", {})
        if campaign.pk not in summaries:
            summaries[campaign.pk] = campaign_summary(campaign=campaign)
        return summaries[campaign.pk]

    @extend_schema_field(serializers.ChoiceField(choices=Campaign.Status.choices))
    def get_status(self, campaign: Campaign) -> str:
        return self._summary(campaign)["state"]

    @extend_schema_field(CampaignSummaryOutputSerializer)
    def get_summary(self, campaign: Campaign) -> dict[str, Any]:
        return CampaignSummaryOutputSerializer(self._summary(campaign)).data
