"""The ticket's audit trail as sentences people read: "Alex Agent assigned this to Sam",
"Priority changed from normal to high".

One place turns a ``TicketEvent`` (kind, field, old and new JSON values, see ``services._common.value_of``)
into text, so the ticket page and anything else that shows history agree. The sentences are plain
text: the template escapes them (a subject or a tag is user text).

Values come as the services wrote them: model instances as ``{"id", "label"}``, choices by value,
CCs by customer id, datetimes as ISO strings. Names that are only ids (CCs) and custom field labels
are read in one query each for the whole trail, never one per event.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from customers.models import Customer
from tickets.models import (
    Channel,
    CustomField,
    Kind,
    Priority,
    SatisfactionRating,
    SLATargetKind,
    Status,
    TicketEvent,
)

#: fields whose values are choices, by the word a sentence uses for them
CHOICES: dict[str, tuple[str, type[Any]]] = {
    "status": ("status", Status),
    "priority": ("priority", Priority),
    "kind": ("type", Kind),
}


@dataclass(frozen=True)
class HistoryEntry:
    event: TicketEvent
    text: str

    @property
    def created_at(self) -> dt.datetime:
        return self.event.created_at


@dataclass
class _Names:
    customers: dict[int, str]
    fields: dict[str, str]


def ticket_history(events: Iterable[TicketEvent]) -> list[HistoryEntry]:
    """Each event with its sentence, in the order given (``ticket_timeline`` is oldest first)."""
    events = list(events)
    names = _names_for(events)
    return [HistoryEntry(event=event, text=describe(event, names=names)) for event in events]


def _names_for(events: Sequence[TicketEvent]) -> _Names:
    customer_ids: set[int] = set()
    field_keys: set[str] = set()
    for event in events:
        if event.kind == TicketEvent.Kind.CHANGED and event.field == "ccs":
            customer_ids |= {v for v in [*(event.old_value or []), *(event.new_value or [])] if isinstance(v, int)}
        elif event.kind == TicketEvent.Kind.CHANGED and event.field.startswith("custom_fields."):
            field_keys.add(event.field.removeprefix("custom_fields."))
    customers = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "name")) if customer_ids else {}
    fields = dict(CustomField.objects.filter(key__in=field_keys).values_list("key", "label")) if field_keys else {}
    return _Names(customers=customers, fields=fields)


def describe(event: TicketEvent, *, names: _Names | None = None) -> str:
    """One event as a sentence."""
    names = names or _names_for([event])
    who = _actor(event)
    kind = event.kind
    K = TicketEvent.Kind
    if kind == K.CHANGED:
        return _changed(event, who, names)
    if kind == K.CREATED:
        return _created(event, who)
    if kind == K.REPLIED:
        return f"{who or 'An agent'} replied to the customer"
    if kind == K.NOTE:
        return f"{who or 'An agent'} added an internal note"
    if kind == K.CUSTOMER_REPLIED:
        return "The customer replied"
    if kind == K.MERGED:
        number = _ticket_ref(event.new_value)
        if event.field == "merged_into":
            return _sentence(who, f"merged this ticket into {number}", f"Merged into {number}")
        return _sentence(who, f"merged {number} into this ticket", f"{number} was merged into this ticket")
    if kind == K.SPLIT:
        number = _ticket_ref(event.new_value)
        if event.field == "split_into":
            return _sentence(who, f"split {number} off this ticket", f"{number} was split off this ticket")
        return _sentence(who, f"split this ticket off {number}", f"Split off {number}")
    if kind == K.MACRO:
        return _sentence(
            who, f'applied the macro "{_label(event.new_value)}"', f'Macro "{_label(event.new_value)}" applied'
        )
    if kind in (K.SLA_WARNING, K.SLA_BREACH):
        target = _choice_label(SLATargetKind, event.field).capitalize()
        due = _when(event.new_value)
        if kind == K.SLA_WARNING:
            return f"{target} target due soon ({due}): agents were alerted"
        return f"{target} target breached (was due {due})"
    if kind == K.AUTO_CLOSED:
        return "Closed automatically after being solved"
    if kind == K.FOLLOW_UP:
        return f"Opened as a follow-up to {_ticket_ref(event.new_value)}"
    if kind == K.MENTIONED:
        # its sender is not among that ticket's people, so the message was not added there
        return f"Opened from an e-mail that referred to {_ticket_ref(event.new_value)}"
    if kind == K.RATED:
        rating = event.new_value if isinstance(event.new_value, dict) else {}
        score = _choice_label(SatisfactionRating.Score, rating["score"]) if rating.get("score") else "it"
        reason = f" ({_choice_label(SatisfactionRating.Reason, rating['reason'])})" if rating.get("reason") else ""
        return f"The customer rated the support {score}{reason}"
    return _sentence(who, f"changed {event.field or 'the ticket'}", event.get_kind_display())


# --- the kinds ----------------------------------------------------------------------------------


def _created(event: TicketEvent, who: str) -> str:
    data = event.new_value if isinstance(event.new_value, dict) else {}
    details = []
    if channel := data.get("channel"):
        details.append(f"via {_choice_label(Channel, channel)}")
    if queue := data.get("queue"):
        details.append(f"in {_label(queue)}")
    if priority := data.get("priority"):
        details.append(f"with {_choice_label(Priority, priority)} priority")
    tail = (" " + " ".join(details)) if details else ""
    return f"{who} created this ticket{tail}" if who else f"Ticket created{tail}"


def _changed(event: TicketEvent, who: str, names: _Names) -> str:
    field, old, new = event.field, event.old_value, event.new_value
    if field == "assignee":
        return _assignee(event, who, old, new)
    if field == "queue":
        return _sentence(
            who, f"moved this from {_label(old)} to {_label(new)}", f"Moved from {_label(old)} to {_label(new)}"
        )
    if field in CHOICES:
        word, choices = CHOICES[field]
        change = f"from {_choice_label(choices, old)} to {_choice_label(choices, new)}"
        return _sentence(who, f"changed the {word} {change}", f"{word.capitalize()} changed {change}")
    if field == "subject":
        return _sentence(who, f'renamed this from "{old}" to "{new}"', f'Subject changed from "{old}" to "{new}"')
    if field == "tags":
        return _set_change(who, "tag", old, new, str)
    if field == "ccs":
        return _set_change(who, "CC", old, new, lambda pk: names.customers.get(pk, f"customer {pk}"))
    if field.startswith("custom_fields."):
        key = field.removeprefix("custom_fields.")
        label = names.fields.get(key, key)
        if new in (None, ""):
            return _sentence(who, f"cleared {label} (was {_value(old)})", f"{label} cleared (was {_value(old)})")
        if old in (None, ""):
            return _sentence(who, f"set {label} to {_value(new)}", f"{label} set to {_value(new)}")
        return _sentence(
            who,
            f"changed {label} from {_value(old)} to {_value(new)}",
            f"{label} changed from {_value(old)} to {_value(new)}",
        )
    return _sentence(who, f"changed {field} from {_value(old)} to {_value(new)}", f"{field} changed")


def _assignee(event: TicketEvent, who: str, old: Any, new: Any) -> str:
    actor_id = event.actor_id
    new_id = new.get("id") if isinstance(new, dict) else None
    if new is None:
        return _sentence(who, f"unassigned this (was {_label(old)})", f"Unassigned (was {_label(old)})")
    target = "themselves" if who and new_id == actor_id else _label(new)
    if old is None:
        return _sentence(who, f"assigned this to {target}", f"Assigned to {_label(new)}")
    return _sentence(
        who, f"reassigned this from {_label(old)} to {target}", f"Reassigned from {_label(old)} to {_label(new)}"
    )


def _set_change(who: str, noun: str, old: Any, new: Any, name: Any) -> str:
    before, after = list(old or []), list(new or [])
    added = [name(v) for v in after if v not in before]
    removed = [name(v) for v in before if v not in after]
    parts = []
    if added:
        parts.append(f"added {_plural(noun, added)} {', '.join(added)}")
    if removed:
        parts.append(f"removed {_plural(noun, removed)} {', '.join(removed)}")
    text = " and ".join(parts) or f"left the {noun}s as they were"
    return f"{who} {text}" if who else text[0].upper() + text[1:]


# --- words --------------------------------------------------------------------------------------


def _actor(event: TicketEvent) -> str:
    actor = event.actor
    if actor is None:
        return ""
    return actor.get_full_name() or actor.email


def _sentence(who: str, active: str, passive: str) -> str:
    return f"{who} {active}" if who else passive


def _label(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("label") or value.get("id") or "—")
    if value in (None, ""):
        return "nobody"
    return str(value)


def _choice_label(choices: type[Any], value: Any) -> str:
    try:
        return str(choices(value).label).lower() if choices is not Channel else str(choices(value).label)
    except ValueError:
        return str(value)


def _ticket_ref(value: Any) -> str:
    return f"#{value}" if isinstance(value, int) else _label(value)


def _value(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value in (None, ""):
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return _label(value) if isinstance(value, dict) else str(value)


def _when(value: Any) -> str:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{moment.astimezone(dt.UTC):%a %d %b %H:%M} UTC"


def _plural(noun: str, items: list[str]) -> str:
    return noun if len(items) == 1 else f"{noun}s"
