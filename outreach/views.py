"""Pages of the outreach app: the agent workspace under /agent/outreach/, the status page and links from e-mails."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.policies import can, capability_required, denied_message
from core.roles import agent_required
from core.tokens import TokenExpired
from core.types import AuthedRequest, HtmxRequest
from customers.models import Category
from outreach import selectors
from outreach.forms import (
    CampaignForm,
    IncidentDeclareForm,
    IncidentResolveForm,
    IncidentUpdateForm,
    LinkTicketForm,
    MaintenanceForm,
    PreviewForm,
    SegmentForm,
    SolveLinkedForm,
    TemplateForm,
)
from outreach.models import Campaign, Incident
from outreach.services import (
    campaign_cancel,
    campaign_create,
    campaign_schedule,
    incident_declare,
    incident_resolve,
    incident_update_post,
    maintenance_schedule,
    maintenance_start,
    segment_save,
    template_preview,
    template_save,
    unsubscribe_apply,
    unsubscribe_target,
)


def _forbidden(request: AuthedRequest, capability: str) -> HttpResponse:
    return render(request, "agent/forbidden.html", {"message": denied_message(capability)}, status=403)


# --- home ----------------------------------------------------------------------------


@agent_required
def outreach_home_view(request: AuthedRequest) -> HttpResponse:
    campaigns = selectors.campaign_list(size=20).items
    summaries = selectors.campaign_summaries(campaigns=campaigns)
    context = {
        "incidents": selectors.incident_list(size=20).items,
        "campaigns": [(campaign, summaries[campaign.pk]) for campaign in campaigns],
        "templates": selectors.template_list()[:50],
        "segments": selectors.segment_list()[:50],
    }
    return render(request, "outreach/outreach_home.html", context)


# --- incidents -----------------------------------------------------------------------


@capability_required("incident.declare")
def incident_declare_view(request: AuthedRequest) -> HttpResponse:
    form = IncidentDeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = incident_declare(**form.cleaned_data, actor=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "The incident is declared; affected customers are being notified.")
            return redirect(incident)
    return render(request, "outreach/incident_form.html", {"form": form, "title": "Declare an incident"})


@capability_required("incident.declare")
def maintenance_schedule_view(request: AuthedRequest) -> HttpResponse:
    form = MaintenanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = maintenance_schedule(**form.cleaned_data, actor=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "The maintenance is announced.")
            return redirect(incident)
    return render(request, "outreach/incident_form.html", {"form": form, "title": "Schedule maintenance"})


#: how often the incident page's figures refresh: fast while notices go out, slowly while tickets may arrive
LIVE_POLL_SENDING_SECONDS = 2
LIVE_POLL_OPEN_SECONDS = 30


def _incident_live(incident: Incident) -> dict[str, Any]:
    progress = selectors.incident_progress(incident=incident)
    sending = not progress["planning_done"] or progress["queued"] or progress["sending"]
    poll = LIVE_POLL_SENDING_SECONDS if sending else LIVE_POLL_OPEN_SECONDS if incident.is_open else 0
    return {"progress": progress, "figures": selectors.incident_figures(incident=incident), "live_poll": poll}


def _incident_page(request: AuthedRequest, incident: Incident, **forms: Any) -> HttpResponse:
    template = "outreach/incident_detail.html"
    if request.htmx and request.htmx.target in ("incident-live", "incident-progress"):
        return render(request, template + "#live", {"incident": incident, **_incident_live(incident)})
    context = {
        "incident": incident,
        "updates": selectors.incident_updates(incident=incident),
        **_incident_live(incident),
        "earlier": selectors.incident_earlier_ticket_count(incident=incident) if incident.is_open else (0, False),
        "linked": selectors.incident_linked_tickets(incident=incident),
        "update_form": forms.get("update_form") or IncidentUpdateForm(),
        "resolve_form": forms.get("resolve_form") or IncidentResolveForm(),
        "link_form": forms.get("link_form") or LinkTicketForm(),
        "solve_form": forms.get("solve_form") or SolveLinkedForm(),
    }
    return render(request, template, context, status=forms.get("status", 200))


@agent_required
def incident_detail_view(request: AuthedRequest, incident_id: int) -> HttpResponse:
    return _incident_page(request, selectors.incident_get(incident_id=incident_id))


@require_POST
@capability_required("incident.declare")
def incident_update_view(request: AuthedRequest, incident_id: int) -> HttpResponse:
    incident = selectors.incident_get(incident_id=incident_id)
    form = IncidentUpdateForm(request.POST)
    if form.is_valid():
        try:
            incident_update_post(incident=incident, message=form.cleaned_data["message"], actor=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "The update is posted; customers are being notified.")
            return redirect(incident)
    return _incident_page(request, incident, update_form=form, status=400)


@require_POST
@capability_required("incident.declare")
def incident_resolve_view(request: AuthedRequest, incident_id: int) -> HttpResponse:
    incident = selectors.incident_get(incident_id=incident_id)
    form = IncidentResolveForm(request.POST)
    if form.is_valid():
        try:
            incident_resolve(incident=incident, message=form.cleaned_data["message"], actor=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "Resolved; customers are being told.")
            return redirect(incident)
    return _incident_page(request, incident, resolve_form=form, status=400)


@require_POST
@capability_required("incident.declare")
def maintenance_start_view(request: AuthedRequest, incident_id: int) -> HttpResponse:
    incident = selectors.incident_get(incident_id=incident_id)
    try:
        maintenance_start(incident=incident, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(incident)


@require_POST
@agent_required
def incident_link_view(request: AuthedRequest, incident_id: int) -> HttpResponse:
    from outreach.services import incident_link_ticket  # noqa: PLC0415

    incident = selectors.incident_get(incident_id=incident_id)
    form = LinkTicketForm(request.POST)
    if form.is_valid():
        try:
            incident_link_ticket(
                incident=incident, ticket_number=form.cleaned_data["ticket_number"], actor=request.user
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "The ticket is linked.")
            return redirect(incident)
    return _incident_page(request, incident, link_form=form, status=400)


@require_POST
@capability_required("incident.declare")
def incident_link_earlier_view(request: AuthedRequest, incident_id: int) -> HttpResponse:
    """Link (and answer) the open tickets affected customers opened before the declaration, in one click."""
    from outreach.services import incident_link_earlier_tickets  # noqa: PLC0415

    incident = selectors.incident_get(incident_id=incident_id)
    try:
        linked = incident_link_earlier_tickets(incident=incident, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{linked} earlier ticket{'s' if linked != 1 else ''} linked and answered.")
    return redirect(incident)


@require_POST
@capability_required("incident.declare")
def incident_solve_linked_view(request: AuthedRequest, incident_id: int) -> HttpResponse:
    from outreach.services import incident_solve_linked_tickets  # noqa: PLC0415

    incident = selectors.incident_get(incident_id=incident_id)
    form = SolveLinkedForm(request.POST)
    if form.is_valid():
        try:
            solved = incident_solve_linked_tickets(
                incident=incident, message=form.cleaned_data["message"], actor=request.user
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, f"{solved} linked tickets solved.")
            return redirect(incident)
    return _incident_page(request, incident, solve_form=form, status=400)


# --- campaigns -----------------------------------------------------------------------


@capability_required("campaign.draft")
def campaign_create_view(request: AuthedRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(**form.cleaned_data, actor=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            return redirect(campaign)
    return render(request, "outreach/campaign_form.html", {"form": form})


def _campaign_page(request: AuthedRequest, campaign: Campaign, status: int = 200) -> HttpResponse:
    template = "outreach/campaign_detail.html"
    if request.htmx and request.htmx.target in ("campaign-live", "campaign-progress"):
        summary = selectors.campaign_summary(campaign=campaign)
        return render(request, template + "#live", {"campaign": campaign, "summary": summary, "progress": summary})
    sample = selectors.segment_preview(segment=campaign.segment, sample_size=5)
    preview = template_preview(template=campaign.template, customer=sample["sample"][0]) if sample["sample"] else None
    summary = selectors.campaign_summary(campaign=campaign)
    context = {
        "campaign": campaign,
        "summary": summary,
        "progress": summary,
        "audience": sample,
        "preview": preview,
    }
    return render(request, template, context, status=status)


@agent_required
def campaign_detail_view(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    return _campaign_page(request, selectors.campaign_get(campaign_id=campaign_id))


@require_POST
@capability_required("campaign.send")
def campaign_schedule_view(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    try:
        campaign = campaign_schedule(campaign=campaign, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The campaign is {campaign.get_status_display().lower()}.")
    return redirect(campaign)


@require_POST
@capability_required("campaign.send")
def campaign_cancel_view(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(campaign_id=campaign_id)
    try:
        stopped = campaign_cancel(campaign=campaign, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Cancelled; {stopped} messages not sent.")
    return redirect(campaign)


# --- templates and segments ----------------------------------------------------------


@agent_required
def template_edit_view(request: AuthedRequest, template_id: int | None = None) -> HttpResponse:
    template = selectors.template_get(template_id=template_id) if template_id else None
    if (request.method == "POST" or template is None) and not can(request.user, "template.edit"):
        return _forbidden(request, "template.edit")
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        try:
            template = template_save(template=template, **form.cleaned_data)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "The template is saved.")
            return redirect(template)
    preview_form = PreviewForm(request.GET or None)
    preview = None
    if template is not None and preview_form.is_valid():
        try:
            preview = template_preview(template=template, customer=preview_form.cleaned_data["customer"])
        except ApplicationError as exc:
            form_add_service_error(preview_form, exc)
    page = "outreach/template_form.html" + ("#preview" if request.htmx and template is not None else "")
    return render(
        request, page, {"form": form, "template_obj": template, "preview_form": preview_form, "preview": preview}
    )


@agent_required
def segment_edit_view(request: AuthedRequest, segment_id: int | None = None) -> HttpResponse:
    segment = selectors.segment_get(segment_id=segment_id) if segment_id else None
    if (request.method == "POST" or segment is None) and not can(request.user, "segment.edit"):
        return _forbidden(request, "segment.edit")
    form = SegmentForm(request.POST or None, instance=segment)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        segment = segment_save(segment=segment, products=data.pop("products"), tags=data.pop("tags"), **data)
        messages.success(request, "The segment is saved.")
        return redirect(segment)
    preview = selectors.segment_preview(segment=segment) if segment is not None else None
    page = "outreach/segment_form.html" + ("#audience" if request.htmx and segment is not None else "")
    return render(request, page, {"form": form, "segment": segment, "preview": preview})


# --- help center ---------------------------------------------------------------------


def status_view(request: HtmxRequest) -> HttpResponse:
    return render(request, "outreach/status.html", selectors.incidents_for_status_page())


@csrf_exempt  # the token is the credential; RFC 8058 one-click POSTs come from mail clients without a CSRF token
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        customer, category = unsubscribe_target(token=token)
    except ApplicationError:
        return render(request, "outreach/unsubscribe.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        unsubscribe_apply(token=token)
        done = True
    label = Category(category).label
    return render(
        request, "outreach/unsubscribe.html", {"customer": customer, "category": category, "label": label, "done": done}
    )


def survey_view(request: HttpRequest, token: str) -> HttpResponse:
    """The follow-up survey, reachable through its signed link without signing in."""
    from outreach.forms import SurveyForm  # noqa: PLC0415
    from outreach.services import survey_answer  # noqa: PLC0415
    from outreach.services.followups import survey_read  # noqa: PLC0415

    follow_up = survey_read(token)
    if follow_up is None:
        return render(request, "outreach/survey.html", {"invalid": True}, status=404)
    if follow_up.answered_at is not None:
        # offered once: a second visit or submit is told so, and nothing changes
        status = 400 if request.method == "POST" else 200
        return render(request, "outreach/survey.html", {"answered": True, "follow_up": follow_up}, status=status)
    initial = {"rating": request.GET.get("rating")} if request.GET.get("rating") in ("good", "bad") else {}
    form = SurveyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            survey_answer(follow_up=follow_up, **form.cleaned_data)
        except ApplicationError as exc:
            if exc.extra.get("already_rated"):
                return render(request, "outreach/survey.html", {"answered": True, "follow_up": follow_up}, status=400)
            form_add_service_error(form, exc)
        else:
            follow_up.refresh_from_db()
            return render(request, "outreach/survey.html", {"done": True, "follow_up": follow_up})
    status = 400 if request.method == "POST" else 200
    return render(request, "outreach/survey.html", {"form": form, "follow_up": follow_up}, status=status)


def request_rating_view(request: HttpRequest, ticket_id: int | None = None, token: str = "") -> HttpResponse:
    """The "rate our support" link of a solved request in the help center: opens its survey."""
    from outreach.services.followups import followup_open, survey_token  # noqa: PLC0415
    from tickets.policies import Action, ticket_may  # noqa: PLC0415
    from tickets.selectors import request_from_link, ticket_get_for  # noqa: PLC0415

    if token:
        try:
            ticket = request_from_link(token=token)
        except TokenExpired:
            return redirect("help-request-link-new")
    elif not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    else:
        ticket = ticket_get_for(viewer=request.user, ticket_id=ticket_id)
        if not ticket_may(ticket=ticket, user=request.user, action=Action.RATE):  # the requester's alone
            raise Http404
    try:
        follow_up = followup_open(ticket=ticket)
    except ApplicationError as exc:
        (messages.info if exc.extra.get("already_rated") else messages.error)(request, exc.message)
        return redirect(reverse("help-request-link", args=[token]) if token else ticket.get_absolute_help_url())
    return redirect("help-survey", token=survey_token(follow_up.pk))
