"""Form fields shared by the apps' forms, and the one way a view puts a service's error on its form."""

from typing import Any

from django import forms
from django.db import models

from core.exceptions import ApplicationError
from core.params import ParameterError, to_id


class IdModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django's ``ModelMultipleChoiceField``, refusing values that are not ids (``²``, or past 64 bits) as
    invalid choices before they reach the database: ``pk__in=[...]`` has no range check (SQLite raises
    ``OverflowError``), unlike the single-value lookups Django guards."""

    def _check_values(self, value: Any) -> Any:
        if self.to_field_name is None and isinstance(
            self.queryset.model._meta.pk, models.IntegerField | models.AutoField
        ):
            for pk in value if isinstance(value, list | tuple | set | frozenset) else [value]:
                try:
                    to_id(pk, field=self.label or "id")
                except ParameterError:
                    raise forms.ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                    ) from None
        return super()._check_values(value)


def _own_messages(value: Any) -> list[str]:
    """A field's own messages in an ``ApplicationError.extra`` value: sentences ("Already in use.").

    ``extra`` is also the API's machine-readable detail, where a field may carry a code or a value instead
    (``{"email": "taken"}``, ``{"status": "sent"}``, an id): those are not shown, the error's message is.
    """
    values = value if isinstance(value, list | tuple) else [value]
    if values and all(isinstance(v, str) and v.rstrip().endswith((".", "!", "?")) for v in values):
        return [v.strip() for v in values]
    return []


def form_add_service_error(form: forms.BaseForm, exc: ApplicationError, *, field: str | None = None) -> None:
    """Put a service's ``ApplicationError`` on ``form``, where the person filling it in will look.

    Each form field that ``exc.extra`` names gets the service's message for it when it has one (a sentence),
    else ``exc.message``; ``exc.message`` goes to ``field`` (``None``: the form's non-field errors) unless a
    field shows it already. So "The campaign cannot be saved." heads the form and "From 0 to 90 days." sits
    under the hold days, and an error about no field of this form is never lost.
    """
    placed = False
    for name, value in exc.extra.items():
        if name not in form.fields:
            continue
        own = _own_messages(value)
        for message in own or [exc.message]:
            form.add_error(name, message)
        placed = placed or not own
    if not placed:
        form.add_error(field, exc.message)
