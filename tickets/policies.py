"""Who may see, reply to, solve, rate and download a ticket: the one place that answers it.

Pages, API views and services ask ``ticket_access(ticket=..., user=...)`` (a signed-in person) or
``ticket_access(ticket=..., customer=...)`` (someone known by a customer record: the sender of an e-mail,
the holder of a signed follow link, who acts as the requester) and then ``.may(Action.REPLY)``. Lists use
``tickets_visible_to(user)``, the same answer as a queryset. A ticket the person may not see is a 404
(``Http404`` from ``ticket_get_for``), never a 403 that confirms it exists.

======================  =====  =====  =====  ====  ========  ==========================================
role                    see    reply  solve  rate  download  who
======================  =====  =====  =====  ====  ========  ==========================================
agent                   yes    yes    yes    no    yes       a manager (every ticket); an agent: tickets
                                                             of their queues and those assigned to them
requester               yes    yes    yes    yes   yes       the ticket's customer (a confirmed account
                                                             linked to it, a follow link, their e-mail)
unverified requester    yes    yes    yes    yes   yes       an account whose address is not confirmed,
                                                             on a request it filed itself in that
                                                             address's name (it acts as the requester)
cc                      yes    yes    no     no    yes       a customer in copy (``Ticket.ccs``)
organization            yes    yes    no     no    yes       a colleague where the organization shares
                                                             tickets and, for a member by e-mail domain,
                                                             has opted in (``domain_members_see_tickets``)
stranger                no     no     no     no    no        anyone else, an inactive account, nobody
======================  =====  =====  =====  ====  ========  ==========================================

Where the layers disagreed before this module: a CC could reply (by e-mail and in the help center) to a
ticket the help center would not show them, and the rating page refused an unconfirmed account the rating
of a request it could solve. As in Zendesk, a CC sees and follows the requests they are copied on in the
help center and adds comments, but solving and the satisfaction survey stay the requester's; an
unconfirmed account acting as the requester on its own request may rate what it may solve.

"Download" is the public messages' attachments (an agent's include internal notes: ``attachment_get_for``).
What the ticket's state allows (a closed ticket takes no rating before its solve, a reply to a closed one
opens a follow-up) is each service's rule; this is only who. The agent-side capabilities (declaring an
incident, sending a campaign, ...) are ``core.policies``; an agent's rights here need no capability.
"""

import enum
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from core.models import User
from core.roles import is_agent, is_manager
from core.types import Viewer
from customers.models import Customer
from tickets.models import QueueMembership, Ticket


class Action(enum.StrEnum):
    SEE = "see"
    REPLY = "reply"
    SOLVE = "solve"
    RATE = "rate"
    DOWNLOAD = "download"


class Role(enum.StrEnum):
    AGENT = "agent"
    REQUESTER = "requester"
    UNVERIFIED_REQUESTER = "unverified requester"
    CC = "cc"
    ORGANIZATION = "organization"
    STRANGER = "stranger"


_FOLLOWER = frozenset({Action.SEE, Action.REPLY, Action.DOWNLOAD})

RIGHTS: dict[Role, frozenset[Action]] = {
    Role.AGENT: frozenset({Action.SEE, Action.REPLY, Action.SOLVE, Action.DOWNLOAD}),
    Role.REQUESTER: frozenset(Action),
    Role.UNVERIFIED_REQUESTER: frozenset(Action),
    Role.CC: _FOLLOWER,
    Role.ORGANIZATION: _FOLLOWER,
    Role.STRANGER: frozenset(),
}


@dataclass(frozen=True)
class TicketAccess:
    """What one person may do on one ticket, and the customer record they act as there (None for an agent
    or a stranger): an unconfirmed account acts as the requester of what it filed."""

    role: Role
    customer: Customer | None = None

    def may(self, action: Action) -> bool:
        return action in RIGHTS[self.role]


STRANGER = TicketAccess(Role.STRANGER)


def agent_queue_ids(viewer: User) -> list[int]:
    """The queues the agent is a member of (memoized on the user for the request)."""
    cached = getattr(viewer, "_ticket_queue_ids", None)
    if cached is None:
        cached = sorted(QueueMembership.objects.filter(agent=viewer).values_list("queue_id", flat=True))
        viewer._ticket_queue_ids = cached  # type: ignore[attr-defined]  # a per-request memo
    return cached


