"""Helpers every ticket service uses: the row lock with the version check, the audit buffer, saving."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils.text import slugify

from core.exceptions import ApplicationError
from core.models import User
from core.roles import is_agent
from customers.models import Tag
from tickets.models import PRIORITY_RANK, Priority, Ticket, TicketEvent


class _Unset:
    """ "Not given" for arguments where None means something (no assignee)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


def lock_ticket(ticket: Ticket | int, *, expected_version: int | None = None) -> Ticket:
    """The ticket re-read under ``SELECT ... FOR UPDATE``; a stale ``expected_version`` is a conflict."""
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    locked = Ticket.objects.select_for_update().get(pk=pk)
    if expected_version is not None and locked.version != expected_version:
        raise ApplicationError(
            "Someone else changed this ticket in the meantime. Review the changes and submit again.",
            {"conflict": True, "current_version": locked.version},
        )
    return locked


def ensure_agent(user: Any, what: str = "do this") -> None:
    if not is_agent(user):
        raise ApplicationError(f"Only agents may {what}.")


def ensure_not_closed(ticket: Ticket) -> None:
    if ticket.is_closed:
        raise ApplicationError(
            f"Ticket {ticket.reference} is closed and can no longer change.", {"closed": True, "ticket": ticket.pk}
        )


def value_of(value: Any) -> Any:
    """An audit value: JSON scalars, model instances by primary key and label."""
    if isinstance(value, Model):
        return {"id": value.pk, "label": str(value)}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    return value


@dataclass
class Deferred:
    """What a caller writing many tickets in one transaction (e-mail in's batch) writes once for all of them.

    The audit events of each ticket are kept here instead of an INSERT per ticket, and written with one
    ``bulk_create`` when the caller is done (e-mail in: only the events of the messages whose savepoint
    committed); ``memo`` holds the reads the tickets share (the active SLA policies), read at most once.

    On PostgreSQL the new tickets and messages wait here too (``insert``): each takes its id from its
    table's sequence at once, a batch's ids with one statement, so attachments, copies, events and the
    stored e-mail can name it, and the caller writes the rows with one INSERT a table (``rows_insert``).
    The foreign keys are checked at commit (Django makes them ``DEFERRABLE INITIALLY DEFERRED``), so
    the rows that name a waiting one may be written before it. A waiting row is not in the database yet:
    nothing may read or update it before it is written (``Change.save`` leaves it to its INSERT)."""

    events: list[TicketEvent] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)
    inserts: list[Model] = field(default_factory=list)
    updates: dict[int, tuple[Ticket, set[str]]] = field(default_factory=dict)  # held tickets' changed fields
    hold_rows: bool = True  # False: ``insert`` and ``update`` write at once (a batch writing one at a time)

    def insert(self, row: Model) -> None:
        """A new row: saved now off PostgreSQL, else given its id and kept for ``rows_insert``."""
        if not self.hold_rows or connection.vendor != "postgresql":
            row.save()
            return
        row.pk = _next_id(type(row), self.memo)
        self.inserts.append(row)

    def update(self, ticket: Ticket, fields: set[str]) -> None:
        """A change to a ticket the caller holds (locked, its object current): saved now off PostgreSQL,
        else its fields kept for the caller's one UPDATE of all (``rows_update``)."""
        if not self.hold_rows or connection.vendor != "postgresql":
            ticket.save(update_fields=sorted(fields))
            return
        _, before = self.updates.get(ticket.pk, (ticket, set()))
        self.updates[ticket.pk] = (ticket, before | fields)


def waiting(row: Model) -> bool:
    """Whether a row has its id but is not in the database yet (``Deferred.insert``)."""
    return row.pk is not None and row._state.adding


