from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import Product
from tickets.models import Attachment, Kind, Message, Priority, Queue, Status, Ticket

#: what an agent may set; ``closed`` only ever comes from the auto-close rule or a merge
SETTABLE_STATUS_CHOICES = [choice for choice in Status.choices if choice[0] != Status.CLOSED]


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


class AgentSerializer(PersonSerializer):
    name = serializers.CharField(source="get_full_name")


class TicketOutputSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    requester = PersonSerializer(read_only=True)
    queue = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = AgentSerializer(read_only=True, allow_null=True)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "reference",
            "subject",
            "status",
            "priority",
            "kind",
            "channel",
            "requester",
            "queue",
            "assignee",
            "tags",
            "custom_fields",
            "version",
            "created_at",
            "updated_at",
            "first_agent_reply_at",
            "solved_at",
            "closed_at",
            "reopen_count",
            "first_reply_due_at",
            "next_reply_due_at",
            "resolution_due_at",
            "next_sla_due_at",
            "merged_into",
        ]

    def get_tags(self, ticket: Ticket) -> list[str]:
        return sorted(tag.name for tag in ticket.tags.all())


class TicketPageSerializer(serializers.Serializer):
    results = TicketOutputSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


# --- what a customer sees: what the help center shows, nothing more ------------------------------------------

#: the status as the help center words it (``Ticket.customer_status_label``), as a stable code
CUSTOMER_STATUSES = {
    Status.NEW: "open", Status.OPEN: "open", Status.ON_HOLD: "open", Status.PENDING: "awaiting_your_reply",
    Status.SOLVED: "solved", Status.CLOSED: "closed",
}  # fmt: skip


class CustomerRequesterSerializer(serializers.Serializer):
    name = serializers.CharField()


class CustomerTicketOutputSerializer(serializers.ModelSerializer):
    """A customer's own (or their organization's) request: no priority, queue, assignee, tags, custom fields,
    SLA clocks or audit; the status as the help center words it."""

    reference = serializers.CharField(read_only=True)
    status = serializers.SerializerMethodField()
    status_label = serializers.CharField(source="customer_status_label", read_only=True)
    requester = CustomerRequesterSerializer(read_only=True)

    class Meta:
        model = Ticket
        fields = ["id", "number", "reference", "subject", "status", "status_label", "requester", "created_at",
                  "updated_at", "solved_at", "closed_at"]  # fmt: skip

    @extend_schema_field(serializers.ChoiceField(choices=sorted(set(CUSTOMER_STATUSES.values()))))
    def get_status(self, ticket: Ticket) -> str:
        return CUSTOMER_STATUSES[Status(ticket.status)]


class CustomerTicketPageSerializer(serializers.Serializer):
    results = CustomerTicketOutputSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class CustomerTicketCreateInputSerializer(serializers.Serializer):
    """What a customer may give, as in the help center's form; anything else is refused, not ignored."""

    subject = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=100_000)
    product = serializers.SlugRelatedField(slug_field="slug", queryset=Product.objects.all(), required=False)

    def to_internal_value(self, data: object) -> dict:
        if isinstance(data, dict):
            forbidden = sorted(set(data) - set(self.fields))
            if forbidden:
                raise serializers.ValidationError(
                    {key: ["Customers cannot set this; our team does."] for key in forbidden}
                )
        return super().to_internal_value(data)


class TicketCreateInputSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=100_000)
    requester_email = serializers.EmailField(required=False, help_text="Agents: who asked. Customers: omit.")
    requester_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    queue = serializers.SlugRelatedField(
        slug_field="slug", queryset=Queue.objects.filter(is_active=True), required=False
    )
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    kind = serializers.ChoiceField(choices=Kind.choices, default=Kind.QUESTION)
    tags = serializers.ListField(child=serializers.SlugField(max_length=64), required=False, default=list)


class TicketUpdateInputSerializer(serializers.Serializer):
    expected_version = serializers.IntegerField(required=False, help_text="Refuse (400) if the ticket changed.")
    subject = serializers.CharField(max_length=300, required=False)
    status = serializers.ChoiceField(choices=SETTABLE_STATUS_CHOICES, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    queue = serializers.SlugRelatedField(
        slug_field="slug", queryset=Queue.objects.filter(is_active=True), required=False
    )
    assignee_email = serializers.EmailField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.SlugField(max_length=64), required=False)


class AttachmentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size"]


class MessageOutputSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author_name", read_only=True)
    attachments = AttachmentOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "author",
            "by_agent",
            "is_internal",
            "channel",
            "body",
            "body_html",
            "attachments",
            "created_at",
        ]


class CustomerMessageOutputSerializer(serializers.ModelSerializer):
    """A public message as the help center shows it: an agent by first name only, never their e-mail."""

    author = serializers.SerializerMethodField()
    attachments = AttachmentOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "author", "by_agent", "body", "body_html", "attachments", "created_at"]

    def get_author(self, message: Message) -> str:
        if message.by_agent:
            name = message.author_user.name if message.author_user_id else ""
            return f"{name.split()[0]} (support)" if name.strip() else "Support"
        return message.author_customer.name if message.author_customer_id else ""


class MessageCreateInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=100_000)
    internal = serializers.BooleanField(default=False, help_text="Agents only: an internal note.")
    status = serializers.ChoiceField(choices=SETTABLE_STATUS_CHOICES, required=False)
    expected_version = serializers.IntegerField(required=False)


class TicketMergeInputSerializer(serializers.Serializer):
    into = serializers.IntegerField(help_text="The id of the ticket to merge into.")
    expected_version = serializers.IntegerField(required=False, help_text="The source ticket's version.")
    confirm = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Required when the two requesters differ: the source's messages become internal notes.",
    )
