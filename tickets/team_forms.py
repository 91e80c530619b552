"""Forms of the team pages (tickets.team_views)."""

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from core.forms import IdModelMultipleChoiceField
from tickets.models import Queue

ROLE_CHOICES = [("agent", "Agent: works the queues"), ("manager", "Manager: also invites, sends and configures")]


class _TeamFields(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="agent", widget=forms.RadioSelect)
    queues = IdModelMultipleChoiceField(
        queryset=Queue.objects.filter(is_active=True).order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    on_call = forms.BooleanField(
        required=False, label="On call", help_text="May declare incidents and post updates to customers (agents)."
    )


class TeamInviteForm(_TeamFields):
    email = forms.EmailField(label="E-mail")
    name = forms.CharField(max_length=200, required=False)
    field_order = ["email", "name", "role", "queues", "on_call"]


class TeamMemberForm(_TeamFields):
    pass


class AcceptInviteForm(forms.Form):
    password1 = forms.CharField(
        label="New password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="New password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["password1"].help_text = password_validation.password_validators_help_text_html()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            try:
                password_validation.validate_password(first, self.user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data
