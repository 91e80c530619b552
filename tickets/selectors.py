"""Reads of the tickets app. Every read is scoped by ``tickets_visible_to``; an invisible id is a 404.

Who sees what is ``tickets.policies`` (its table: agents, requesters, CCs, colleagues where the organization
shares, unconfirmed accounts). Customers never see internal notes nor the audit trail.

The queue list is keyset-paginated over partial indexes for every sort it offers (see ``Ticket.Meta``);
it never counts.
"""

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Count, DateTimeField, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.models import User
from core.pagination import Page, keyset_page
from core.roles import AGENTS, MANAGERS, is_agent, is_manager
from core.tokens import TokenExpired, TokenInvalid
from core.types import Viewer
from customers.models import CustomerEvent
from customers.selectors import customer_ids_by_email_prefix, customer_recent_events
from tickets.filters import BUILTIN_VIEWS, SORT_LABELS, TicketFilters
from tickets.models import (
    SLA_NEVER,
    UNSOLVED_STATUSES,
    Attachment,
    CustomField,
    InboundEmail,
    Kind,
    Macro,
    Message,
    Queue,
    QueueMembership,
    SatisfactionRating,
    SavedView,
    Ticket,
    TicketEvent,
    TicketViewer,
)
from tickets.policies import agent_queue_ids, tickets_visible_to

#: what a row of the queue page shows (``columns=`` of ``ticket_list``): loading only these halves the
#: work of turning 50 rows into objects (a ticket has 15 date columns; a user row carries its password hash)
QUEUE_ROW_COLUMNS = (
    "id", "number", "subject", "status", "priority", "priority_rank", "kind", "requester_unverified", "updated_at",
    "next_sla_due_at",
    "sla_paused_at", "requester__id", "requester__name", "organization__id", "organization__name",
    "queue__id", "queue__name", "assignee__id", "assignee__name", "assignee__email",
)  # fmt: skip

#: sort name -> keyset ordering (each has a matching index; the last key is unique)
SORTS: dict[str, list[str]] = {
    "updated": ["-updated_at", "-id"],
    "priority": ["-priority_rank", "-updated_at", "-id"],
    "sla": ["sla_key", "id"],
}

assert set(SORTS) == set(SORT_LABELS), "every sort the queue offers has its keyset ordering"


def _sla_key() -> Coalesce:
    """The expression of the SLA indexes: the next due time, tickets without one last."""
    return Coalesce("next_sla_due_at", Value(SLA_NEVER, output_field=DateTimeField()))


