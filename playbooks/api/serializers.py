from rest_framework import serializers

from core.params import MAX_ID
from playbooks.models import Playbook, PlaybookRun, PlaybookRunLog, PlaybookStep, RunState, Signal


class SignalOutputSerializer(serializers.ModelSerializer):
    active_matches = serializers.IntegerField(read_only=True)

    class Meta:
        model = Signal
        fields = [
            "id",
            "name",
            "kind",
            "scope",
            "params",
            "weight",
            "is_active",
            "interval_seconds",
            "description",
            "last_evaluated_at",
            "last_duration_ms",
            "active_matches",
        ]


class PlaybookStepOutputSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="template.name", allow_null=True, default=None)
    tag = serializers.CharField(source="tag.name", allow_null=True, default=None)
    wait_days = serializers.FloatField(allow_null=True)

    class Meta:
        model = PlaybookStep
        fields = ["position", "action", "template", "tag", "wait_days", "check_mode", "check_event_kind", "note"]


class PlaybookOutputSerializer(serializers.ModelSerializer):
    signal = serializers.PrimaryKeyRelatedField(read_only=True)
    signal_name = serializers.CharField(source="signal.name")
    owner_agent = serializers.EmailField(source="owner_agent.email", allow_null=True, default=None)
    owner_queue = serializers.SlugField(source="owner_queue.slug", allow_null=True, default=None)
    segment = serializers.CharField(source="segment.name", allow_null=True, default=None)
    steps = PlaybookStepOutputSerializer(many=True)

    class Meta:
        model = Playbook
        fields = [
            "id",
            "name",
            "description",
            "signal",
            "signal_name",
            "segment",
            "owner_agent",
            "owner_queue",
            "cooldown_days",
            "is_active",
            "steps",
        ]


class PlaybookRunLogOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlaybookRunLog
        fields = ["position", "action", "outcome", "detail", "created_at"]


class PlaybookRunOutputSerializer(serializers.ModelSerializer):
    playbook_name = serializers.CharField(source="playbook.name")
    ticket = serializers.IntegerField(source="ticket_id", allow_null=True)
    ticket_number = serializers.IntegerField(source="ticket.number", allow_null=True, default=None)
    customer = serializers.IntegerField(source="customer_id")

    class Meta:
        model = PlaybookRun
        fields = [
            "id",
            "playbook",
            "playbook_name",
            "customer",
            "state",
            "current_step",
            "next_due_at",
            "ticket",
            "ticket_number",
            "evidence",
            "started_at",
            "finished_at",
            "stop_reason",
        ]


class PlaybookRunDetailOutputSerializer(PlaybookRunOutputSerializer):
    logs = PlaybookRunLogOutputSerializer(many=True)

    class Meta(PlaybookRunOutputSerializer.Meta):
        fields = [*PlaybookRunOutputSerializer.Meta.fields, "logs"]


class PlaybookRunFilterSerializer(serializers.Serializer):
    playbook = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    state = serializers.ChoiceField(choices=RunState.choices, required=False)
    cursor = serializers.CharField(required=False, max_length=500)


class PlaybookRunStopInputSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=200, default="")
