"""The queue's filters, one value for the page, the API and saved views.

    filters = TicketFilters.from_query(request.GET)      # raises TicketFiltersInvalid naming each bad field
    filters.to_query()                                   # "view=all_open&status=new&status=open&sort=updated"
    saved.filters = filters.to_saved()                   # {"view": "all_open", "status": ["new", "open"]}
    TicketFilters.from_saved(saved.filters)              # the same value back

The query string and a saved view use the same keys with the same meaning (the API's names):
``requester`` is a customer id and ``requester_email`` an address; ``assignee`` is an agent id, ``me`` or
``none``. Before this module the page read ``requester`` as an address and ``unassigned=on`` for nobody,
the API skipped checking statuses, priorities and kinds (``?status=nonsense`` was an empty list, not a 400),
and a saved view's stored values were checked only when they reached the database.

A bad value is ``TicketFiltersInvalid``, a ``ParameterError`` carrying every bad field at once: the API's
exception handler answers ``400 {"extra": {"fields": {...}}}``, and the page shows the form again with what
was typed.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from django.http import QueryDict

from core.params import ParameterError, to_id
from tickets.models import Kind, Priority, Status

#: the built-in queue views, in the order the sidebar shows them
BUILTIN_VIEWS: dict[str, str] = {
    "mine": "My open tickets",
    "unassigned": "Unassigned in my queues",
    "all_open": "All open",
    "escalated": "Escalated or breaching within 1 hour",
    "proactive": "Proactive",
}

#: the sorts the queue offers, with their labels (``selectors.SORTS`` has each one's keyset ordering)
SORT_LABELS: dict[str, str] = {"priority": "Priority", "updated": "Recently updated", "sla": "SLA due"}
DEFAULT_SORT = "updated"

#: the lengths the form boxes allow (a longer search is not a search; an address is at most 254 characters)
MAX_TEXT = 200
MAX_TAG = 64
MAX_EMAIL = 254

#: keys that narrow the rows (the rest of a query, ``view`` and ``sort``, say which list and in what order)
NARROWING = (
    "status", "priority", "kind", "queue", "assignee", "tag", "requester", "requester_email", "organization", "q",
)  # fmt: skip
KEYS = frozenset({"view", "sort", *NARROWING})


class TicketFiltersInvalid(ParameterError):
    """One or more filters are not what their field takes; ``errors`` names every one."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        field, messages = next(iter(errors.items()))
        super().__init__(field, " ".join(messages))
        self.all_errors = errors

    @property
    def errors(self) -> dict[str, list[str]]:
        return self.all_errors


@dataclass(frozen=True)
class TicketFilters:
    """What a queue list shows: a built-in ``view`` (or "" for every visible ticket), the narrowing
    filters (empty means "any"), and the ``sort``."""

    view: str = ""
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    queue: tuple[int, ...] = ()
    assignee: int | str | None = None  # an agent id, "me" or "none"
    tag: tuple[str, ...] = ()
    requester: int | None = None  # a customer id
    requester_email: str | None = None  # an address nobody has matches nothing (the filter is never dropped)
    organization: int | None = None
    q: str = ""
    sort: str = DEFAULT_SORT

    # --- reading ---------------------------------------------------------------------------------------

    @classmethod
    def from_query(cls, params: QueryDict) -> "TicketFilters":
        """From a query string; keys it does not know (``cursor``, ``saved``, ...) are someone else's."""
        return cls._parse(lambda key: [v for v in params.getlist(key) if v.strip()])

    @classmethod
    def from_saved(cls, stored: Mapping[str, Any]) -> "TicketFilters":
        """From what ``to_saved`` wrote (a saved view's ``filters``); an unknown key is an error, since
        nobody else writes there."""
        if not isinstance(stored, Mapping):
            raise TicketFiltersInvalid({"filters": ["Must be an object."]})
        if unknown := sorted(set(stored) - KEYS):
            raise TicketFiltersInvalid({key: ["Not a filter."] for key in unknown})

        def values(key: str) -> list[Any]:
            value = stored.get(key)
            items = list(value) if isinstance(value, list | tuple) else [value]
            return [v for v in items if v is not None and not (isinstance(v, str) and not v.strip())]

        return cls._parse(values)

    @classmethod
    def _parse(cls, values: Callable[[str], list[Any]]) -> "TicketFilters":
        errors: dict[str, list[str]] = {}
        parsed: dict[str, Any] = {}

        def check(key: str, parse: Callable[[list[Any]], Any]) -> None:
            try:
                parsed[key] = parse(values(key))
            except ParameterError as exc:
                errors.setdefault(key, []).append(exc.message)

        check("view", lambda vs: _choice(vs[-1], BUILTIN_VIEWS, field="view") if vs else "")
        check("status", lambda vs: tuple(_choice(v, Status.values, field="status") for v in vs))
        check("priority", lambda vs: tuple(_choice(v, Priority.values, field="priority") for v in vs))
        check("kind", lambda vs: tuple(_choice(v, Kind.values, field="kind") for v in vs))
        check("queue", lambda vs: tuple(to_id(v, field="queue") for v in vs))
        check("assignee", lambda vs: _assignee(vs[-1]) if vs else None)
        check("tag", lambda vs: tuple(_text(v, MAX_TAG, field="tag") for v in vs))
        check("requester", lambda vs: to_id(vs[-1], field="requester") if vs else None)
        check("requester_email", lambda vs: _text(vs[-1], MAX_EMAIL, field="requester_email").lower() if vs else None)
        check("organization", lambda vs: to_id(vs[-1], field="organization") if vs else None)
        check("q", lambda vs: _text(vs[-1], MAX_TEXT, field="q") if vs else "")
        check("sort", lambda vs: _choice(vs[-1], SORT_LABELS, field="sort") if vs else DEFAULT_SORT)
        if errors:
            raise TicketFiltersInvalid(errors)
        return cls(**parsed)

    # --- writing ---------------------------------------------------------------------------------------

    def to_saved(self) -> dict[str, Any]:
        """JSON for a saved view: the fields that are set, lists as lists, the default sort left out."""
        stored: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value in (None, "", ()) or (field.name == "sort" and value == DEFAULT_SORT):
                continue
            stored[field.name] = list(value) if isinstance(value, tuple) else value
        return stored

    def to_query_dict(self) -> QueryDict:
        """As a query string's values; ``view`` is always written, since the page reads a missing one as
        its default ("My open tickets") and an empty one as every visible ticket."""
        query = QueryDict(mutable=True)
        query["view"] = self.view
        for key, value in self.to_saved().items():
            if key != "view":
                query.setlist(key, [str(v) for v in value] if isinstance(value, list) else [str(value)])
        return query

    def to_query(self) -> str:
        return self.to_query_dict().urlencode()

    @property
    def narrows(self) -> bool:
        """Whether any filter besides the view and the sort is set."""
        return any(getattr(self, key) not in (None, "", ()) for key in NARROWING)


def _choice(value: Any, choices: Mapping[str, Any] | list[str], *, field: str) -> str:
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or text not in choices:
        raise ParameterError(field, f"{value!r} is not one of {', '.join(choices)}.")
    return text


def _assignee(value: Any) -> int | str:
    if isinstance(value, str) and value.strip() in {"me", "none"}:
        return value.strip()
    return to_id(value, field="assignee")


def _text(value: Any, limit: int, *, field: str) -> str:
    if not isinstance(value, str):
        raise ParameterError(field, "Must be text.")
    text = value.strip()
    if len(text) > limit:
        raise ParameterError(field, f"At most {limit} characters (it has {len(text)}).")
    return text
