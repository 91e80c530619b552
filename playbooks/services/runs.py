"""Playbook runs: started set-based from signal matches, advanced step by step on the beat.

``playbook_runs_start`` turns active matches of each active playbook's signal into runs, minus
customers outside the segment, with a run already going, or started within the cooldown: one
grouped selection and one bulk insert per playbook (the partial unique index on active runs makes
two starters at once harmless).

``playbook_run_advance`` claims one due run under a row lock (``skip_locked``: two workers never
hold the same run) and executes its steps one transaction each, each together with its
``PlaybookRunLog`` row. The log is unique per (run, position), so a step that ran is never run
again, whether the task is delivered twice or a worker died after committing. Runs live in
PostgreSQL, so a worker restart loses nothing: the next beat picks up whatever is due.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.models import User
from core.roles import is_agent
from customers.models import Category, CustomerEvent, CustomerEventDay, Delivery
from customers.services import deliveries_plan, delivery_plan
from outreach.selectors import segment_customers
from outreach.services.fanout import draft_build
from outreach.services.rendering import CompiledMessage, url_absolute
from outreach.services.rules import drafts_apply_rules
from playbooks.models import (
    ACTIVE_RUN_STATES,
    CheckMode,
    Playbook,
    PlaybookRun,
    PlaybookRunLog,
    PlaybookStep,
    RunState,
    Signal,
    SignalMatch,
    StepAction,
)
from tickets.models import Channel, Kind, QueueMembership
from tickets.services import ticket_create

logger = logging.getLogger(__name__)
Outcome = PlaybookRunLog.Outcome


# --- starting ------------------------------------------------------------------------------------


def playbook_candidates(*, playbook: Playbook, now: dt.datetime | None = None) -> QuerySet[SignalMatch]:
    """The active matches a run would start for now: the dry run's answer and ``playbook_runs_start``'s input."""
    now = now or timezone.now()
    matches = SignalMatch.objects.filter(signal_id=playbook.signal_id, cleared_at__isnull=True)
    runs = PlaybookRun.objects.filter(playbook=playbook)
    blocking = runs.filter(
        Q(state__in=ACTIVE_RUN_STATES) | Q(started_at__gte=now - dt.timedelta(days=playbook.cooldown_days))
    )
    if playbook.signal.scope == Signal.Scope.ORGANIZATION:
        # one run per organization: its first matched customer, none while another member's run blocks it
        first = matches.values("organization_id").annotate(first=Min("pk")).values("first")
        matches = matches.filter(pk__in=first).exclude(
            organization_id__in=blocking.filter(customer__organization__isnull=False).values(
                "customer__organization_id"
            )
        )
    else:
        matches = matches.exclude(customer_id__in=blocking.values("customer_id"))
    matches = matches.exclude(pk__in=runs.filter(match__isnull=False).values("match_id"))
    if playbook.segment is not None:
        matches = matches.filter(customer_id__in=segment_customers(segment=playbook.segment).values("pk"))
    return matches


def _first_position(playbook: Playbook) -> int:
    return playbook.steps.aggregate(first=Min("position"))["first"] or 0


@transaction.atomic
def playbook_runs_create(*, playbook: Playbook, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    first = _first_position(playbook)
    rows = playbook_candidates(playbook=playbook, now=now).values_list("pk", "customer_id", "evidence")
    runs = [
        PlaybookRun(
            playbook=playbook,
            customer_id=customer_id,
            match_id=match_id,
            evidence=evidence,
            current_step=first,
            next_due_at=now,
            started_at=now,
        )
        for match_id, customer_id, evidence in rows
    ]
    PlaybookRun.objects.bulk_create(runs, batch_size=1000, ignore_conflicts=True)
    return len(runs)


def playbook_runs_start(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat job: new runs for every active playbook."""
    now = now or timezone.now()
    return {
        playbook.name: playbook_runs_create(playbook=playbook, now=now)
        for playbook in Playbook.objects.filter(is_active=True, signal__is_active=True).select_related(
            "signal", "segment"
        )
    }


# --- the steps -----------------------------------------------------------------------------------


@dataclass
class StepResult:
    outcome: str
    detail: str
    wait_until: dt.datetime | None = None
    stop: bool = False


