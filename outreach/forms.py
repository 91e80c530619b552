from typing import Any

from django import forms

from core.forms import IdModelMultipleChoiceField
from customers.models import Category, Customer, Organization, Product, Tag
from outreach.models import Campaign, Incident, Segment, Template
from tickets.models import SatisfactionRating


class CommaListField(forms.CharField):
    """``eu-west, us-east`` in a text box, a list in ``cleaned_data``."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
        return [part.strip() for part in (value or "").split(",") if part.strip()]


class TemplateForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["name", "category", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 10})}
        help_texts = {
            "body": "Placeholders: {{ customer.name }}, {{ customer.first_name }}, {{ organization.name }}, "
            "{{ ticket.subject }}, {{ incident.title }}, {{ article.title }}, {{ unsubscribe_url }}.",
        }


class PreviewForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.all(), widget=forms.NumberInput, label="Customer id")


class SegmentForm(forms.ModelForm):
    plans = forms.MultipleChoiceField(
        choices=Organization.Plan.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    regions = CommaListField(required=False, help_text="Comma-separated, e.g. eu-west, us-east.")
    products = IdModelMultipleChoiceField(queryset=Product.objects.all(), required=False)
    tags = IdModelMultipleChoiceField(queryset=Tag.objects.all(), required=False)

    class Meta:
        model = Segment
        fields = [
            "name",
            "description",
            "plans",
            "regions",
            "products",
            "tags",
            "created_after",
            "created_before",
            "last_seen_after",
            "last_seen_before",
            "open_tickets",
            "health_below",
        ]
        widgets = {
            name: forms.DateTimeInput(attrs={"type": "datetime-local"})
            for name in ("created_after", "created_before", "last_seen_after", "last_seen_before")
        }


class SegmentAdminForm(forms.ModelForm):
    """The admin's segment: plans to tick and regions as text, not JSON; the admin's own widgets for the rest."""

    plans = forms.MultipleChoiceField(
        choices=Organization.Plan.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Organizations on any of these plans. None ticked: any plan.",
    )
    regions = CommaListField(required=False, help_text="Comma-separated, e.g. eu-west, us-east. Empty: any region.")

    class Meta:
        model = Segment
        fields = SegmentForm.Meta.fields

    def clean_plans(self) -> list[str]:
        chosen = set(self.cleaned_data["plans"])
        return [value for value in Organization.Plan.values if value in chosen]


class IncidentDeclareForm(forms.Form):
    title = forms.CharField(max_length=200)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="What customers read.")
    severity = forms.ChoiceField(choices=Incident.Severity.choices, initial=Incident.Severity.MAJOR)
    products = IdModelMultipleChoiceField(queryset=Product.objects.all(), required=False)
    regions = CommaListField(required=False, help_text="Comma-separated, e.g. eu-west.")
    organizations = IdModelMultipleChoiceField(queryset=Organization.objects.all(), required=False)
    started_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class MaintenanceForm(forms.Form):
    title = forms.CharField(max_length=200)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    scheduled_start = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    scheduled_end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    products = IdModelMultipleChoiceField(queryset=Product.objects.all(), required=False)
    regions = CommaListField(required=False)
    organizations = IdModelMultipleChoiceField(queryset=Organization.objects.all(), required=False)


class IncidentUpdateForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Update")


class IncidentResolveForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Resolution message")


class LinkTicketForm(forms.Form):
    ticket_number = forms.IntegerField(label="Ticket number", min_value=1)


class SolveLinkedForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Reply to every linked ticket")


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name", "template", "segment", "schedule", "send_at", "local_hour", "throttle_per_minute", "hold_days",
        ]  # fmt: skip
        widgets = {"send_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = Template.objects.exclude(
            category__in=[Category.SERVICE, Category.OUTAGE]
        ).order_by("name")
        self.fields["hold_days"].required = False  # blank: the default 14 days

    def clean_hold_days(self) -> int:
        value = self.cleaned_data.get("hold_days")
        return Campaign._meta.get_field("hold_days").default if value is None else value


class SurveyForm(forms.Form):
    rating = forms.ChoiceField(
        choices=[("good", "Good, I'm satisfied"), ("bad", "Bad, I'm not satisfied")], widget=forms.RadioSelect
    )
    still_broken = forms.BooleanField(required=False, label="My problem is still not fixed")
    reason = forms.ChoiceField(
        choices=SatisfactionRating.Reason.choices, required=False, label="If it was bad, what was wrong?"
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=5000)
