"""Satisfaction ratings: their own record, offered once, audited, shown to agent and requester, read for CSAT."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.exceptions import ApplicationError
from outreach.models import FollowUp
from outreach.services import followups_run, survey_answer
from outreach.services.followups import survey_read, survey_token
from tests.factories import AgentFactory, CustomerFactory
from tests.tickets.factories import make_ticket
from tickets.models import SatisfactionRating, Ticket, TicketEvent
from tickets.selectors import csat_for_period
from tickets.services import ticket_rate, ticket_solve

pytestmark = pytest.mark.django_db


def _solved(**kw):
    ticket = make_ticket(**kw)
    ticket_solve(ticket=ticket, actor=AgentFactory())
    return Ticket.objects.get(pk=ticket.pk)


def test_a_rating_is_its_own_record_with_an_audit_event_and_a_version_bump():
    ticket = _solved()
    version = ticket.version
    notes = ticket.messages.count()
    rating = ticket_rate(ticket=ticket, score="bad", reason="too_long", comment="Three days!")
    ticket.refresh_from_db()
    assert (rating.score, rating.reason, rating.comment, rating.customer_id) == (
        "bad",
        "too_long",
        "Three days!",
        ticket.requester_id,
    )
    assert ticket.version == version + 1
    event = ticket.events.get(kind=TicketEvent.Kind.RATED)
    assert event.new_value == {"score": "bad", "reason": "too_long"}
    assert ticket.messages.count() == notes  # no internal note pretending to be a message


def test_a_second_rating_is_refused_and_changes_nothing():
    ticket = _solved()
    ticket_rate(ticket=ticket, score="good")
    ticket.refresh_from_db()
    version = ticket.version
    with pytest.raises(ApplicationError) as exc:
        ticket_rate(ticket=ticket, score="bad", comment="changed my mind")
    assert exc.value.message == "You have rated this request already. Thank you!"
    ticket.refresh_from_db()
    assert ticket.version == version
    assert list(SatisfactionRating.objects.values_list("score", flat=True)) == ["good"]


def test_an_unsolved_ticket_or_an_unknown_score_is_not_rated():
    ticket = make_ticket()
    with pytest.raises(ApplicationError):
        ticket_rate(ticket=ticket, score="good")
    with pytest.raises(ApplicationError) as exc:
        ticket_rate(ticket=_solved(), score="meh", reason="nope")
    assert set(exc.value.extra) == {"rating", "reason"}
    assert not SatisfactionRating.objects.exists()


def test_csat_for_a_period_is_good_over_all_ratings_in_it(django_assert_num_queries):
    now = timezone.now()
    for score in ("good", "good", "bad"):
        ticket_rate(ticket=_solved(), score=score)
    old = ticket_rate(ticket=_solved(), score="bad")
    SatisfactionRating.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=40))
    with django_assert_num_queries(1):
        csat = csat_for_period(start=now - dt.timedelta(days=30), end=now + dt.timedelta(minutes=1))
    assert (csat["good"], csat["bad"], csat["total"], csat["score"]) == (2, 1, 3, 66.7)
    assert csat_for_period(start=now + dt.timedelta(days=1), end=now + dt.timedelta(days=2))["score"] is None


def test_the_survey_records_a_rating_once_and_a_low_score_still_reopens(client):
    ticket = _solved(requester=CustomerFactory())
    followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    url = reverse("help-survey", args=[survey_token(FollowUp.objects.get().pk)])
    response = client.post(url, {"rating": "bad", "reason": "not_resolved", "comment": "Still broken"})
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.satisfaction_rating.score == "bad"
    assert ticket.satisfaction_rating.reason == "not_resolved"
    again = client.post(url, {"rating": "good"})
    assert again.status_code == 400
    assert "You have rated this request already. Thank you!" in again.content.decode()
    assert "<form" not in again.content.decode().split("<main", 1)[-1]
    assert SatisfactionRating.objects.get().score == "bad"
    assert client.get(url).status_code == 200  # a second visit is told, politely


def test_still_not_fixed_is_recorded_as_the_reason():
    ticket = _solved()
    followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    survey_answer(follow_up=FollowUp.objects.get(), rating="good", still_broken=True)
    assert SatisfactionRating.objects.get().reason == "not_resolved"


def test_the_html_survey_mail_has_real_links(django_capture_on_commit_callbacks):
    ticket = _solved(requester=CustomerFactory(name="Ann <b>Lee</b>"), subject="Printer <i>fire</i>")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    html = mail.outbox[0].alternatives[0][0]
    # the token is read from the mail (it carries a timestamp: one made here a second later differs)
    token = re.search(r"/help/survey/([^/]+)/\?rating=good\">Good, I'm satisfied</a>", html).group(1)
    assert survey_read(token) == FollowUp.objects.get()
    assert f'/help/survey/{token}/?rating=bad">' in html
    assert "<b>" not in html
    assert "<i>" not in html
    assert "&lt;i&gt;" in html


def test_the_agent_page_shows_the_rating(manager_client):
    ticket = _solved()
    ticket_rate(ticket=ticket, score="bad", reason="attitude", comment="Rude <script>")
    page = manager_client.get(ticket.get_absolute_url()).content.decode()
    assert 'id="satisfaction"' in page
    assert "The tone of the answer" in page
    assert "Rude &lt;script&gt;" in page
    assert "The customer rated the support bad (the tone of the answer)" in page  # the audit trail, in words


def test_after_rating_the_help_center_shows_the_rating_instead_of_offering_it(customer_client, customer_user):
    ticket = _solved(requester=customer_user.customer)
    page = customer_client.get(reverse("help-request-detail", args=[ticket.pk])).content.decode()
    assert "Rate our support" in page
    ticket_rate(ticket=ticket, score="good")
    page = customer_client.get(reverse("help-request-detail", args=[ticket.pk])).content.decode()
    assert "Rate our support" not in page
    assert "You rated our support <strong>Good</strong>" in page
    response = customer_client.get(reverse("help-request-rate", args=[ticket.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("help-request-detail", args=[ticket.pk])


def test_managers_read_ratings_in_the_admin_and_cannot_edit_them(client):
    from tests.factories import UserFactory

    ticket = _solved()
    ticket_rate(ticket=ticket, score="good")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/tickets/satisfactionrating/").status_code == 200
    rating = SatisfactionRating.objects.get()
    assert client.post(f"/admin/tickets/satisfactionrating/{rating.pk}/change/", {"score": "bad"}).status_code == 403
    assert SatisfactionRating.objects.get().score == "good"