def _run_key(run: PlaybookRun, step: PlaybookStep) -> str:
    return f"playbook-run:{run.pk}:step:{step.position}"


def _send_template(run: PlaybookRun, step: PlaybookStep, now: dt.datetime) -> StepResult:
    """Through outreach's own rules: opt-outs and quiet hours (the ledger), the frequency cap and the
    open-ticket hold (``drafts_apply_rules``); the run and step make the idempotency key."""
    template = step.template
    assert template is not None  # a send-template step has one (PlaybookStep.clean)
    draft = draft_build(
        customer=run.customer,
        message=CompiledMessage(subject=template.subject, body=template.body),
        category=template.category,
        key=_run_key(run, step),
        source=f"playbook:{run.playbook_id}",
    )
    deliveries_plan(drafts=drafts_apply_rules([draft], now=now))
    delivery = Delivery.objects.get(idempotency_key=draft.key)
    if delivery.status == Delivery.Status.SUPPRESSED:
        return StepResult(Outcome.SKIPPED, f"“{template.name}” not sent: {delivery.suppressed_reason}")
    if delivery.status == Delivery.Status.HELD:  # it goes once the customer's tickets are solved
        return StepResult(Outcome.DONE, f"“{template.name}” to {delivery.recipient}: {delivery.suppressed_reason}")
    return StepResult(Outcome.DONE, f"“{template.name}” to {delivery.recipient} ({delivery.get_status_display()})")


def _ticket_body(run: PlaybookRun, step: PlaybookStep) -> str:
    playbook = run.playbook
    lines = [
        f"**Raised by the playbook “{playbook.name}”** because the signal “{playbook.signal.name}” holds:",
        "",
        f"> {run.evidence or 'no evidence recorded'}",
        "",
    ]
    if playbook.description:
        lines += [f"Intent: {playbook.description}", ""]
    if step.note:
        lines += [step.note, ""]
    articles = list(step.articles.all())
    if articles:
        lines += ["Articles that may help:", ""]
        lines += [f"- [{article.title}]({url_absolute(article.get_absolute_url())})" for article in articles]
    return "\n".join(lines)


def _author(playbook: Playbook) -> User | None:
    if playbook.owner_agent_id is not None:
        return playbook.owner_agent
    member = (
        QueueMembership.objects.filter(queue_id=playbook.owner_queue_id, agent__is_active=True)  # type: ignore[misc]
        .select_related("agent")
        .order_by("agent_id")
        .first()
    )
    if member is None:
        raise ApplicationError(f"The queue {playbook.owner_queue} has no agent to write the proactive ticket.")
    return member.agent


def _create_ticket(run: PlaybookRun, step: PlaybookStep, now: dt.datetime) -> StepResult:
    playbook = run.playbook
    author = _author(playbook)
    if not is_agent(author):
        raise ApplicationError(f"{author} is not an agent.")
    ticket = ticket_create(
        requester=run.customer,
        subject=f"{playbook.signal.name}: {run.customer.name}"[:300],
        body=_ticket_body(run, step),
        actor=author,
        queue=playbook.owner_queue,
        assignee=playbook.owner_agent,
        kind=Kind.PROACTIVE,
        channel=Channel.PROACTIVE,
        internal=True,
    )
    run.ticket = ticket
    return StepResult(Outcome.DONE, f"proactive ticket {ticket.reference} for {author}")


def _tag(run: PlaybookRun, step: PlaybookStep, now: dt.datetime) -> StepResult:
    assert step.tag is not None  # a tag step has one (PlaybookStep.clean)
    if step.action == StepAction.ADD_TAG:
        run.customer.tags.add(step.tag)
        return StepResult(Outcome.DONE, f"tag {step.tag} added")
    run.customer.tags.remove(step.tag)
    return StepResult(Outcome.DONE, f"tag {step.tag} removed")


def _wait(run: PlaybookRun, step: PlaybookStep, now: dt.datetime) -> StepResult:
    until = now + dt.timedelta(seconds=float(Decimal(step.wait_days or 0) * 86400))
    return StepResult(Outcome.WAITING, f"until {until:%Y-%m-%d %H:%M} UTC", wait_until=until)


