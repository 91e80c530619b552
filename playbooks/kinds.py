"""The parameters of each signal kind: one form field per parameter, validated in one place.

``Signal.params`` is JSON; the admin edits it through these fields (``SignalForm``), and
``params_validate`` checks a dict the same way wherever one comes from.
"""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from playbooks.models import SignalKind

DATE_FIELDS = [("organization.renewal_date", "Organization renewal date")]

EVENT_KIND = r"^[A-Za-z0-9_.:-]{1,64}$"
_PROPERTY_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*(_[A-Za-z0-9-]+)*$")


def _property_filter(value: str) -> dict[str, str]:
    """``carrier=dhl`` lines into ``{"carrier": "dhl"}``."""
    result: dict[str, str] = {}
    for number, line in enumerate((value or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, sep, val = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"Line {number}: write key=value, e.g. carrier=dhl.")
        if not _PROPERTY_KEY.match(key.strip()) or len(key.strip()) > 64:
            raise ValidationError(f"Line {number}: a key is letters, digits, - and single _ (e.g. carrier).")
        result[key.strip()] = val.strip()
    return result


class PropertyFilterField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 2, "cols": 40})

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        if isinstance(value, dict):
            value = "\n".join(f"{k}={v}" for k, v in value.items())
        return _property_filter(super().to_python(value))

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{k}={v}" for k, v in value.items())
        return value


def _fields() -> dict[str, forms.Field]:
    return {
        "event_kind": forms.RegexField(
            regex=EVENT_KIND, label="Event kind", help_text="e.g. login, error, order_shipped, first_project_created"
        ),
        "threshold": forms.IntegerField(min_value=0, max_value=1_000_000, label="Threshold (events)"),
        "weeks": forms.IntegerField(min_value=1, max_value=12, label="Consecutive weeks"),
        "hours": forms.IntegerField(min_value=1, max_value=168, label="In the last hours"),
        "min_tickets": forms.IntegerField(min_value=2, max_value=1000, label="At least this many tickets"),
        "days": forms.IntegerField(min_value=1, max_value=365, label="Days"),
        "tag": forms.SlugField(
            required=False, allow_unicode=True, label="With the tag", help_text="Empty: any one tag."
        ),
        "queue": forms.SlugField(
            required=False, label="Or in the queue (slug)", help_text="Counts tickets in this queue instead of a tag."
        ),
        "sentiment_threshold": forms.FloatField(
            min_value=-1, max_value=1, label="Sentiment below", help_text="-1 (very negative) to 1 (very positive)."
        ),
        "date_field": forms.ChoiceField(choices=DATE_FIELDS, label="Date"),
        "min_breaches": forms.IntegerField(min_value=1, max_value=1000, label="At least this many SLA breaches"),
        "bad_rating": forms.BooleanField(required=False, label="Or a bad satisfaction rating"),
        "property_filter": PropertyFilterField(
            required=False, label="Only with properties", help_text="One key=value a line, e.g. carrier=dhl."
        ),
        "minutes": forms.IntegerField(
            min_value=1, max_value=1440, label="Arrived in the last minutes", help_text="Evaluated on every beat."
        ),
        "anchor_kind": forms.RegexField(
            regex=EVENT_KIND,
            required=False,
            label="Within days of the event",
            help_text="e.g. signed_up; empty: the customer's creation date.",
        ),
        "lookback_days": forms.IntegerField(
            min_value=1,
            max_value=365,
            label="Only anchors of the last days",
            help_text="Older customers are left alone.",
        ),
    }


#: the parameters of each kind, in the order the admin shows them, with their defaults
KIND_PARAMS: dict[str, dict[str, Any]] = {
    SignalKind.USAGE_DROP: {"event_kind": "login", "threshold": 2, "weeks": 3},
    SignalKind.USAGE_SPIKE: {"event_kind": "error", "threshold": 50, "hours": 1},
    SignalKind.REPEATED_TICKETS: {"min_tickets": 3, "days": 14, "tag": "", "queue": ""},
    SignalKind.NEGATIVE_SENTIMENT: {"sentiment_threshold": -0.3, "days": 14},
    SignalKind.DATE_AHEAD: {"date_field": "organization.renewal_date", "days": 30},
    SignalKind.SERVICE_PAIN: {"min_breaches": 2, "days": 30, "bad_rating": True},
    SignalKind.EVENT_HAPPENED: {"event_kind": "order_shipped", "property_filter": {}, "minutes": 10},
    SignalKind.MILESTONE_MISSING: {
        "event_kind": "first_project_created",
        "anchor_kind": "signed_up",
        "days": 3,
        "lookback_days": 30,
    },
}

#: kinds that can be summed over an organization's customers
ORGANIZATION_KINDS = frozenset(
    {
        SignalKind.USAGE_DROP,
        SignalKind.USAGE_SPIKE,
        SignalKind.REPEATED_TICKETS,
        SignalKind.DATE_AHEAD,
        SignalKind.SERVICE_PAIN,
    }
)

ALL_PARAM_NAMES = list(dict.fromkeys(name for params in KIND_PARAMS.values() for name in params))


def param_fields() -> dict[str, forms.Field]:
    """Fresh form fields for every parameter of every kind (none required: ``params_validate`` decides)."""
    fields = _fields()
    for field in fields.values():
        field.required = False
    return fields


def params_validate(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The cleaned parameters of ``kind`` (defaults filled in), or ``ValidationError`` per parameter."""
    if kind not in KIND_PARAMS:
        raise ValidationError({"kind": f"Unknown signal kind {kind!r}."})
    fields = _fields()
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, default in KIND_PARAMS[kind].items():
        value = params.get(name, default) if isinstance(params, dict) else default
        try:
            cleaned[name] = fields[name].clean(value)
        except ValidationError as exc:
            errors[name] = exc.messages
    if kind == SignalKind.REPEATED_TICKETS and cleaned.get("tag") and cleaned.get("queue"):
        errors["queue"] = ["Choose a tag or a queue, not both."]
    milestone = kind == SignalKind.MILESTONE_MISSING and "days" in cleaned and "lookback_days" in cleaned
    if milestone and cleaned["lookback_days"] < cleaned["days"]:
        errors["lookback_days"] = ["Look back at least as many days as the milestone may take."]
    if errors:
        raise ValidationError(errors)
    return cleaned
