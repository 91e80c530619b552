"""The team: a manager invites agents and managers by e-mail and sets their queues and role.

The invitation is a signed link (salt ``tickets.team.invite``) that expires after
``HELPDESK["AGENT_INVITE_MAX_AGE_HOURS"]`` and works once: it carries a stamp of the account's password
hash, which changes when the password is set, and when an invitation is sent again (so the older link
dies). The e-mail is a ``Delivery`` of the transactional ``service`` category, like a password reset.
It lives here rather than in core because the queues are the tickets app's.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.models import User
from core.policies import can, denied_message
from core.roles import AGENTS, MANAGERS
from customers.models import Category, Delivery
from customers.services import delivery_plan
from tickets.models import Queue, QueueMembership

ON_CALL = "On call"
ROLES = {"agent": AGENTS, "manager": MANAGERS}
TEAM_GROUPS = (AGENTS, MANAGERS, ON_CALL)
_SALT = "tickets.team.invite"


def _ensure_may_manage(actor: User) -> None:
    if not can(actor, "agent.invite"):
        raise ApplicationError(denied_message("agent.invite"))


def _ensure_team_member(user: User) -> None:
    """Managers manage the team, never a superuser's account nor a customer's."""
    if user.is_superuser:
        raise ApplicationError("A superuser's account is changed by a superuser.")
    if not user.groups.filter(name__in=[AGENTS, MANAGERS]).exists():
        raise ApplicationError("This account is not on the team.")


def _stamp(user: User) -> str:
    return salted_hmac(_SALT, f"{user.pk}:{user.password}", algorithm="sha256").hexdigest()[:20]


def invite_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "s": _stamp(user)}, salt=_SALT)


def invite_max_age_hours() -> int:
    return int(helpdesk_setting("AGENT_INVITE_MAX_AGE_HOURS"))


@dataclass
class InviteCheck:
    user: User | None
    #: "" when the link is good, else "expired" or "invalid"
    problem: str = ""


def invite_read(*, token: str) -> InviteCheck:
    """Whose invitation this is. Tampered, used, replaced by a newer one or for an inactive account: invalid."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=invite_max_age_hours() * 3600)
    except signing.SignatureExpired:
        return InviteCheck(None, "expired")
    except signing.BadSignature:
        return InviteCheck(None, "invalid")
    user = User.objects.filter(pk=data.get("u"), is_active=True).first() if isinstance(data, dict) else None  # type: ignore[misc]
    if user is None or user.has_usable_password() or data.get("s") != _stamp(user):
        return InviteCheck(None, "invalid")
    return InviteCheck(user)


def _set_role(user: User, *, role: str, on_call: bool) -> None:
    if role not in ROLES:
        raise ApplicationError(f"Unknown role {role!r}.", {"role": "agent or manager"})
    groups = {group.name: group for group in Group.objects.filter(name__in=TEAM_GROUPS)}
    user.groups.remove(*[groups[name] for name in (AGENTS, MANAGERS, ON_CALL) if name in groups])
    wanted = [ROLES[role], *([ON_CALL] if on_call and role == "agent" else [])]
    user.groups.add(*[groups.get(name) or Group.objects.get_or_create(name=name)[0] for name in wanted])
    user.is_staff = role == "manager"  # managers work in the admin too
    user.save(update_fields=["is_staff"])
    for cache in ("_helpdesk_groups", "_perm_cache", "_group_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)


def _set_queues(user: User, queues: Iterable[Queue]) -> None:
    wanted = {queue.pk for queue in queues}
    QueueMembership.objects.filter(agent=user).exclude(queue_id__in=wanted).delete()
    have = set(QueueMembership.objects.filter(agent=user).values_list("queue_id", flat=True))
    QueueMembership.objects.bulk_create([QueueMembership(agent=user, queue_id=pk) for pk in sorted(wanted - have)])


def _send_invitation(user: User, *, actor: User) -> Delivery:
    token = invite_token(user)
    hours = invite_max_age_hours()
    inviter = actor.get_full_name() if getattr(actor, "pk", None) else "The support team"
    body = (
        f"Hello {user.name or user.email},\n\n"
        f"{inviter} invited you to join the support team. Choose your password here:\n\n"
        f"{settings.SITE_URL}/agent/welcome/{token}/\n\n"
        f"The link works once and for {hours} hours. If you did not expect this, ignore this e-mail."
    )
    return delivery_plan(
        key=f"agent-invite:{user.pk}:{_stamp(user)}",
        category=Category.SERVICE,
        subject="You are invited to the helpdesk",
        body=body,
        recipient=user.email,
        source=f"user:{user.pk}",
    )


@transaction.atomic
def agent_invite(
    *, email: str, name: str, role: str, queues: Iterable[Queue] = (), on_call: bool = False, actor: User
) -> User:
    """A new team member without a password, in the role's group and the queues, e-mailed a set-password link."""
    _ensure_may_manage(actor)
    email = (email or "").strip().lower()
    if "@" not in email:
        raise ApplicationError("A valid e-mail address is required.", {"email": "invalid"})
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            "An account with this e-mail address exists already; a superuser can give it a role in the admin.",
            {"email": "taken"},
        )
    try:
        with transaction.atomic():
            user = User(email=email, name=(name or "").strip(), date_joined=timezone.now())
            user.set_unusable_password()
            user.save()
    except IntegrityError as exc:  # the same address invited twice at once
        raise ApplicationError("An account with this e-mail address exists already.", {"email": "taken"}) from exc
    _set_role(user, role=role, on_call=on_call)
    _set_queues(user, queues)
    _send_invitation(user, actor=actor)
    return user


@transaction.atomic
def agent_invite_resend(*, user: User, actor: User) -> Delivery:
    """A new link for someone who has not set a password yet; the previous link stops working."""
    _ensure_may_manage(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    _ensure_team_member(user)
    if user.has_usable_password():
        raise ApplicationError(f"{user.email} has accepted the invitation already.")
    user.set_unusable_password()  # a new random marker: the old link's stamp no longer matches
    user.save(update_fields=["password"])
    return _send_invitation(user, actor=actor)


@transaction.atomic
def agent_update(*, user: User, role: str, queues: Iterable[Queue], on_call: bool = False, actor: User) -> User:
    """Change a team member's role and queues (never a superuser's)."""
    _ensure_may_manage(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    _ensure_team_member(user)
    if user.pk == getattr(actor, "pk", None) and role != "manager":
        raise ApplicationError("You cannot take your own manager role away; ask another manager.", {"role": role})
    _set_role(user, role=role, on_call=on_call)
    _set_queues(user, queues)
    return user


@transaction.atomic
def agent_accept_invite(*, token: str, password: str) -> User:
    """Set the password of an invitation; the link then stops working."""
    check = invite_read(token=token)
    if check.user is None:
        raise ApplicationError(invite_problem_message(check.problem), {"token": check.problem})
    user = User.objects.select_for_update().get(pk=check.user.pk)
    if user.has_usable_password():  # accepted in another tab meanwhile
        raise ApplicationError(invite_problem_message("invalid"), {"token": "invalid"})
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), {"password": exc.messages}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def invite_problem_message(problem: str) -> str:
    if problem == "expired":
        return "This invitation has expired. Ask your manager to send you a new one."
    return (
        "This invitation link is not valid: it may have been used already, replaced by a newer one, "
        "or copied incompletely. Ask your manager to send you a new one."
    )