def _check(run: PlaybookRun, step: PlaybookStep, now: dt.datetime) -> StepResult:
    if step.check_mode == CheckMode.EVENT_HAPPENED:
        kind = step.check_event_kind
        happened = (
            CustomerEvent.objects.filter(
                customer_id=run.customer_id, kind=kind, occurred_at__gte=run.started_at
            ).exists()
            or CustomerEventDay.objects.filter(
                customer_id=run.customer_id, kind=kind, day__gt=run.started_at.date()
            ).exists()
        )
        if happened:
            return StepResult(Outcome.DONE, f"{kind} happened")
        return StepResult(Outcome.STOPPED, f"no {kind} since the run started", stop=True)
    match = run.match
    if match is not None and match.cleared_at is None:
        return StepResult(Outcome.DONE, f"the signal still holds: {match.evidence}")
    when = f" on {match.cleared_at:%Y-%m-%d %H:%M} UTC" if match is not None and match.cleared_at else ""
    return StepResult(Outcome.STOPPED, f"the signal cleared{when}", stop=True)


def _notify_manager(run: PlaybookRun, step: PlaybookStep, now: dt.datetime) -> StepResult:
    user = step.notify_user or run.playbook.owner_agent
    if user is None:
        raise ApplicationError("Nobody to notify: choose a manager on the step or an owner agent.")
    playbook = run.playbook
    ticket = f"\nTicket: {url_absolute(run.ticket.get_absolute_url())}\n" if run.ticket is not None else ""
    delivery_plan(
        key=_run_key(run, step),
        category=Category.SERVICE,
        recipient=user.email,
        subject=f"[Playbook] {playbook.name}: {run.customer.name}"[:300],
        body=(
            f"The playbook “{playbook.name}” is running for {run.customer} because “{playbook.signal.name}” holds:\n\n"
            f"{run.evidence}\n{ticket}\n{step.note}\n"
        ),
        source=f"playbook:{playbook.pk}",
    )
    return StepResult(Outcome.DONE, f"{user.email} notified")


ACTIONS: dict[str, Callable[[PlaybookRun, PlaybookStep, dt.datetime], StepResult]] = {
    StepAction.SEND_TEMPLATE: _send_template,
    StepAction.CREATE_TICKET: _create_ticket,
    StepAction.ADD_TAG: _tag,
    StepAction.REMOVE_TAG: _tag,
    StepAction.WAIT: _wait,
    StepAction.CHECK: _check,
    StepAction.NOTIFY_MANAGER: _notify_manager,
}


# --- advancing -----------------------------------------------------------------------------------


def _claim(run_id: int, now: dt.datetime) -> PlaybookRun | None:
    """The run, locked, if it is still due; None if another worker holds it or it is not due."""
    return (
        PlaybookRun.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=run_id, state__in=ACTIVE_RUN_STATES, next_due_at__lte=now, playbook__is_active=True)
        .select_related("playbook__signal", "playbook__owner_agent", "playbook__owner_queue", "customer", "match")
        .first()
    )


def _finish(run: PlaybookRun, state: str, now: dt.datetime, reason: str = "") -> None:
    run.state = state
    run.finished_at = now
    run.next_due_at = None
    run.stop_reason = reason[:300]
    run.save(update_fields=["state", "finished_at", "next_due_at", "stop_reason", "current_step", "ticket"])


