import zoneinfo

from rest_framework import serializers

from customers.models import Customer, CustomerEvent, Delivery, Organization
from customers.services.events import NO_CUSTOMER_GIVEN


class OrganizationOutputSerializer(serializers.ModelSerializer):
    domains = serializers.SlugRelatedField(many=True, read_only=True, slug_field="domain")
    products = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")

    class Meta:
        model = Organization
        fields = ["id", "name", "plan", "region", "domains", "products", "renewal_date", "created_at"]


class CustomerOutputSerializer(serializers.ModelSerializer):
    organization = serializers.PrimaryKeyRelatedField(read_only=True)
    email_undeliverable = serializers.BooleanField(
        read_only=True, help_text="A hard bounce came back for this address: outreach stops until it changes."
    )

    class Meta:
        model = Customer
        fields = [
            "id", "name", "email", "organization", "timezone", "language", "external_id",
            "created_at", "last_seen_at", "email_undeliverable", "bounced_at", "bounce_reason",
        ]  # fmt: skip


class CustomerInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all(), required=False)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")
    language = serializers.CharField(max_length=10, required=False, default="en")
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")

    def validate_timezone(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Not a known time zone (for example Europe/Berlin).")
        return value


class EventInputSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=128)
    kind = serializers.RegexField(r"^[a-z0-9_.:-]{1,64}$", help_text="e.g. login, error, export.run")
    occurred_at = serializers.DateTimeField()
    properties = serializers.DictField(required=False, default=dict)
    # exactly one of the three names the customer; null or empty counts as not given
    customer_id = serializers.IntegerField(required=False, allow_null=True)
    customer_email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
    customer_external_id = serializers.CharField(required=False, max_length=128, allow_null=True, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        given = [k for k in ("customer_id", "customer_email", "customer_external_id") if attrs.get(k) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError({"customer": NO_CUSTOMER_GIVEN})
        # the customer is resolved for the whole batch by customer_events_ingest (one query), not here per row
        return attrs


class EventBatchInputSerializer(serializers.Serializer):
    """The envelope only: each row is checked on its own (``EventInputSerializer``), so one bad row
    is reported in the results instead of refusing the batch."""

    events = serializers.ListField(child=serializers.JSONField(), allow_empty=False, max_length=1000)


class EventRowResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The row's position in ``events``.")
    event_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "unknown_customer", "invalid"])
    errors = serializers.DictField(help_text="Per-field messages for unknown_customer, invalid, duplicate.")


class EventIngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Stored before, or repeated within the batch.")
    unknown_customer = serializers.IntegerField()
    invalid = serializers.IntegerField()
    created = serializers.IntegerField(help_text="The same as ``accepted`` (kept for older clients).")
    results = EventRowResultSerializer(many=True)


class EventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerEvent
        fields = ["event_id", "customer", "kind", "occurred_at", "properties"]


class DeliveryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id", "customer", "recipient", "channel", "category", "subject", "status", "suppressed_reason",
            "attempts", "last_error", "source", "created_at", "sent_at",
        ]  # fmt: skip
