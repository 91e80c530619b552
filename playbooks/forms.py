"""The admin's signal form: a real field for each parameter of each kind, packed into ``Signal.params``."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from playbooks.kinds import KIND_PARAMS, ORGANIZATION_KINDS, param_fields, params_validate
from playbooks.models import Signal


def param_field_name(kind: str, name: str) -> str:
    return f"{kind}__{name}"


def _param_form_fields() -> dict[str, forms.Field]:
    """Every kind's parameters as declared fields named ``<kind>__<param>``, initially the defaults."""
    declared: dict[str, forms.Field] = {}
    for kind, defaults in KIND_PARAMS.items():
        fields = param_fields()
        for name, default in defaults.items():
            field = fields[name]
            field.initial = default
            declared[param_field_name(kind, name)] = field
    return declared


class _SignalFormBase(forms.ModelForm):
    class Meta:
        model = Signal
        fields = ["name", "kind", "scope", "weight", "interval_seconds", "is_active", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.kind in KIND_PARAMS:
            for name in KIND_PARAMS[self.instance.kind]:
                if name in (self.instance.params or {}):
                    self.initial[param_field_name(self.instance.kind, name)] = self.instance.params[name]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not kind:
            return cleaned
        raw = {name: cleaned.get(param_field_name(kind, name)) for name in KIND_PARAMS[kind]}
        try:
            self.instance.params = params_validate(kind, raw)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                field = param_field_name(kind, name) if name in KIND_PARAMS[kind] else None
                for message in messages:
                    self.add_error(field, message)
        if cleaned.get("scope") == Signal.Scope.ORGANIZATION and kind not in ORGANIZATION_KINDS:
            self.add_error("scope", "This kind is evaluated per customer.")
        return cleaned

    def _post_clean(self) -> None:
        params = self.instance.params
        super()._post_clean()  # runs Signal.clean, which validates the params again (the same function)
        if not self.errors:
            self.instance.params = params


SignalForm = type("SignalForm", (_SignalFormBase,), {"__module__": __name__, **_param_form_fields()})