def _next_id(model: type[Model], memo: dict[str, Any]) -> int:
    """The next id of a table, from a pool the batch fills with one ``nextval`` statement: as many as
    ``memo["expected:<app.model>"]`` says it will insert, then ten at a time. An id it does not use is
    a gap, like a rolled-back insert's."""
    label = model._meta.label_lower
    pool: list[int] = memo.setdefault(f"ids:{label}", [])
    if not pool:
        wanted = max(1, memo.pop(f"expected:{label}", 10))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, model._meta.pk.column, wanted],
            )
            pool += sorted(int(row[0]) for row in cursor.fetchall())
    return pool.pop(0)


def rows_insert(rows: list[Model]) -> None:
    """Write waiting rows, one INSERT a model, in the order their models first came (tickets before
    their messages)."""
    by_model: dict[type[Model], list[Model]] = {}
    for row in rows:
        by_model.setdefault(type(row), []).append(row)
    for model, group in by_model.items():
        model._default_manager.bulk_create(group)


@dataclass
class Change:
    """The in-memory work of one service call on one locked ticket: fields to save and events to write."""

    ticket: Ticket
    actor: User | None  # None: the system (the SLA scan, e-mail in)
    now: dt.datetime
    fields: set[str] = field(default_factory=set)
    events: list[TicketEvent] = field(default_factory=list)
    deferred: Deferred | None = None  # set: the events go there, for the caller to write with others
    held: bool = False  # with ``deferred``: the caller holds the ticket (locked, current) and writes it too

    def write_events(self) -> None:
        if self.deferred is not None:
            self.deferred.events += self.events
        elif self.events:
            TicketEvent.objects.bulk_create(self.events)
        self.events.clear()

    def set(self, name: str, value: Any) -> bool:
        if getattr(self.ticket, name) == value:
            return False
        setattr(self.ticket, name, value)
        self.fields.add(name)
        return True

    def touch(self, *names: str) -> None:
        self.fields.update(names)

    def record(self, kind: str, *, field_name: str = "", old: Any = None, new: Any = None, message: Any = None) -> None:
        self.events.append(
            TicketEvent(
                ticket=self.ticket,
                actor=self.actor if getattr(self.actor, "pk", None) else None,
                kind=kind,
                field=field_name,
                old_value=value_of(old),
                new_value=value_of(new),
                message=message,
                created_at=self.now,
            )
        )

    def changed(self, field_name: str, old: Any, new: Any) -> None:
        self.record(TicketEvent.Kind.CHANGED, field_name=field_name, old=old, new=new)

    @property
    def dirty(self) -> bool:
        return bool(self.fields or self.events)

    def save(self) -> Ticket:
        """One UPDATE with ``update_fields``, ``version`` + 1, and the audit events in one INSERT."""
        if self.dirty:
            self.ticket.version += 1
            self.ticket.updated_at = self.now
            fields = {*self.fields, "version", "updated_at"}
            if waiting(self.ticket):
                pass  # its INSERT takes its fields as they are then
            elif self.held and self.deferred is not None:
                self.deferred.update(self.ticket, fields)
            else:
                self.ticket.save(update_fields=sorted(fields))
            self.write_events()
            self.fields.clear()
        return self.ticket


def ensure_priority(priority: str) -> None:
    if priority not in Priority.values:
        raise ApplicationError(f"Unknown priority {priority!r}.", {"priority": priority})


def set_priority(change: Change, priority: str) -> bool:
    ensure_priority(priority)
    old = change.ticket.priority
    if not change.set("priority", priority):
        return False
    change.set("priority_rank", PRIORITY_RANK[Priority(priority)])
    change.changed("priority", old, priority)
    return True


def tags_named(names: Iterable[str]) -> list[Tag]:
    """Tags by name (slugified), created when new."""
    slugs = sorted({slugify(str(name), allow_unicode=True)[:64] for name in names} - {""})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=slugs)}
    for slug in slugs:
        if slug not in existing:
            existing[slug] = Tag.objects.get_or_create(name=slug)[0]
    return [existing[slug] for slug in slugs]
