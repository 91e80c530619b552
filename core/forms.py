"""Form fields shared by the apps' forms."""

from typing import Any

from django import forms
from django.db import models

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
