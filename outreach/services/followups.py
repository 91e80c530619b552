"""Post-resolution follow-ups: a check-in with a satisfaction survey, once per ticket, a delay after solving.

``followups_run`` (beat) finds solved tickets without a follow-up with one indexed query, creates the
FollowUp rows (one per ticket: a unique constraint, so solving twice or running twice sends one) and
plans the e-mails. ``survey_answer`` records the answer; a bad rating or "still not fixed" reopens the
ticket with the comment as the customer's message.
"""

import datetime as dt

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.tokens import TokenInvalid, token_make, token_read
from customers.models import Category
from customers.services import deliveries_plan
from outreach.models import FollowUp
from outreach.services.fanout import draft_build
from outreach.services.rendering import CompiledMessage, url_absolute
from outreach.services.rules import drafts_apply_rules
from tickets.models import SatisfactionRating, Ticket
from tickets.services import ticket_customer_reply, ticket_rate
from tickets.services.ratings import ALREADY_RATED

#: tickets solved longer ago than the delay plus this are not surveyed (a first deploy does not survey history)
CATCH_UP = dt.timedelta(days=7)

SUBJECT = "How did we do with {{ ticket.reference }}?"
BODY = """Hello {{ customer.first_name|default:customer.name }},

we solved your request "{{ ticket.subject }}". Is everything working again?

Good, I'm satisfied: {{ survey_url }}?rating=good
Bad, or still not fixed: {{ survey_url }}?rating=bad

Thank you for helping us improve.
"""
#: the HTML part: the same words, with the answers as real links (autoescaped: names and subjects stay text)
HTML_BODY = """<p>Hello {{ customer.first_name|default:customer.name }},</p>
<p>we solved your request &ldquo;{{ ticket.subject }}&rdquo;. Is everything working again?</p>
<p><a href="{{ survey_url }}?rating=good">Good, I'm satisfied</a></p>
<p><a href="{{ survey_url }}?rating=bad">Bad, or still not fixed</a></p>
<p>Thank you for helping us improve.</p>
"""


def survey_token(follow_up_id: int) -> str:
    """The survey link's token: single-purpose, valid for ``SURVEY_LINK_MAX_AGE_DAYS`` (core.tokens)."""
    return token_make(purpose="survey", value=follow_up_id)


def survey_read(token: str) -> FollowUp | None:
    """The follow-up of a genuine survey token within its window; None for an expired, tampered or other token."""
    try:
        pk = token_read(purpose="survey", token=token)
    except TokenInvalid:
        return None
    if not isinstance(pk, int):
        return None
    return FollowUp.objects.select_related("ticket", "customer").filter(pk=pk).first()


def followups_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat job: survey the requesters of tickets solved ``OUTREACH_FOLLOW_UP_DELAY_HOURS`` ago. Exactly once each."""
    now = now or timezone.now()
    due = now - dt.timedelta(hours=helpdesk_setting("OUTREACH_FOLLOW_UP_DELAY_HOURS"))
    tickets = list(
        Ticket.objects.filter(
            status__in=["solved", "closed"], solved_at__lte=due, solved_at__gte=due - CATCH_UP, merged_into__isnull=True
        )
        .exclude(follow_up_survey__isnull=False)
        .select_related("requester", "requester__organization")
        .order_by("solved_at", "pk")[:2000]
    )
    if not tickets:
        return {"planned": 0}
    message = CompiledMessage(subject=SUBJECT, body=BODY, html_body=HTML_BODY)
    with transaction.atomic():
        FollowUp.objects.bulk_create(
            [FollowUp(ticket=t, customer=t.requester, created_at=now) for t in tickets], ignore_conflicts=True
        )
        follow_ups = dict(FollowUp.objects.filter(ticket__in=tickets).values_list("ticket_id", "pk"))
        drafts = [
            draft_build(
                customer=ticket.requester,
                message=message,
                category=Category.FOLLOW_UP,
                key=f"follow-up:ticket:{ticket.pk}",
                source=f"ticket:{ticket.pk}",
                extra={
                    "ticket": {"id": ticket.pk, "reference": ticket.reference, "subject": ticket.subject},
                    "survey_url": url_absolute(reverse("help-survey", args=[survey_token(follow_ups[ticket.pk])])),
                },
            )
            for ticket in tickets
        ]
        deliveries_plan(drafts=drafts_apply_rules(drafts, now=now))
    return {"planned": len(drafts)}


@transaction.atomic
def survey_answer(
    *, follow_up: FollowUp, rating: str, reason: str = "", comment: str = "", still_broken: bool = False
) -> FollowUp:
    """Record the answer once, as the ticket's ``SatisfactionRating`` (``ticket_rate``: audit event, version + 1).

    A bad rating or "still not fixed" reopens the ticket with the comment as the customer's message.
    """
    follow_up = FollowUp.objects.select_for_update().select_related("ticket", "customer").get(pk=follow_up.pk)
    if follow_up.answered_at is not None:
        raise ApplicationError(ALREADY_RATED, {"rating": "Answered already.", "already_rated": True})
    if rating not in FollowUp.Rating.values:
        raise ApplicationError("Choose good or bad.", {"rating": "Choose good or bad."})
    comment = comment.strip()
    if still_broken and not reason:
        reason = SatisfactionRating.Reason.NOT_RESOLVED
    ticket = follow_up.ticket
    ticket_rate(ticket=ticket, score=rating, reason=reason, comment=comment, customer=follow_up.customer)
    # kept on the survey too: the playbooks' "bad rating" signal counts these rows
    follow_up.rating, follow_up.comment, follow_up.still_broken = rating, comment, still_broken
    follow_up.answered_at = timezone.now()
    if rating == FollowUp.Rating.BAD or still_broken:
        body = comment or ("My problem is still not fixed." if still_broken else "I am not satisfied with the answer.")
        ticket_customer_reply(ticket=ticket, body=body, customer=follow_up.customer, channel="web")
        follow_up.reopened = True
    follow_up.save(update_fields=["rating", "comment", "still_broken", "answered_at", "reopened"])
    return follow_up


@transaction.atomic
def followup_open(*, ticket: Ticket) -> FollowUp:
    """The ticket's survey when its requester rates it from the help center, before or instead of the
    check-in e-mail (which is then not sent: the requester has already answered). One per ticket."""
    if ticket.status not in ("solved", "closed"):
        raise ApplicationError("You can rate a request once it is solved.")
    if SatisfactionRating.objects.filter(ticket=ticket).exists():
        raise ApplicationError(ALREADY_RATED, {"already_rated": True})
    follow_up, _ = FollowUp.objects.get_or_create(ticket=ticket, defaults={"customer": ticket.requester})
    return follow_up
