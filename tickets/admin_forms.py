"""The admin's forms for what managers configure: choices to tick and one box per weekday, never JSON.

Each form checks what the manager typed field by field (the model's ``clean`` checks it again, so an
import or a shell session cannot store "hgih" either), and a bad value is an error on its field with
the typed text kept.
"""

import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from customers.models import Organization
from tickets.business_time import parse_weekly_hours
from tickets.models import BusinessCalendar, CustomField, Priority, SLAPolicy, SLATarget

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class SLAPolicyAdminForm(forms.ModelForm):
    priorities = forms.MultipleChoiceField(
        choices=Priority.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Condition: the ticket has one of these priorities. None ticked: any priority.",
    )
    plans = forms.MultipleChoiceField(
        choices=Organization.Plan.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Condition: the requester's organization is on one of these plans. None ticked: any plan.",
    )

    class Meta:
        model = SLAPolicy
        fields = [
            "name", "position", "is_active", "calendar", "queues", "priorities", "plans", "raise_priority_on_breach",
        ]  # fmt: skip

    def clean_priorities(self) -> list[str]:
        # in the order of the choices, so two policies with the same condition store the same list
        chosen = set(self.cleaned_data["priorities"])
        return [value for value in Priority.values if value in chosen]

    def clean_plans(self) -> list[str]:
        chosen = set(self.cleaned_data["plans"])
        return [value for value in Organization.Plan.values if value in chosen]


class SLATargetAdminForm(forms.ModelForm):
    class Meta:
        model = SLATarget
        fields = ["priority", "first_reply_minutes", "next_reply_minutes", "resolution_minutes"]
        widgets = {
            name: forms.NumberInput(attrs={"min": 1, "size": 6})
            for name in ("first_reply_minutes", "next_reply_minutes", "resolution_minutes")
        }


def _hours_field(day: int) -> forms.CharField:
    return forms.CharField(
        label=f"{WEEKDAYS[day]} hours",
        required=False,
        help_text="e.g. 09:00-17:00, or 09:00-12:00, 13:00-17:00; 24:00 ends at midnight; empty: closed."
        if day == 0
        else "",
        widget=forms.TextInput(attrs={"size": 30, "placeholder": "closed"}),
    )


class BusinessCalendarAdminForm(forms.ModelForm):
    """Weekly hours as one text box per weekday: ``09:00-12:00, 13:00-17:00``; empty is closed."""

    timezone = forms.ChoiceField(choices=_timezone_choices, initial="UTC")
    # declared on the class, not in __init__: the admin shows the fields a form class declares
    hours_0 = _hours_field(0)
    hours_1 = _hours_field(1)
    hours_2 = _hours_field(2)
    hours_3 = _hours_field(3)
    hours_4 = _hours_field(4)
    hours_5 = _hours_field(5)
    hours_6 = _hours_field(6)

    class Meta:
        model = BusinessCalendar
        fields = ["name", "timezone"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        weekly = self.instance.weekly_hours if self.instance.pk else BusinessCalendar().weekly_hours
        for day in range(7):
            spans = (weekly or {}).get(str(day)) or []
            self.initial.setdefault(f"hours_{day}", ", ".join(f"{start}-{end}" for start, end in spans))

    def _clean_day(self, day: int) -> list[list[str]]:
        text = self.cleaned_data.get(f"hours_{day}", "") or ""
        spans = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            pieces = [p.strip() for p in part.replace("\N{EN DASH}", "-").split("-")]
            if len(pieces) != 2 or not all(pieces):
                raise ValidationError(f"{part!r} is not a span like 09:00-17:00.")
            spans.append(pieces)
        try:
            parse_weekly_hours({str(day): spans})
        except ValueError as exc:
            raise ValidationError(str(exc).replace(f"weekday {day}", WEEKDAYS[day])) from exc
        return [[_normal_time(start), _normal_time(end)] for start, end in spans]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        weekly: dict[str, list[list[str]]] = {}
        for day in range(7):
            try:
                spans = self._clean_day(day)
            except ValidationError as exc:
                self.add_error(f"hours_{day}", exc)
                continue
            if spans:
                weekly[str(day)] = spans
        if not self.errors and not weekly:
            raise ValidationError("A calendar needs working hours on at least one weekday.")
        self.instance.weekly_hours = weekly
        return cleaned


def _normal_time(value: str) -> str:
    hours, minutes = value.split(":")
    return f"{int(hours):02d}:{int(minutes):02d}"


class CustomFieldAdminForm(forms.ModelForm):
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='For "choice": the allowed values, one per line.',
    )

    class Meta:
        model = CustomField
        fields = ["label", "key", "type", "choices", "required", "position", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and isinstance(self.instance.choices, list):
            self.initial["choices"] = "\n".join(str(value) for value in self.instance.choices)

    def clean_choices(self) -> list[str]:
        values = [line.strip() for line in (self.cleaned_data.get("choices") or "").splitlines() if line.strip()]
        if len(set(values)) != len(values):
            raise ValidationError("Each value once.")
        return values
