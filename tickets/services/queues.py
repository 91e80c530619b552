"""Queues (round-robin assignment, availability), saved views and the "viewing" presence."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from core.models import User
from tickets.filters import TicketFilters, TicketFiltersInvalid
from tickets.models import Queue, QueueMembership, SavedView, Ticket, TicketViewer
from tickets.services._common import ensure_agent


def queue_next_assignee(*, queue: Queue) -> User | None:
    """The next available member after the last one who got a ticket, race-free.

    The queue row is locked for the rest of the caller's transaction, so two tickets created at once
    go to two different agents; the pointer is stored on the queue.
    """
    locked = Queue.objects.select_for_update().get(pk=queue.pk)
    members = list(
        QueueMembership.objects.filter(queue=locked, is_available=True, agent__is_active=True)
        .order_by("agent_id")
        .values_list("agent_id", flat=True)
    )
    if not members:
        return None
    last = locked.round_robin_last_id or 0
    chosen = next((agent_id for agent_id in members if agent_id > last), members[0])
    locked.round_robin_last_id = chosen
    locked.save(update_fields=["round_robin_last"])
    return User.objects.get(pk=chosen)


@transaction.atomic
def queue_membership_set_available(*, agent: User, available: bool, queue: Queue | None = None) -> int:
    """Mark the agent (un)available for round-robin in one queue or all of theirs; returns rows changed."""
    rows = QueueMembership.objects.filter(agent=agent)
    if queue is not None:
        rows = rows.filter(queue=queue)
    return rows.exclude(is_available=available).update(is_available=available)


def ticket_viewing_ping(*, ticket: Ticket, agent: User) -> TicketViewer:
    """Record that the agent has the ticket open now (the page pings every ~20 s)."""
    ensure_agent(agent, "view tickets")
    now = timezone.now()
    for _ in range(2):
        updated = TicketViewer.objects.filter(ticket=ticket, agent=agent).update(last_seen_at=now)
        if updated:
            return TicketViewer.objects.get(ticket=ticket, agent=agent)
        try:
            with transaction.atomic():
                return TicketViewer.objects.create(ticket=ticket, agent=agent, last_seen_at=now)
        except IntegrityError:  # a concurrent ping created it: update that one
            continue
    return TicketViewer.objects.get(ticket=ticket, agent=agent)


def _clean_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """What a saved view stores: ``TicketFilters.to_saved``, so a view saved today reads back tomorrow."""
    try:
        return TicketFilters.from_saved(filters).to_saved()
    except TicketFiltersInvalid as exc:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items())
        raise ApplicationError(f"These filters cannot be saved ({problems}).", {"fields": exc.errors}) from exc


@transaction.atomic
def saved_view_create(*, owner: User, name: str, filters: dict[str, Any], is_shared: bool = False) -> SavedView:
    ensure_agent(owner, "save views")
    name = name.strip()
    if not name:
        raise ApplicationError("A view needs a name.")
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                owner=owner, name=name, filters=_clean_filters(filters), is_shared=is_shared
            )
    except IntegrityError as exc:
        raise ApplicationError(f"You already have a view named {name!r}.", {"name": name}) from exc


@transaction.atomic
def saved_view_update(
    *,
    view: SavedView,
    actor: User,
    name: str | None = None,
    filters: dict[str, Any] | None = None,
    is_shared: bool | None = None,
) -> SavedView:
    locked = SavedView.objects.select_for_update().get(pk=view.pk)
    if locked.owner_id != actor.pk:
        raise ApplicationError("Only the owner can change a view.")
    fields = ["updated_at"]
    if name is not None and name.strip():
        locked.name = name.strip()
        fields.append("name")
    if filters is not None:
        locked.filters = _clean_filters(filters)
        fields.append("filters")
    if is_shared is not None:
        locked.is_shared = is_shared
        fields.append("is_shared")
    locked.updated_at = timezone.now()
    try:
        with transaction.atomic():
            locked.save(update_fields=fields)
    except IntegrityError as exc:
        raise ApplicationError(f"You already have a view named {locked.name!r}.") from exc
    return locked


@transaction.atomic
def saved_view_delete(*, view: SavedView, actor: User) -> None:
    if view.owner_id != actor.pk:
        raise ApplicationError("Only the owner can delete a view.")
    SavedView.objects.filter(pk=view.pk).delete()
