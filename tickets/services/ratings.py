"""Satisfaction ratings: the requester rates a solved ticket once; the rating is its own record.

``ticket_rate`` locks the ticket, refuses a second rating (the one-to-one constraint decides, so two
submits racing each other give one rating), writes a ``rated`` audit event and bumps ``version`` like
every other change. What a low score does next (reopening) is the caller's rule: the survey in outreach
reopens with the customer's comment through ``ticket_customer_reply``.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from customers.models import Customer
from tickets.models import SatisfactionRating, Status, Ticket, TicketEvent
from tickets.policies import Action, ticket_may
from tickets.services._common import Change, lock_ticket

RATABLE_STATUSES = (Status.SOLVED, Status.CLOSED)
ALREADY_RATED = "You have rated this request already. Thank you!"


@transaction.atomic
def ticket_rate(
    *, ticket: Ticket, score: str, reason: str = "", comment: str = "", customer: Customer | None = None
) -> SatisfactionRating:
    """Record the requester's rating of a solved ticket. A second rating is refused (ApplicationError)."""
    errors: dict[str, str] = {}
    if score not in SatisfactionRating.Score.values:
        errors["rating"] = "Choose good or bad."
    if reason not in SatisfactionRating.Reason.values:
        errors["reason"] = "Choose one of the reasons."
    if errors:
        raise ApplicationError("The rating is not valid.", errors)
    locked = lock_ticket(ticket)
    if SatisfactionRating.objects.filter(ticket=locked).exists():
        raise ApplicationError(ALREADY_RATED, {"rating": "Rated already.", "already_rated": True})
    # solved once is enough: a requester who wrote again after the solve may still answer the survey
    if locked.solved_at is None and locked.status not in RATABLE_STATUSES:
        raise ApplicationError("You can rate a request once it is solved.", {"rating": "Not solved yet."})
    customer = customer or locked.requester
    if not ticket_may(ticket=locked, customer=customer, action=Action.RATE):  # the requester's alone
        raise ApplicationError("Only the requester can rate this request.", {"rating": "Not the requester."})
    now = timezone.now()
    try:
        with transaction.atomic():
            rating = SatisfactionRating.objects.create(
                ticket=locked,
                customer=customer,
                score=score,
                reason=reason,
                comment=(comment or "").strip(),
                assignee_id=locked.assignee_id,
                created_at=now,
            )
    except IntegrityError as exc:  # the row lock makes this rare; the constraint makes it impossible
        raise ApplicationError(ALREADY_RATED, {"rating": "Rated already.", "already_rated": True}) from exc
    change = Change(ticket=locked, actor=customer.user if customer is not None else None, now=now)
    change.record(TicketEvent.Kind.RATED, field_name="satisfaction", new={"score": score, "reason": reason})
    change.save()
    ticket.version = locked.version
    return rating
