"""The team pages under /agent/team/ (managers) and the invitation's set-password page."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.policies import capability_required
from core.types import AuthedRequest
from tickets.selectors import team_list, team_member_get
from tickets.services.team import (
    ON_CALL,
    agent_accept_invite,
    agent_invite,
    agent_invite_resend,
    agent_update,
    invite_max_age_hours,
    invite_problem_message,
    invite_read,
)
from tickets.team_forms import AcceptInviteForm, TeamInviteForm, TeamMemberForm


def _role_of(user: Any) -> str:
    return "manager" if any(group.name == "Managers" for group in user.groups.all()) else "agent"


@capability_required("agent.invite")
def team_list_view(request: AuthedRequest) -> HttpResponse:
    rows = [
        {
            "user": user,
            "role": _role_of(user),
            "on_call": any(group.name == ON_CALL for group in user.groups.all()),
            "queues": [membership.queue for membership in user.queue_memberships.all()],
            "status": "deactivated"
            if not user.is_active
            else "invited"
            if not user.has_usable_password()
            else "active",
        }
        for user in team_list()
    ]
    return render(request, "tickets/team_list.html", {"rows": rows})


@capability_required("agent.invite")
def team_invite_view(request: AuthedRequest) -> HttpResponse:
    form = TeamInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = agent_invite(**form.cleaned_data, actor=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, f"{user.email} is invited; the e-mail is on its way.")
            return redirect("agent-team")
    status = 400 if request.method == "POST" else 200
    return render(request, "tickets/team_form.html", {"form": form, "member": None}, status=status)


@capability_required("agent.invite")
def team_member_view(request: AuthedRequest, user_id: int) -> HttpResponse:
    member = team_member_get(user_id=user_id)
    initial = {
        "role": _role_of(member),
        "queues": [membership.queue for membership in member.queue_memberships.all()],
        "on_call": any(group.name == ON_CALL for group in member.groups.all()),
    }
    form = TeamMemberForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            agent_update(user=member, **form.cleaned_data, actor=request.user)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, f"{member.email} is saved.")
            return redirect("agent-team")
    status = 400 if request.method == "POST" else 200
    return render(request, "tickets/team_form.html", {"form": form, "member": member}, status=status)


@require_POST
@capability_required("agent.invite")
def team_resend_view(request: AuthedRequest, user_id: int) -> HttpResponse:
    member = team_member_get(user_id=user_id)
    try:
        agent_invite_resend(user=member, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"A new invitation is on its way to {member.email}; the previous link no longer works."
        )
    return redirect("agent-team")


def invite_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the invitation's link. A bad or expired link says so, and who can send a new one."""
    check = invite_read(token=token)
    if check.user is None:
        context = {"problem": invite_problem_message(check.problem)}
        return render(request, "tickets/team_welcome.html", context, status=410 if check.problem == "expired" else 404)
    form = AcceptInviteForm(request.POST or None, user=check.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = agent_accept_invite(token=token, password=form.cleaned_data["password1"])
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            login(request, user, backend="core.auth.EmailBackend")
            messages.success(request, "Welcome to the team! Your password is set.")
            return redirect("agent-home")
    context = {"form": form, "invited": check.user, "hours": invite_max_age_hours()}
    return render(request, "tickets/team_welcome.html", context, status=400 if form.errors else 200)
