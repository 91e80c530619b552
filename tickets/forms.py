"""Forms of the agent workspace. They validate input; the services decide."""

from typing import Any

from django import forms

from core.models import User
from core.params import ParameterError, to_id
from tickets.models import CustomField, Kind, Priority, Queue, Status
from tickets.selectors import agents_active


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class ReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"id": "reply-body", "rows": 6}), max_length=100_000)
    internal = forms.BooleanField(required=False, label="Internal note")
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Default (pending after a public reply)"), *[c for c in Status.choices if c[0] != Status.CLOSED]],
        label="Then set status",
    )
    attachments = MultipleFileField(required=False)
    expected_version = forms.IntegerField(widget=forms.HiddenInput)


def _custom_form_field(definition: CustomField) -> forms.Field:
    common = {"label": definition.label, "required": False}
    if definition.type == CustomField.Type.NUMBER:
        return forms.DecimalField(**common)
    if definition.type == CustomField.Type.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if definition.type == CustomField.Type.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *[(c, c) for c in definition.choices or []]], **common)
    if definition.type == CustomField.Type.CHECKBOX:
        return forms.BooleanField(**common)
    return forms.CharField(max_length=2000, **common)


class PropertiesForm(forms.Form):
    status = forms.ChoiceField(choices=[c for c in Status.choices if c[0] != Status.CLOSED])
    priority = forms.ChoiceField(choices=Priority.choices)
    kind = forms.ChoiceField(choices=Kind.choices)
    queue = forms.ModelChoiceField(queryset=Queue.objects.filter(is_active=True), empty_label=None)
    assignee = forms.ModelChoiceField(required=False, queryset=User.objects.none(), empty_label="Unassigned")
    tags = forms.CharField(required=False, max_length=500, help_text="Separate with spaces or commas.")
    ccs = forms.CharField(required=False, max_length=2000, label="CCs", help_text="E-mail addresses, comma-separated.")
    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, custom_fields: list[CustomField] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agents_active()
        self.custom_definitions = list(custom_fields or [])
        for definition in self.custom_definitions:
            self.fields[f"cf_{definition.key}"] = _custom_form_field(definition)

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data["tags"].replace(",", " ")
        return sorted({tag.strip().lower() for tag in raw.split() if tag.strip()})

    def clean_ccs(self) -> list[str]:
        emails = [e.strip().lower() for e in self.cleaned_data["ccs"].replace(";", ",").replace(" ", ",").split(",")]
        emails = [e for e in emails if e]
        validator = forms.EmailField()
        for email in emails:
            validator.clean(email)
        return sorted(set(emails))

    def other_fields(self) -> list[forms.BoundField]:
        """The fields the template does not write out by hand (tags, CCs, custom fields)."""
        written = {"status", "priority", "kind", "queue", "assignee", "expected_version"}
        return [field for field in self.visible_fields() if field.name not in written]

    def custom_values(self) -> dict[str, Any]:
        """The custom fields' values keyed as the ticket stores them (JSON scalars)."""
        values: dict[str, Any] = {}
        for definition in self.custom_definitions:
            value = self.cleaned_data.get(f"cf_{definition.key}")
            if definition.type == CustomField.Type.DATE and value:
                value = value.isoformat()
            elif definition.type == CustomField.Type.NUMBER and value is not None:
                value = float(value)
            elif definition.type == CustomField.Type.CHECKBOX:
                value = bool(value)
            values[definition.key] = value if value not in ("",) else None
        return values


class MergeForm(forms.Form):
    into = forms.CharField(max_length=20, label="Merge into ticket", help_text="Its number, e.g. #1042")
    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    #: the number of the target the agent confirmed merging into, having been told it is another customer's
    confirm = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_into(self) -> int:
        try:
            return to_id(self.cleaned_data["into"].strip().lstrip("#"), field="into")
        except ParameterError:
            raise forms.ValidationError("Give a ticket number such as #1042.") from None


class BulkForm(forms.Form):
    ACTIONS = [("assign", "Assign to"), ("status", "Set status"), ("priority", "Set priority"), ("tag", "Add tag")]

    ticket = forms.TypedMultipleChoiceField(
        coerce=int, choices=[], error_messages={"required": "Select tickets first."}
    )
    action = forms.ChoiceField(choices=ACTIONS)
    value = forms.CharField(max_length=120, required=False)

    def __init__(self, *args: Any, ticket_ids: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ticket"].choices = [(pk, pk) for pk in ticket_ids or []]


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=120)
    is_shared = forms.BooleanField(required=False, label="Share with every agent")


class SavedViewRenameForm(forms.Form):
    name = forms.CharField(max_length=120, label="New name")


class AvailabilityForm(forms.Form):
    """The agent's own switch: available for round-robin assignment in all their queues, or away."""

    available = forms.ChoiceField(choices=[("on", "Available"), ("off", "Away")])


class TicketCreateForm(forms.Form):
    requester_email = forms.EmailField(label="Requester e-mail")
    requester_name = forms.CharField(max_length=200, required=False, label="Requester name")
    subject = forms.CharField(max_length=300)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=100_000, label="Description")
    queue = forms.ModelChoiceField(queryset=Queue.objects.filter(is_active=True), empty_label=None)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.QUESTION)
    attachments = MultipleFileField(required=False)