def customer_of(viewer: User) -> Customer | None:
    """The customer record linked to the account, with its organization (memoized for the request)."""
    cached: Customer | None
    if hasattr(viewer, "_ticket_customer"):
        cached = viewer._ticket_customer
    else:
        cached = Customer.objects.select_related("organization").filter(user=viewer).first()
        viewer._ticket_customer = cached  # type: ignore[attr-defined]  # a per-request memo
    return cached


def _copied_ticket_ids(customer: Customer) -> list[int]:
    """The tickets the customer is in copy on. Read first and put in the condition as a list: a subquery
    inside the OR would be checked on every row instead of ORing three index scans."""
    cached = getattr(customer, "_ticket_cc_ids", None)
    if cached is None:
        cached = list(Ticket.ccs.through.objects.filter(customer=customer).values_list("ticket_id", flat=True))
        customer._ticket_cc_ids = cached  # type: ignore[attr-defined]  # a per-request memo
    return cached


def tickets_visible_to(viewer: Viewer | None) -> QuerySet[Ticket]:
    """The tickets ``viewer`` may see, as a queryset (the "see" column of the table, for lists)."""
    if viewer is None or not viewer.is_authenticated or not viewer.is_active:
        return Ticket.objects.none()
    if is_manager(viewer):
        return Ticket.objects.all()
    if is_agent(viewer):
        return Ticket.objects.filter(Q(queue_id__in=agent_queue_ids(viewer)) | Q(assignee=viewer))
    if not viewer.email_verified:
        # nothing of a customer record until the address is proven: only what this account filed itself,
        # in its own address's name (a ticket an agent moved to another requester is not theirs any more)
        own = Customer.objects.filter(email=viewer.email).values("pk")
        return Ticket.objects.filter(submitted_by=viewer, requester__in=own)
    customer = customer_of(viewer)
    if customer is None:
        return Ticket.objects.none()
    return Ticket.objects.filter(_customer_condition(customer))


def _customer_condition(customer: Customer) -> Q:
    condition = Q(requester=customer)
    if copied := _copied_ticket_ids(customer):
        condition |= Q(pk__in=copied)
    if customer.sees_organization_tickets:
        condition |= Q(organization_id=customer.organization_id)
    return condition


def ticket_access(*, ticket: Ticket, user: Viewer | None = None, customer: Customer | None = None) -> TicketAccess:
    """The role of a signed-in ``user``, or else of ``customer``, on ``ticket`` (see the table)."""
    if user is not None:
        return _user_access(ticket, user)
    if customer is not None:
        return _customer_access(ticket, customer)
    return STRANGER


def _user_access(ticket: Ticket, user: Viewer) -> TicketAccess:
    if not user.is_authenticated or not user.is_active:
        return STRANGER
    if is_agent(user):
        sees = is_manager(user) or ticket.assignee_id == user.pk or ticket.queue_id in agent_queue_ids(user)
        return TicketAccess(Role.AGENT) if sees else STRANGER
    if not user.email_verified:
        if ticket.submitted_by_id == user.pk and ticket.requester.email == user.email:
            return TicketAccess(Role.UNVERIFIED_REQUESTER, ticket.requester)
        return STRANGER
    customer = customer_of(user)
    return STRANGER if customer is None else _customer_access(ticket, customer)


def _customer_access(ticket: Ticket, customer: Customer) -> TicketAccess:
    if customer.pk == ticket.requester_id:
        return TicketAccess(Role.REQUESTER, customer)
    if any(cc.pk == customer.pk for cc in ticket.ccs.all()):  # prefetched on a ticket's page (``_detail``)
        return TicketAccess(Role.CC, customer)
    same_organization = bool(ticket.organization_id) and ticket.organization_id == customer.organization_id
    if same_organization and customer.sees_organization_tickets:
        return TicketAccess(Role.ORGANIZATION, customer)
    return STRANGER


def ticket_may(*, ticket: Ticket, action: Action, user: Viewer | None = None, customer: Customer | None = None) -> bool:
    return ticket_access(ticket=ticket, user=user, customer=customer).may(action)
