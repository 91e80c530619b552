"""Keyset pagination: ``WHERE (key, id) < (last_key, last_id)`` instead of OFFSET.

The cursor is an opaque, signed token. The ORM form of a row comparison is
``Q(k__lt=v) | Q(k=v, id__lt=i)``; we add the redundant bound ``k__lte=v`` so
that PostgreSQL uses the index range (91 ms -> 0.05 ms at 1M rows, DESIGN.md).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet

_SALT = "core.pagination.cursor"


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "dt" in value:
        return dt.datetime.fromisoformat(value["dt"])
    return value


def make_cursor(values: list[Any]) -> str:
    return signing.dumps([_encode(v) for v in values], salt=_SALT, compress=True)


def read_cursor(token: str | None) -> list[Any] | None:
    if not token:
        return None
    try:
        return [_decode(v) for v in signing.loads(token, salt=_SALT)]
    except (signing.BadSignature, ValueError, TypeError):
        return None


def keyset_filter(fields: list[str], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in the order given by ``fields`` (each ``name`` or ``-name``).

    Fields are concrete, non-null columns of the model (``queue_id``, not ``queue__name``);
    the last one must be unique (``-id``).
    """
    condition = Q()
    equal_so_far = Q()
    bound = Q()
    for index, (field, value) in enumerate(zip(fields, values, strict=True)):
        name = field.lstrip("-")
        descending = field.startswith("-")
        after = Q(**{f"{name}__lt" if descending else f"{name}__gt": value})
        condition |= equal_so_far & after
        equal_so_far &= Q(**{name: value})
        if index == 0:
            bound = Q(**{f"{name}__lte" if descending else f"{name}__gte": value})
    return bound & condition


def keyset_page(
    queryset: QuerySet[Any],
    *,
    ordering: list[str],
    cursor: str | None,
    size: int,
    decorate: Callable[[QuerySet[Any]], QuerySet[Any]] | None = None,
) -> Page:
    """One page after ``cursor``. With ``decorate``, the page's keys are chosen first by ``queryset`` alone
    (``WHERE pk IN (SELECT pk ... ORDER BY ... LIMIT n)``), and ``decorate(queryset of those keys)`` adds the
    joins: for a search matching thousands of rows, PostgreSQL then joins the page, not every match."""
    values = read_cursor(cursor)
    if values is not None and len(values) == len(ordering):
        queryset = queryset.filter(keyset_filter(ordering, values))
    page = queryset.order_by(*ordering)[: size + 1]
    if decorate is not None:
        page = decorate(queryset.model._default_manager.filter(pk__in=page.values("pk"))).order_by(*ordering)
    rows = list(page)
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = make_cursor([getattr(last, field.lstrip("-")) for field in ordering])
    return Page(items=rows, next_cursor=next_cursor)