def _detail(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """One ticket with what its page shows. Few joins: planning an 8-way join cost more than running it.
    (The merge target and the SLA policy are read on demand; they are shown for few tickets.)"""
    return qs.select_related(
        "requester__user", "requester__organization", "organization", "queue", "assignee"
    ).prefetch_related("tags", "ccs")


def ticket_get_for(*, viewer: Viewer, ticket_id: int) -> Ticket:
    ticket = _detail(tickets_visible_to(viewer)).filter(pk=ticket_id).first()
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def ticket_get_by_number_for(*, viewer: Viewer, number: int) -> Ticket:
    """By the human reference (``#1042`` -> 1042)."""
    ticket = _detail(tickets_visible_to(viewer)).filter(number=number).first()
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def _as_filters(filters: TicketFilters | dict[str, Any] | None) -> TicketFilters:
    """A dict is read as a saved view's filters would be (callers in code and tests pass them); it may not
    carry ``view`` or ``sort``, which are ``ticket_list``'s own arguments."""
    if filters is None:
        return TicketFilters()
    if isinstance(filters, TicketFilters):
        return filters
    if misplaced := sorted({"view", "sort"} & set(filters)):
        raise ApplicationError(f"Unknown filters: {', '.join(misplaced)}.", {"filters": misplaced})
    return TicketFilters.from_saved(filters)


def _filter(qs: QuerySet[Ticket], *, viewer: User, filters: TicketFilters) -> QuerySet[Ticket]:
    if statuses := filters.status:
        qs = qs.filter(status__in=statuses) if len(statuses) > 1 else qs.filter(status=statuses[0])
    if filters.priority:
        qs = qs.filter(priority__in=filters.priority)
    if filters.kind:
        qs = qs.filter(kind__in=filters.kind)
    if filters.queue:
        qs = qs.filter(queue_id__in=filters.queue)
    if filters.assignee == "me":
        qs = qs.filter(assignee=viewer)
    elif filters.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif isinstance(filters.assignee, int):
        qs = qs.filter(assignee_id=filters.assignee)
    if tags := filters.tag:
        qs = qs.filter(tags__name__in=tags).distinct() if len(tags) > 1 else qs.filter(tags__name=tags[0])
    if filters.requester is not None:
        qs = qs.filter(requester_id=filters.requester)
    if filters.requester_email is not None:
        # an address nobody has matches nothing (the filter is never dropped); Customer.email is unique, so indexed
        qs = qs.filter(requester__email=filters.requester_email)
    if filters.organization is not None:
        qs = qs.filter(organization_id=filters.organization)
    if text := filters.q:
        qs = qs.filter(_search_condition(text))
    return qs


def _search_condition(text: str) -> Q:
    """The search box: subject contains, ``#1060``/``1060`` the number, or the requester's e-mail starts with.

    subject__icontains is UPPER(subject) LIKE UPPER(...): the trigram GIN index on PostgreSQL. The
    requesters are looked up first (one range scan of ``customers_email_prefix``, at most
    ``EMAIL_PREFIX_MATCHES``) so the ticket query ORs two bitmap index scans (trigram, and
    ``tickets_requester`` with ``= ANY(ids)``); a subquery inside the OR would be a filter on every row.
    """
    condition = Q(subject__icontains=text)
    digits = text.lstrip("#")
    if digits.isascii() and digits.isdigit() and len(digits) < 18:  # "²".isdigit() too, int("²") raises
        condition |= Q(number=int(digits))
    if requester_ids := customer_ids_by_email_prefix(prefix=text):
        condition |= Q(requester_id__in=requester_ids)
    return condition


def _view_condition(viewer: User, view: str, now: dt.datetime) -> Q:
    """What a built-in view adds to visibility (before its "unsolved" status filter)."""
    if view not in BUILTIN_VIEWS:
        raise ApplicationError(f"Unknown view {view!r}.", {"view": view})
    if view == "mine":
        return Q(assignee=viewer)
    if view == "unassigned":
        queue_ids = agent_queue_ids(viewer)
        if queue_ids or not is_manager(viewer):
            return Q(assignee__isnull=True, queue_id__in=queue_ids)
        return Q(assignee__isnull=True)
    if view == "escalated":
        # on the indexed expression (tickets_open_sla), so the planner ORs two small partial-index ranges;
        # the queryset must carry the alias ``sla_due_key`` (see ``_view``)
        return Q(escalated_at__isnull=False) | Q(sla_due_key__lte=now + dt.timedelta(hours=1))
    if view == "proactive":
        return Q(kind=Kind.PROACTIVE)
    return Q()  # all_open


def _view(qs: QuerySet[Ticket], *, viewer: Any, view: str, now: dt.datetime) -> QuerySet[Ticket]:
    condition = _view_condition(viewer, view, now)
    if view == "escalated":
        qs = qs.alias(sla_due_key=_sla_key())
    return qs.filter(condition)


def ticket_queryset(
    *,
    viewer: User,
    view: str | None = None,
    filters: TicketFilters | dict[str, Any] | None = None,
    changed_since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> QuerySet[Ticket]:
    """The unordered, unpaginated rows of a queue view (for exports and bulk actions; the page uses
    ``ticket_list``). A built-in view is over unsolved tickets unless ``filters`` name statuses."""
    narrowing = _as_filters(filters)
    qs = tickets_visible_to(viewer)
    if view:
        qs = _view(qs, viewer=viewer, view=view, now=now or timezone.now())
        if not narrowing.status:
            narrowing = replace(narrowing, status=tuple(UNSOLVED_STATUSES))
    qs = _filter(qs, viewer=viewer, filters=narrowing)
    if changed_since is not None:
        qs = qs.filter(updated_at__gt=changed_since)
    return qs


def ticket_list(
    *,
    viewer: User,
    view: str | None = None,
    filters: TicketFilters | dict[str, Any] | None = None,
    sort: str = "updated",
    cursor: str | None = None,
    size: int = 50,
    changed_since: dt.datetime | None = None,
    now: dt.datetime | None = None,
    columns: tuple[str, ...] = (),
    with_tags: bool = True,
) -> Page:
    """One page of the queue: a built-in ``view`` (see BUILTIN_VIEWS) and/or ``filters``
    (a ``TicketFilters``, or a dict as a saved view stores it; its ``view`` and ``sort`` are not read here),
    sorted by ``updated``, ``priority`` or ``sla`` (next due first, tickets without SLA last).

    Keyset-paginated (``cursor`` from the previous page's ``next_cursor``); ``changed_since`` keeps only
    rows updated after that instant (refreshing changed rows). Four queries whatever the page size:
    the viewer's queues (cached on the viewer), the rows with requester/organization/queue/assignee,
    and the tags.
    """
    if sort not in SORTS:
        raise ApplicationError(f"Unknown sort {sort!r}.", {"sort": sort})
    size = max(1, min(int(size), 200))
    narrowing = _as_filters(filters)
    qs = ticket_queryset(viewer=viewer, view=view, filters=narrowing, changed_since=changed_since, now=now)

    def decorate(rows: QuerySet[Ticket]) -> QuerySet[Ticket]:
        rows = rows.select_related("requester", "organization", "queue", "assignee")
        if columns:
            rows = rows.only(*columns)
        if with_tags:
            rows = rows.prefetch_related("tags")
        return rows.annotate(sla_key=_sla_key()) if sort == "sla" else rows

    if narrowing.q:
        # a search may match thousands of rows: choose the page first, then join only its rows
        if sort == "sla":
            qs = qs.annotate(sla_key=_sla_key())
        return keyset_page(qs, ordering=SORTS[sort], cursor=cursor, size=size, decorate=decorate)
    return keyset_page(decorate(qs), ordering=SORTS[sort], cursor=cursor, size=size)


@dataclass
class Elsewhere:
    """Matches of a search outside the view it was typed in: a few to show, and a bounded count."""

    tickets: list[Ticket]
    count: int
    more: bool  # the count stopped at its bound: "100+"


#: "N more in other views" counts at most this many: an exact count of a common word over 1M
#: tickets is 44-120 ms (DESIGN.md), reading the first 101 matches is an index scan that stops
ELSEWHERE_BOUND = 100


def ticket_search_elsewhere(
    *, viewer: User, view: str | None, text: str, now: dt.datetime | None = None, show: int = 5
) -> Elsewhere | None:
    """Tickets the viewer can see, any status, matching ``text`` but outside the built-in ``view``
    (the view's condition and its "unsolved" statuses), newest first: what the search box offers
    from "My open tickets" when ``#1060`` is someone else's. None without a view or a text.

    One query: the first ``ELSEWHERE_BOUND + 1`` matches (id, number, subject, status), ordered like the
    "any status" list on ``tickets_updated``; the first ``show`` are shown, the rest only counted.
    """
    text = (text or "").strip()
    if not view or not text:
        return None
    now = now or timezone.now()
    in_view = _view_condition(viewer, view, now) & Q(status__in=list(UNSOLVED_STATUSES))
    qs = tickets_visible_to(viewer)
    if view == "escalated":
        qs = qs.alias(sla_due_key=_sla_key())
    rows = list(
        qs.filter(_search_condition(text))
        .exclude(in_view)
        .only("id", "number", "subject", "status")
        .order_by(*SORTS["updated"])[: ELSEWHERE_BOUND + 1]
    )
    return Elsewhere(tickets=rows[:show], count=min(len(rows), ELSEWHERE_BOUND), more=len(rows) > ELSEWHERE_BOUND)


def ticket_list_saved(*, viewer: User, saved_view: SavedView, cursor: str | None = None, size: int = 50) -> Page:
    """A saved view's page: its filters may name a built-in ``view`` and a ``sort``."""
    filters = TicketFilters.from_saved(saved_view.filters or {})
    return ticket_list(
        viewer=viewer, view=filters.view or None, filters=filters, sort=filters.sort, cursor=cursor, size=size
    )


def ticket_thread(*, ticket: Ticket, viewer: Viewer | None) -> QuerySet[Message]:
    """The messages, oldest first, with authors and attachments; customers never see internal notes."""
    qs = (
        Message.objects.filter(ticket=ticket)
        .select_related("author_user", "author_customer")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )
    if not is_agent(viewer):
        return qs.filter(is_internal=False)
    # agents see how an e-mail arrived (automatic? failed DKIM?) and can unfold its full text; not its bytes
    return qs.select_related("inbound_email").defer("inbound_email__raw")


def message_original_for(*, viewer: Any, ticket: Ticket, message_id: int) -> InboundEmail:
    """The stored e-mail a message came from, raw bytes included: agents who see the ticket only."""
    if not is_agent(viewer):
        raise Http404("No such message.")
    inbound = InboundEmail.objects.filter(ticket_message_id=message_id, ticket_message__ticket=ticket).first()
    if inbound is None:
        raise Http404("No such message.")
    return inbound


def ticket_timeline(*, ticket: Ticket, viewer: Viewer) -> QuerySet[TicketEvent]:
    """The audit trail (agents only), oldest first."""
    if not is_agent(viewer):
        return TicketEvent.objects.none()
    return TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("created_at", "id")


def ticket_open_requester_ids() -> QuerySet[Ticket, Any]:
    """A subquery of the customers with an unsolved ticket (announcement holds, segments)."""
    return Ticket.objects.filter(status__in=UNSOLVED_STATUSES).values("requester_id")


def ticket_requester_other_tickets(*, ticket: Ticket, viewer: Viewer, limit: int = 10) -> QuerySet[Ticket]:
    """The requester's other tickets, newest first (index on requester, created)."""
    return (
        tickets_visible_to(viewer)
        .filter(requester_id=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .select_related("queue", "assignee")
        .order_by("-created_at", "-id")[:limit]
    )


def ticket_recent_product_events(*, ticket: Ticket, limit: int = 20) -> QuerySet[CustomerEvent]:
    return customer_recent_events(customer=ticket.requester, limit=limit)


def ticket_other_viewers(*, ticket: Ticket, viewer: Viewer, now: dt.datetime | None = None) -> QuerySet[TicketViewer]:
    """Other agents who pinged within ``TICKET_VIEWER_SECONDS``: "another agent is viewing"."""
    since = (now or timezone.now()) - dt.timedelta(seconds=helpdesk_setting("TICKET_VIEWER_SECONDS"))
    return (
        TicketViewer.objects.filter(ticket=ticket, last_seen_at__gte=since)
        .exclude(agent_id=getattr(viewer, "pk", None))
        .select_related("agent")
        .order_by("-last_seen_at")
    )


def attachment_get_for(*, viewer: Viewer, attachment_id: int) -> Attachment:
    """An attachment only for someone who may see its ticket (and, for customers, its message)."""
    qs = Attachment.objects.select_related("message").filter(
        pk=attachment_id, message__ticket__in=tickets_visible_to(viewer)
    )
    if not is_agent(viewer):
        qs = qs.filter(message__is_internal=False)
    attachment = qs.first()
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


def macros_for(*, viewer: Viewer) -> QuerySet[Macro]:
    if not is_agent(viewer):
        return Macro.objects.none()
    return Macro.objects.filter(Q(owner__isnull=True) | Q(owner=viewer), is_active=True).order_by("position", "name")


def macro_get_for(*, viewer: Viewer, macro_id: int) -> Macro:
    macro = macros_for(viewer=viewer).filter(pk=macro_id).first()
    if macro is None:
        raise Http404("No such macro.")
    return macro


def saved_views_for(*, viewer: Viewer) -> QuerySet[SavedView]:
    if not is_agent(viewer):
        return SavedView.objects.none()
    return SavedView.objects.filter(Q(owner=viewer) | Q(is_shared=True)).select_related("owner").order_by("name", "id")


def saved_view_get_for(*, viewer: Viewer, view_id: int) -> SavedView:
    view = saved_views_for(viewer=viewer).filter(pk=view_id).first()
    if view is None:
        raise Http404("No such view.")
    return view


def queues_for(*, viewer: Viewer) -> QuerySet[Queue]:
    """Queues the viewer works: members' queues; every active queue for managers."""
    if is_manager(viewer):
        return Queue.objects.filter(is_active=True)
    if is_agent(viewer):
        return Queue.objects.filter(pk__in=agent_queue_ids(viewer), is_active=True)
    return Queue.objects.none()


def queue_availability_for(*, agent: Viewer) -> dict[str, int]:
    """In how many of the agent's queues round-robin assignment reaches them: ``{"queues": 3, "available": 2}``.

    One aggregate on the (agent, queue) index; ``queue_next_assignee`` skips memberships marked away.
    """
    if not is_agent(agent):
        return {"queues": 0, "available": 0}
    return QueueMembership.objects.filter(agent=agent).aggregate(
        queues=Count("pk"), available=Count("pk", filter=Q(is_available=True))
    )


def queue_members(*, queue: Queue) -> QuerySet[QueueMembership]:
    return QueueMembership.objects.filter(queue=queue, agent__is_active=True).select_related("agent")


def custom_fields_active() -> QuerySet[CustomField]:
    return CustomField.objects.filter(is_active=True).order_by("position", "key")


# --- the help center's requests -------------------------------------------------------------------


def customer_request_list(*, viewer: Viewer, cursor: str | None = None, size: int = 25) -> Page:
    """A customer's requests (and their organization's where shared), most recently active first."""
    qs = tickets_visible_to(viewer).filter(merged_into__isnull=True).select_related("requester")
    return keyset_page(qs, ordering=["-updated_at", "-id"], cursor=cursor, size=size)


def request_from_link(*, token: str) -> Ticket:
    """The ticket of a signed follow link; a tampered link, another kind of token or a ticket whose requester
    changed is a 404. An expired link raises ``core.tokens.TokenExpired`` (the page offers a new one)."""
    from tickets.services.requests import request_link_read  # noqa: PLC0415  (the link format lives there)

    try:
        ticket_id, customer_id = request_link_read(token=token)
    except TokenExpired:
        raise
    except TokenInvalid as exc:
        raise Http404("No such request.") from exc
    ticket = _detail(Ticket.objects.all()).filter(pk=ticket_id, requester_id=customer_id).first()
    if ticket is None:
        raise Http404("No such request.")
    return ticket


def request_attachment(*, ticket: Ticket, attachment_id: int) -> Attachment:
    """An attachment of a public message of this ticket (what its requester may download)."""
    attachment = (
        Attachment.objects.select_related("message")
        .filter(pk=attachment_id, message__ticket=ticket, message__is_internal=False)
        .first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


def queues_active() -> QuerySet[Queue]:
    """Every queue a ticket can be moved to (an agent may hand a ticket to another team)."""
    return Queue.objects.filter(is_active=True).order_by("name")


def agents_active() -> QuerySet[User]:
    """Active agents and managers: who a ticket can be assigned to."""
    return User.objects.filter(is_active=True, groups__name__in=[AGENTS, MANAGERS]).distinct().order_by("name")


def agent_by_email(*, email: str) -> User | None:
    """The active agent (or manager) with this e-mail, or None: the one lookup of an agent by address (the
    bulk "assign to", the API's ``assignee_email``, mail from an agent)."""
    return agents_active().filter(email=email.strip().lower()).first()


# --- the team -------------------------------------------------------------------------------------


def team_list() -> QuerySet[User]:
    """Agents and managers with their groups and queues (three queries, whatever the team's size)."""
    return (
        User.objects.filter(groups__name__in=[AGENTS, MANAGERS])
        .distinct()
        .prefetch_related(
            "groups", Prefetch("queue_memberships", queryset=QueueMembership.objects.select_related("queue"))
        )
        .order_by("name", "email")
    )


def team_member_get(*, user_id: int) -> User:
    """A team member a manager may change: never a superuser, never a customer's account (404)."""
    user = team_list().filter(pk=user_id, is_superuser=False).first()
    if user is None:
        raise Http404("No such team member.")
    return user


def ticket_rating(*, ticket: Ticket) -> SatisfactionRating | None:
    """The ticket's satisfaction rating, for the agent's ticket page and the requester's request page."""
    return SatisfactionRating.objects.filter(ticket=ticket).first()


def csat_for_period(
    *, start: dt.datetime, end: dt.datetime, queue_id: int | None = None, assignee_id: int | None = None
) -> dict[str, Any]:
    """CSAT of the ratings given in ``[start, end)``: good / (good + bad), as Zendesk counts it.

    One grouped query over the ``(created_at, score)`` index; ``score`` is None without ratings.
    """
    qs = SatisfactionRating.objects.filter(created_at__gte=start, created_at__lt=end)
    if queue_id is not None:
        qs = qs.filter(ticket__queue_id=queue_id)
    if assignee_id is not None:
        qs = qs.filter(assignee_id=assignee_id)
    counts = dict(qs.order_by().values("score").annotate(n=Count("id")).values_list("score", "n"))
    good, bad = counts.get(SatisfactionRating.Score.GOOD, 0), counts.get(SatisfactionRating.Score.BAD, 0)
    total = good + bad
    return {
        "good": good,
        "bad": bad,
        "total": total,
        "score": round(good * 100 / total, 1) if total else None,
        "start": start,
        "end": end,
    }