def _step_once(run_id: int, now: dt.datetime) -> bool:
    """Run the run's next step in one transaction with its log row; True if another step may follow now."""
    with transaction.atomic():
        run = _claim(run_id, now)
        if run is None:
            return False
        step = (
            PlaybookStep.objects.filter(playbook_id=run.playbook_id, position__gte=run.current_step)
            .select_related("template", "tag", "notify_user")
            .order_by("position")
            .first()
        )
        if step is None:
            _finish(run, RunState.COMPLETED, now)
            return False
        try:
            with transaction.atomic():
                log = PlaybookRunLog.objects.create(
                    run=run, position=step.position, action=step.action, outcome=Outcome.DONE, created_at=now
                )
                result = ACTIONS[step.action](run, step, now)
                log.outcome, log.detail = result.outcome, result.detail[:2000]
                log.save(update_fields=["outcome", "detail"])
        except IntegrityError:
            if not PlaybookRunLog.objects.filter(run=run, position=step.position).exists():
                raise
            # the step ran already (its log is there): never again, move on past it
            logger.warning("playbook run %s: step %s already ran, skipped", run.pk, step.position)
            run.current_step = step.position + 1
            ran = PlaybookRunLog.objects.get(run=run, position=step.position)
            if step.action == StepAction.WAIT:  # a wait that ran keeps its end
                until = _wait(run, step, ran.created_at).wait_until
                if until is not None and until > now:
                    run.state, run.next_due_at = RunState.WAITING, until
                    run.save(update_fields=["state", "next_due_at", "current_step"])
                    return False
            run.save(update_fields=["current_step"])
            return True
        except Exception as exc:
            message = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
            logger.exception("playbook run %s: step %s failed", run.pk, step.position)
            PlaybookRunLog.objects.create(
                run=run, position=step.position, action=step.action, outcome=Outcome.FAILED, detail=message[:2000]
            )
            run.current_step = step.position
            _finish(run, RunState.FAILED, now, f"step {step.position} failed: {message}")
            return False
        run.current_step = step.position + 1
        if result.stop:
            _finish(run, RunState.STOPPED, now, result.detail)
            return False
        if result.wait_until is not None:
            run.state, run.next_due_at = RunState.WAITING, result.wait_until
            run.save(update_fields=["state", "next_due_at", "current_step", "ticket"])
            return False
        run.state = RunState.RUNNING
        run.save(update_fields=["state", "current_step", "ticket"])
        return True


def playbook_run_advance(*, run_id: int, now: dt.datetime | None = None) -> None:
    """Run every step of one run that is due now, up to a wait or the end."""
    now = now or timezone.now()
    for _ in range(100):  # a playbook has far fewer steps; the bound only guards against a loop
        if not _step_once(run_id, now):
            return


def playbook_runs_advance(*, now: dt.datetime | None = None, limit: int | None = None) -> int:
    """Beat job: advance the due runs of active playbooks (the partial index on ``next_due_at``)."""
    now = now or timezone.now()
    limit = limit or int(helpdesk_setting("PLAYBOOK_ADVANCE_BATCH"))
    due = list(
        PlaybookRun.objects.filter(state__in=ACTIVE_RUN_STATES, next_due_at__lte=now, playbook__is_active=True)
        .order_by("next_due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for run_id in due:
        playbook_run_advance(run_id=run_id, now=now)
    return len(due)


@transaction.atomic
def playbook_run_stop(*, run: PlaybookRun, actor: object = None, reason: str = "") -> PlaybookRun:
    """Stop an active run; stopping a finished one is an error."""
    locked = PlaybookRun.objects.select_for_update().get(pk=run.pk)
    if locked.state not in ACTIVE_RUN_STATES:
        raise ApplicationError(f"The run is {locked.get_state_display().lower()} already.", {"state": locked.state})
    who = f" by {actor}" if actor is not None else ""
    _finish(locked, RunState.STOPPED, timezone.now(), reason or f"stopped{who}")
    return locked


@transaction.atomic
def playbook_runs_stop(*, playbook: Playbook, actor: object = None) -> int:
    """Stop every active run of a playbook."""
    now = timezone.now()
    who = f" by {actor}" if actor is not None else ""
    return PlaybookRun.objects.filter(playbook=playbook, state__in=ACTIVE_RUN_STATES).update(
        state=RunState.STOPPED, finished_at=now, next_due_at=None, stop_reason=f"playbook stopped{who}"
    )


@transaction.atomic
def playbook_set_active(*, playbook: Playbook, active: bool) -> Playbook:
    """Activate (runs start and advance) or pause (nothing starts or advances; waits keep their time)."""
    locked = Playbook.objects.select_for_update().get(pk=playbook.pk)
    locked.is_active = active
    fields = ["is_active"]
    if active:
        locked.activated_at = timezone.now()
        fields.append("activated_at")
    locked.save(update_fields=fields)
    return locked
